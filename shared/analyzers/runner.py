"""Build the temporary tree and run the analyzers on it.

The tree holds the head versions of the changed text files, nothing else of the pull request.
Ruff gets a configuration written by us from the repository's Ruff settings (read as TOML
data; only the keys that decide what is reported: per-file ignores, ignored rules, target
version, plugin settings), with our rule selection. oxlint gets a configuration written by us
alone: the pull request's oxlint or ESLint configuration is never read (it may hold plugins,
that is code). detect-secrets runs without its network verification.

The three tools run at once (each a subprocess; see :mod:`shared.analyzers.sandbox`).
"""

import json
import shutil
import sys
import tempfile
import tomllib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import Field

from shared.analyzers.catalog import TOOLS, Tool, known_rules
from shared.analyzers.parsers import (
    ToolFinding,
    ToolOutputError,
    attach_rewrites,
    parse_detect_secrets,
    parse_oxlint,
    parse_ruff,
    to_suggestion,
)
from shared.analyzers.sandbox import ToolResult, run_tool
from shared.analyzers.selection import ToolSelection, selection
from shared.config import ReviewConfig
from shared.models import ChangedFile, FileStatus, Frozen, Suggestion

PYTHON_SUFFIXES = frozenset({".py", ".pyi"})
JS_SUFFIXES = frozenset({".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx"})
# files the repository's Ruff settings live in (read from the head, as data)
RUFF_CONFIG_FILES = ("pyproject.toml", "ruff.toml", ".ruff.toml")
# the Ruff settings kept from the repository: what decides whether a finding is reported
_RUFF_TOP_KEYS = (
    "target-version",
    "builtins",
    "exclude",
    "extend-exclude",
    "per-file-ignores",
    "extend-per-file-ignores",
)
_RUFF_LINT_KEYS = (
    "ignore",
    "extend-ignore",
    "per-file-ignores",
    "extend-per-file-ignores",
    "external",
    "allowed-confusables",
    "flake8-bandit",
    "flake8-bugbear",
    "pyflakes",
    "typing-modules",
)
# oxlint plugins whose rules we may select
_OXLINT_PLUGINS = ("eslint", "oxc", "typescript", "unicorn", "react", "promise", "import", "node")
_OXLINT_OPTIONS: dict[str, list[Any]] = {
    "eqeqeq": ["always", {"null": "ignore"}],
    "no-empty": [{"allowEmptyCatch": False}],
}


class ToolRun(Frozen):
    tool: Tool
    status: Literal["ok", "failed", "timeout", "skipped"]
    files: int = 0
    findings: int = 0
    seconds: float = 0.0
    detail: str = ""


class AnalyzerReport(Frozen):
    """What the analyzers found on the changed lines, and how each run went."""

    findings: list[Suggestion] = Field(default_factory=list)
    runs: list[ToolRun] = Field(default_factory=list)


def find_tool(tool: Tool) -> str | None:
    """The pinned binary: Ruff's own finder, else next to this interpreter, else on PATH."""
    if tool == "ruff":
        try:
            from ruff import find_ruff_bin

            return str(find_ruff_bin())
        except (ImportError, FileNotFoundError):
            pass
    beside = Path(sys.executable).parent / tool
    if beside.is_file():
        return str(beside)
    return shutil.which(tool)


# ---------------------------------------------------------------------------- configs


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        pairs = ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{" + pairs + "}"
    raise ValueError(f"not a TOML value: {type(value).__name__}")


def repo_ruff_settings(configs: Mapping[str, str]) -> dict[str, Any]:
    """The repository's Ruff settings (root ``ruff.toml``/``.ruff.toml``, else
    ``pyproject.toml``'s ``[tool.ruff]``), limited to the keys we honour, as
    ``{"": top-level keys, "lint": lint keys}``. Unreadable files count as absent."""
    table: dict[str, Any] | None = None
    for name in (".ruff.toml", "ruff.toml", "pyproject.toml"):
        text = configs.get(name)
        if text is None:
            continue
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            continue
        found = data.get("tool", {}).get("ruff") if name == "pyproject.toml" else data
        if isinstance(found, dict):
            table = found
            break
    if table is None:
        return {"": {}, "lint": {}}
    lint = table.get("lint") if isinstance(table.get("lint"), dict) else {}
    assert isinstance(lint, dict)
    top = {k: table[k] for k in _RUFF_TOP_KEYS if k in table}
    kept_lint = {k: lint[k] for k in _RUFF_LINT_KEYS if k in lint}
    # legacy top-level spellings of lint settings
    for key in ("ignore", "extend-ignore", "external", "flake8-bandit", "flake8-bugbear"):
        if key in table and key not in kept_lint:
            kept_lint[key] = table[key]
    for key in ("per-file-ignores", "extend-per-file-ignores"):
        if key in top:
            kept_lint.setdefault(key, top.pop(key))
    return {"": top, "lint": kept_lint}


def ruff_config_text(settings: Mapping[str, Any], select: Sequence[str]) -> str:
    """A ruff.toml with the repository's settings and our selection."""
    lines: list[str] = []
    for key, value in settings.get("", {}).items():
        lines.append(f"{key} = {_toml_value(value)}")
    lines.append("[lint]")
    lines.append(f"select = {_toml_value(sorted(select))}")
    for key, value in settings.get("lint", {}).items():
        if isinstance(value, dict):
            continue
        lines.append(f"{key} = {_toml_value(value)}")
    for key, value in settings.get("lint", {}).items():
        if isinstance(value, dict):
            lines.append(f"[lint.{key}]")
            lines += [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()]
    return "\n".join(lines) + "\n"


def oxlint_config(rules: Sequence[str]) -> dict[str, Any]:
    """Our oxlint configuration: only the selected rules, no categories, no JS plugins."""
    plugins = sorted({rule.split("/")[0] for rule in rules} & set(_OXLINT_PLUGINS))
    configured: dict[str, Any] = {}
    for rule in sorted(rules):
        plugin, _, name = rule.partition("/")
        key = name if plugin == "eslint" else rule
        options = _OXLINT_OPTIONS.get(key)
        configured[key] = ["error", *options] if options else "error"
    return {
        "plugins": plugins or ["eslint"],
        "categories": {
            c: "off"
            for c in ("correctness", "suspicious", "pedantic", "perf", "style", "restriction")
        },
        "rules": configured,
    }


# ---------------------------------------------------------------------------- tree


def _safe_relative(path: str) -> PurePosixPath | None:
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        return None
    return pure


def text_files(files: Sequence[ChangedFile]) -> dict[str, str]:
    """Head text of each changed file the analyzers can read."""
    return {
        f.path: f.content
        for f in files
        if f.content is not None
        and not f.binary
        and f.status != FileStatus.REMOVED
        and _safe_relative(f.path) is not None
    }


def write_tree(root: Path, contents: Mapping[str, str]) -> None:
    for path, text in contents.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


# ---------------------------------------------------------------------------- running


class _Job:
    def __init__(self, tool: Tool, argv: list[str], files: list[str]) -> None:
        self.tool = tool
        self.argv = argv
        self.files = files
        # oxlint: the files as its own fixes rewrite them (for replacements)
        self.fixed: dict[str, str] = {}


# exit codes of a run that worked (oxlint exits 1 when it reports something)
_OK_EXIT_CODES: dict[Tool, tuple[int, ...]] = {
    "ruff": (0,),
    "oxlint": (0, 1),
    "detect-secrets": (0,),
}
# oxlint's JSON output carries no fixes: a second run applies them to a copy of the files
_OXLINT_FIX_FLAGS = ("--fix", "--fix-suggestions", "--fix-dangerously")


def _jobs(
    work: Path,
    tree: Path,
    contents: Mapping[str, str],
    selections: Mapping[Tool, ToolSelection],
    ruff_settings: Mapping[str, Any],
) -> tuple[list[_Job], list[ToolRun]]:
    jobs: list[_Job] = []
    skipped: list[ToolRun] = []
    by_tool: dict[Tool, list[str]] = {
        "ruff": [p for p in contents if PurePosixPath(p).suffix in PYTHON_SUFFIXES],
        "oxlint": [p for p in contents if PurePosixPath(p).suffix in JS_SUFFIXES],
        "detect-secrets": list(contents),
    }
    for tool in TOOLS:
        chosen = selections[tool]
        files = sorted(p for p in by_tool[tool] if chosen.runs_on(p))
        binary = find_tool(tool)
        if not files or not chosen.run_rules:
            continue
        if binary is None:
            skipped.append(ToolRun(tool=tool, status="skipped", detail="not installed"))
            continue
        if tool == "ruff":
            config = tree / ".reviewflow-ruff.toml"
            config.write_text(ruff_config_text(ruff_settings, chosen.run_rules))
            # --force-exclude: the repository's `exclude` applies to files named on the line
            argv = [binary, "check", "--no-cache", "--force-exclude", "--config", str(config)]
            argv += ["--output-format", "json", "--exit-zero", "--no-fix", "--", *files]
        elif tool == "oxlint":
            config = work / "oxlintrc.json"
            config.write_text(json.dumps(oxlint_config(chosen.run_rules)))
            argv = [binary, "-c", str(config), "--disable-nested-config", "--no-ignore"]
            argv += ["--format", "json", "--threads", "2", *files]
        else:
            plugins = known_rules("detect-secrets")
            argv = [binary, "scan", "--no-verify"]
            for plugin in sorted(plugins - set(chosen.run_rules)):
                argv += ["--disable-plugin", plugin]
            argv += ["--", *files]
        jobs.append(_Job(tool, argv, files))
    return jobs, skipped


def _parse(
    tool: Tool, result: ToolResult, contents: Mapping[str, str], tree: Path
) -> list[ToolFinding]:
    if tool == "ruff":
        return parse_ruff(result.stdout, str(tree))
    if tool == "oxlint":
        return parse_oxlint(result.stdout, contents)
    return parse_detect_secrets(result.stdout)


def _oxlint_fixed(
    job: _Job, work: Path, contents: Mapping[str, str], limits: tuple[float, int, Path]
) -> dict[str, str]:
    """The JS/TS files after oxlint's own fixes (a copy: the tree stays as it was)."""
    copy = work / "fixed"
    write_tree(copy, {path: contents[path] for path in job.files})
    argv = [a for a in job.argv if a not in ("--format", "json")]
    files_at = len(argv) - len(job.files)
    argv = [*argv[:files_at], *_OXLINT_FIX_FLAGS, *argv[files_at:]]
    result = run_tool(argv, copy, *limits)
    if result.timed_out:
        return {}
    fixed: dict[str, str] = {}
    for path in job.files:
        try:
            fixed[path] = (copy / path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
    return fixed


def _rule_filter(chosen: ToolSelection) -> Callable[[ToolFinding], bool]:
    def keep(finding: ToolFinding) -> bool:
        return chosen.applies(finding.path, finding.rule)

    return keep


def run_analyzers(
    files: Sequence[ChangedFile],
    changed_lines: Mapping[str, set[int]],
    repo_configs: Mapping[str, str],
    config: ReviewConfig,
) -> AnalyzerReport:
    """Run the enabled analyzers on the changed files; keep findings on changed lines."""
    settings = config.analyzers
    if not settings.enabled:
        return AnalyzerReport(
            runs=[ToolRun(tool=t, status="skipped", detail="disabled") for t in TOOLS]
        )
    contents = text_files(files)
    selections = {tool: selection(config, tool, list(contents)) for tool in TOOLS}
    with tempfile.TemporaryDirectory(prefix="reviewflow-analyzers-") as raw:
        work = Path(raw)
        tree = work / "tree"
        tree.mkdir()
        write_tree(tree, contents)
        jobs, runs = _jobs(work, tree, contents, selections, repo_ruff_settings(repo_configs))

        def go(job: _Job) -> ToolResult:
            limits = (settings.timeout_seconds, settings.memory_mb, work)
            result = run_tool(job.argv, tree, *limits)
            if job.tool == "ruff" and result.returncode == 2:
                # the repository's settings were not accepted: our selection alone
                (tree / ".reviewflow-ruff.toml").write_text(
                    ruff_config_text({}, selections["ruff"].run_rules)
                )
                result = run_tool(job.argv, tree, *limits)
            if job.tool == "oxlint" and '"code"' in result.stdout and not result.timed_out:
                job.fixed = _oxlint_fixed(job, work, contents, limits)
            return result

        with ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
            results = list(pool.map(go, jobs))

    findings: list[Suggestion] = []
    for job, result in zip(jobs, results, strict=True):
        if result.timed_out:
            runs.append(
                ToolRun(
                    tool=job.tool,
                    status="timeout",
                    files=len(job.files),
                    seconds=round(result.seconds, 3),
                    detail=f"no result within {settings.timeout_seconds:g} s",
                )
            )
            continue
        try:
            if result.returncode not in _OK_EXIT_CODES[job.tool]:
                raise ToolOutputError(f"exit code {result.returncode}")
            raw_findings = _parse(job.tool, result, contents, tree)
        except ToolOutputError as exc:
            # the secret scanner's own words may quote what it scanned: never kept
            errors = "" if job.tool == "detect-secrets" else result.stderr
            detail = (errors.strip().splitlines() or [""])[-1][:300]
            runs.append(
                ToolRun(
                    tool=job.tool,
                    status="failed",
                    files=len(job.files),
                    seconds=round(result.seconds, 3),
                    detail=f"{exc}: {detail}" if detail else str(exc),
                )
            )
            continue
        keep = _rule_filter(selections[job.tool])
        mine: list[Suggestion] = []
        for finding in raw_findings:
            suggestion = to_suggestion(
                finding,
                changed_lines.get(finding.path, set()),
                contents.get(finding.path, ""),
                keep,
            )
            if suggestion is not None:
                mine.append(suggestion)
        if job.fixed:
            mine = attach_rewrites(mine, contents, job.fixed, changed_lines)
        findings += mine
        kept = len(mine)
        runs.append(
            ToolRun(
                tool=job.tool,
                status="ok",
                files=len(job.files),
                findings=kept,
                seconds=round(result.seconds, 3),
            )
        )
    return AnalyzerReport(findings=dedupe(findings), runs=runs)


def dedupe(findings: Sequence[Suggestion]) -> list[Suggestion]:
    """One finding per (path, rule, line), ordered by path and line."""
    unique: dict[tuple[str, str, int], Suggestion] = {}
    for finding in findings:
        unique.setdefault((finding.path, finding.rule, finding.start_line), finding)
    return sorted(unique.values(), key=lambda s: (s.path, s.start_line, s.rule))

