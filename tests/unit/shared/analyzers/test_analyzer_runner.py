"""The analyzer runner: the sandbox, the repository's own Ruff settings, per-path rule
selection from .reviewflow.yml, the tools' JSON formats, and what never runs from a PR."""

import json
import sys
from pathlib import Path

import pytest

from shared.analyzers.catalog import CURATED, TOOLS, known_rules, rules_from_installed_tools
from shared.analyzers.parsers import (
    Edit,
    ToolOutputError,
    apply_edits,
    attach_rewrites,
    parse_detect_secrets,
    parse_oxlint,
    parse_ruff,
    plausible_secret,
    rewrite_blocks,
    secret_key,
)
from shared.analyzers.runner import (
    find_tool,
    oxlint_config,
    repo_ruff_settings,
    ruff_config_text,
    run_analyzers,
)
from shared.analyzers.sandbox import minimal_env, run_tool
from shared.analyzers.selection import rules_for_path, selection
from shared.config import ConfigError, resolve_config
from shared.models import Category, ChangedFile, FileStatus, Severity, Suggestion
from tests.unit.shared.analysis.conftest import build_change


def _run(
    files: dict[str, str], yml: str = "", repo_configs: dict[str, str] | None = None
) -> list[Suggestion]:
    changed = [build_change(path, text) for path, text in files.items()]
    config = resolve_config([(".reviewflow.yml", yml)])
    lines = {f.path: added for f, added in changed}
    report = run_analyzers([f for f, _ in changed], lines, repo_configs or {}, config)
    assert all(run.status == "ok" for run in report.runs), report.runs
    return report.findings


# ---------------------------------------------------------------------------- catalog


def test_rule_lists_match_the_installed_tools() -> None:
    for name, rules in rules_from_installed_tools().items():
        tool = {"ruff-rules": "ruff", "oxlint-rules": "oxlint"}.get(name, "detect-secrets")
        assert known_rules(tool) == frozenset(rules), f"regenerate data/{name}.txt"  # type: ignore[arg-type]


def test_every_curated_rule_exists_in_its_tool() -> None:
    for tool in TOOLS:
        assert set(CURATED[tool]) <= known_rules(tool), tool


def test_the_binaries_are_the_pinned_wheels_next_to_this_interpreter() -> None:
    for tool in TOOLS:
        found = find_tool(tool)
        assert found is not None
        assert Path(found).parent == Path(sys.executable).parent


# ---------------------------------------------------------------------------- sandbox


def test_sandbox_environment_is_minimal(tmp_path: Path) -> None:
    result = run_tool(["/usr/bin/env"], tmp_path, 10, 256)
    names = {line.split("=", 1)[0] for line in result.stdout.splitlines()}
    assert names == set(minimal_env(tmp_path))
    assert result.returncode == 0 and not result.timed_out


def test_sandbox_kills_a_tool_past_its_time(tmp_path: Path) -> None:
    result = run_tool(["/bin/sleep", "30"], tmp_path, 0.5, 256)
    assert result.timed_out and result.returncode is None
    assert result.seconds < 5


def test_sandbox_limits_memory(tmp_path: Path) -> None:
    script = "x = bytearray(600 * 1024 * 1024); print('allocated')"
    result = run_tool([sys.executable, "-c", script], tmp_path, 30, 256)
    assert "allocated" not in result.stdout
    assert result.returncode != 0
    assert "MemoryError" in result.stderr


def test_sandbox_has_no_network(tmp_path: Path) -> None:
    script = (
        "import socket\n"
        "s = socket.socket()\n"
        "s.settimeout(2)\n"
        "try:\n"
        "    s.connect(('127.0.0.1', 9))\n"
        "except OSError as e:\n"
        "    print(type(e).__name__, e.errno)\n"
    )
    result = run_tool([sys.executable, "-c", script], tmp_path, 30, 512)
    # in a fresh network namespace even the loopback is down: "network is unreachable"
    assert result.stdout.split() == ["OSError", "101"], result.stdout + result.stderr


# ---------------------------------------------------------------------------- parsers


def test_parse_ruff_keeps_rule_location_url_and_fix() -> None:
    output = json.dumps(
        [
            {
                "code": "F632",
                "filename": "/tmp/t/app/a.py",
                "location": {"row": 2, "column": 12},
                "end_location": {"row": 2, "column": 30},
                "message": "Use `==` to compare constant literals",
                "url": "https://docs.astral.sh/ruff/rules/is-literal",
                "fix": {
                    "applicability": "safe",
                    "edits": [
                        {
                            "content": "==",
                            "location": {"row": 2, "column": 17},
                            "end_location": {"row": 2, "column": 19},
                        }
                    ],
                },
            },
            {"code": None, "filename": "/tmp/t/app/a.py", "message": "SyntaxError"},
        ]
    )
    (finding,) = parse_ruff(output, "/tmp/t")
    assert (finding.rule, finding.path, finding.start_line, finding.end_line) == (
        "F632",
        "app/a.py",
        2,
        2,
    )
    assert finding.doc_url == "https://docs.astral.sh/ruff/rules/is-literal"
    assert finding.edits == (Edit(2, 17, 2, 19, "=="),)


def test_parse_oxlint_turns_byte_spans_into_lines() -> None:
    text = "const a = 1;\nconst é = 2;\nif (a == é) {}\n"
    offset = text.encode().index(b"==")
    output = json.dumps(
        {
            "diagnostics": [
                {
                    "message": "Expected === and instead saw ==",
                    "code": "eslint(eqeqeq)",
                    "url": "https://oxc.rs/docs/guide/usage/linter/rules/eslint/eqeqeq.html",
                    "filename": "web/a.js",
                    "labels": [{"span": {"offset": offset, "length": 2}}],
                }
            ]
        }
    )
    (finding,) = parse_oxlint(output, {"web/a.js": text})
    assert (finding.rule, finding.start_line, finding.end_line) == ("eslint/eqeqeq", 3, 3)


def test_parse_detect_secrets_keeps_plugin_and_line_only() -> None:
    output = json.dumps(
        {
            "results": {
                "app/s.py": [
                    {
                        "type": "AWS Access Key",
                        "filename": "app/s.py",
                        "hashed_secret": "25910f981e85ca04baf359199dd0bd4a3ae738b6",
                        "line_number": 3,
                    }
                ]
            }
        }
    )
    (finding,) = parse_detect_secrets(output)
    assert (finding.rule, finding.path, finding.start_line) == ("AWSKeyDetector", "app/s.py", 3)
    assert "25910f98" not in repr(finding)


@pytest.mark.parametrize(
    "parse", [lambda o: parse_ruff(o, "/"), lambda o: parse_oxlint(o, {}), parse_detect_secrets]
)
def test_garbage_output_is_an_error(parse: object) -> None:
    with pytest.raises(ToolOutputError):
        parse("not json {")  # type: ignore[operator]


def test_apply_edits_returns_the_touched_rows_rewritten() -> None:
    text = "def f(a, b=[]):\n    b.append(a)\n    return b\n"
    edits = [Edit(1, 12, 1, 14, "None"), Edit(2, 1, 2, 1, "    if b is None:\n        b = []\n")]
    assert apply_edits(text, edits) == (
        1,
        2,
        "def f(a, b=None):\n    if b is None:\n        b = []\n    b.append(a)",
    )


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"', "AWS_ACCESS_KEY_ID"),
        ("  password: hunter2hunter2", "password"),
        ('  "token": "ghp_abc",', "token"),
        ("export const signingKey = `-----BEGIN RSA PRIVATE KEY-----", "signingKey"),
        ("AKIAIOSFODNN7EXAMPLE", ""),
    ],
)
def test_secret_key_is_the_name_never_the_value(line: str, key: str) -> None:
    assert secret_key(line) == key


def test_rewrite_blocks_line_by_line_where_the_fix_keeps_the_line_count() -> None:
    before = "a\nb == c\nd\ne == f\ng\n"
    after = "a\nb === c\nd\ne === f\ng\n"
    assert rewrite_blocks(before, after) == [(2, 2, "b === c"), (4, 4, "e === f")]
    assert rewrite_blocks("a\nx\ny\nb\n", "a\nz\nb\n") == [(2, 3, "z")]
    assert rewrite_blocks("a\ndebugger;\nb\n", "a\nb\n") == []  # a removal only


def _finding(line: int, rule: str = "eslint/eqeqeq") -> Suggestion:
    return Suggestion(
        path="a.js",
        start_line=line,
        end_line=line,
        category=Category.BUG,
        severity=Severity.MEDIUM,
        message="m",
        rule=rule,
        source="analyzer",
    )


def test_attach_rewrites_only_when_one_finding_owns_changed_lines() -> None:
    before = "a\nb == c\nd == e; debugger;\nf == g\n"
    after = "a\nb === c\nd === e; \nf === g\n"
    findings = [_finding(2), _finding(3), _finding(3, "eslint/no-debugger"), _finding(4)]
    changed = {"a.js": {1, 2, 3}}
    out = attach_rewrites(findings, {"a.js": before}, {"a.js": after}, changed)
    assert [(s.start_line, s.replacement) for s in out] == [
        (2, "b === c"),
        (3, None),  # two findings share the line
        (3, None),
        (4, None),  # line 4 is not part of the change
    ]


def test_oxlint_fixes_become_replacements() -> None:
    js = "export function f(a) {\n  return a == 2;\n}\n"
    (finding,) = _run({"web/a.js": js})
    assert (finding.rule, finding.replacement) == ("eslint/eqeqeq", "  return a === 2;")


@pytest.mark.parametrize(
    ("line", "plausible"),
    [
        ("API_TOKEN = 'ghp_4f9A1c8B2d7E6a5F'", True),
        ('DB_PASSWORD = "s3cr3tP4ssw0rd!"', True),
        ("TOKEN_ENV = 'SERVICE_API_TOKEN'", False),
        ("password = 'short'", False),
        ("RESET_PASSWORD = 'https://example.org/reset'", False),
        ("password = '${DB_PASSWORD}'", False),
        ("password = 'changeme-please'", False),
    ],
)
def test_plausible_secret(line: str, plausible: bool) -> None:
    assert plausible_secret(line) is plausible


# ---------------------------------------------------------------------------- configs


def test_ruff_config_keeps_the_repository_ignores_and_takes_our_selection() -> None:
    pyproject = (
        "[project]\nname = 'x'\n[tool.ruff]\nline-length = 120\nextend = '/etc/other.toml'\n"
        "[tool.ruff.lint]\nselect = ['ALL']\nignore = ['S101']\n"
        "[tool.ruff.lint.per-file-ignores]\n'scripts/*' = ['S602']\n"
    )
    settings = repo_ruff_settings({"pyproject.toml": pyproject})
    text = ruff_config_text(settings, ["S602", "B006"])
    assert "extend" not in text and "ALL" not in text and "line-length" not in text
    assert 'select = ["B006", "S602"]' in text
    assert 'ignore = ["S101"]' in text
    assert '"scripts/*" = ["S602"]' in text


def test_repository_noqa_per_file_ignores_and_excludes_are_honoured() -> None:
    shell = "import subprocess\n\n\ndef run(cmd):\n    subprocess.run(cmd, shell=True){}\n"
    files = {
        "scripts/deploy.py": shell.format(""),
        "app/run.py": shell.format(""),
        "app/quiet.py": shell.format("  # noqa: S602"),
    }
    files["migrations/0001.py"] = shell.format("")
    pyproject = (
        "[tool.ruff]\nextend-exclude = ['migrations']\n"
        "[tool.ruff.lint.per-file-ignores]\n'scripts/*' = ['S602']\n"
    )
    findings = _run(files, repo_configs={"pyproject.toml": pyproject})
    assert [(s.path, s.rule) for s in findings] == [("app/run.py", "S602")]


def test_oxlint_never_reads_the_pull_requests_config() -> None:
    # a PR's oxlint config with a JS plugin (code) and every rule off: neither is used
    rc = json.dumps({"jsPlugins": ["./evil.js"], "rules": {"no-eval": "off"}})
    files = {
        ".oxlintrc.json": rc,
        "evil.js": "require('fs').writeFileSync('/tmp/reviewflow-pwned', 'x');\n",
        "web/a.js": "export const f = (s) => eval(s);\n",
    }
    findings = _run(files)
    assert [(s.path, s.rule) for s in findings] == [("web/a.js", "eslint/no-eval")]
    assert not Path("/tmp/reviewflow-pwned").exists()


def test_oxlint_config_holds_only_our_rules() -> None:
    config = oxlint_config(["eslint/eqeqeq", "react/no-danger"])
    assert config["plugins"] == ["eslint", "react"]
    assert set(config["categories"].values()) == {"off"}
    assert config["rules"] == {
        "eqeqeq": ["error", "always", {"null": "ignore"}],
        "react/no-danger": "error",
    }
    assert "jsPlugins" not in config


# ---------------------------------------------------------------------------- selection


YML = """\
analyzers:
  ruff:
    disabledRules: [S113]
    extraRules: [S324]
  oxlint:
    enabled: false
overrides:
  - paths: ["legacy/**"]
    analyzers:
      ruff: {disabledRules: [S6]}
  - paths: ["web/admin/**"]
    analyzers:
      oxlint: {enabled: true, extraRules: [no-console]}
"""


def test_per_path_rules() -> None:
    config = resolve_config([(".reviewflow.yml", YML)])
    app = rules_for_path(config, "ruff", "app/x.py")
    assert "S324" in app.include and "S113" in app.exclude and app.enabled
    legacy = rules_for_path(config, "ruff", "legacy/x.py")
    assert "S6" in legacy.exclude
    assert not rules_for_path(config, "oxlint", "web/a.js").enabled
    admin = rules_for_path(config, "oxlint", "web/admin/a.js")
    assert admin.enabled and "eslint/no-console" in admin.include
    chosen = selection(config, "ruff", ["app/x.py", "legacy/x.py"])
    assert chosen.applies("app/x.py", "S608") and not chosen.applies("legacy/x.py", "S608")
    assert not chosen.applies("app/x.py", "S113") and chosen.applies("app/x.py", "S324")


def test_configuration_turns_tools_and_rules_on_and_off_per_path() -> None:
    py = "import hashlib\n\n\ndef h(b, c):\n    c.execute(f'SELECT * FROM t WHERE a = {b}')\n"
    py += "    return hashlib.md5(b).hexdigest()\n"
    js = "export const f = (s) => eval(s);\n"
    files = {"app/x.py": py, "legacy/x.py": py, "web/a.js": js, "web/admin/a.js": js}
    found = {(s.path, s.rule) for s in _run(files, YML)}
    assert found == {
        ("app/x.py", "S608"),
        ("app/x.py", "S324"),
        ("legacy/x.py", "S324"),
        ("web/admin/a.js", "eslint/no-eval"),
    }


def test_analyzers_off() -> None:
    file, lines = build_change("app/x.py", "def f(a=[]):\n    return a\n")
    config = resolve_config([(".reviewflow.yml", "analyzers:\n  enabled: false\n")])
    report = run_analyzers([file], {file.path: lines}, {}, config)
    assert report.findings == []
    assert [(r.tool, r.status) for r in report.runs] == [(t, "skipped") for t in TOOLS]


@pytest.mark.parametrize(
    ("yml", "key"),
    [
        ("analyzers:\n  semgrep: {}\n", "analyzers.semgrep"),
        ("analyzers:\n  ruff:\n    extraRules: [XYZ123]\n", "analyzers.ruff.extraRules"),
        ("analyzers:\n  oxlint:\n    disabledRules: [no-such-rule]\n",
         "analyzers.oxlint.disabledRules"),
        ("analyzers:\n  detectSecrets:\n    extraRules: [MagicDetector]\n",
         "analyzers.detectSecrets.extraRules"),
        ("overrides:\n  - paths: [a]\n    analyzers: {bandit: {}}\n",
         "overrides.0.analyzers.bandit"),
    ],
)  # fmt: skip
def test_unknown_tools_and_rules_are_errors_naming_the_key(yml: str, key: str) -> None:
    with pytest.raises(ConfigError) as error:
        resolve_config([(".reviewflow.yml", yml)])
    assert error.value.key == key


def test_removed_and_binary_files_are_not_analyzed() -> None:
    removed = ChangedFile(path="a.py", status=FileStatus.REMOVED, content="eval(x)\n")
    binary = ChangedFile(path="b.py", status=FileStatus.ADDED, content="eval(x)\n", binary=True)
    escaping = ChangedFile(path="../c.py", status=FileStatus.ADDED, content="eval(x)\n")
    config = resolve_config([])
    report = run_analyzers([removed, binary, escaping], {"a.py": {1}, "b.py": {1}}, {}, config)
    assert report.findings == [] and report.runs == []


def _fake_tool(tmp_path: Path, name: str, body: str) -> str:
    script = tmp_path / name
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return str(script)


def test_a_tool_that_fails_or_hangs_is_reported_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shared.analyzers.runner as runner

    tools = {
        "ruff": _fake_tool(tmp_path, "ruff", "echo 'garbage'; echo 'ruff: broken' >&2"),
        "oxlint": _fake_tool(tmp_path, "oxlint", "exec /bin/sleep 30"),
        "detect-secrets": _fake_tool(tmp_path, "ds", "echo 'AKIA-in-stderr' >&2; exit 3"),
    }
    monkeypatch.setattr(runner, "find_tool", lambda tool: tools[tool])
    files = [
        build_change("a.py", "x = 1\n")[0],
        build_change("a.js", "export const x = 1;\n")[0],
    ]
    config = resolve_config([(".reviewflow.yml", "analyzers:\n  timeoutSeconds: 1\n")])
    report = run_analyzers(files, {"a.py": {1}, "a.js": {1}}, {}, config)
    runs = {r.tool: r for r in report.runs}
    assert report.findings == []
    assert runs["ruff"].status == "failed" and "ruff: broken" in runs["ruff"].detail
    assert runs["oxlint"].status == "timeout" and runs["oxlint"].seconds < 10
    assert runs["detect-secrets"].status == "failed"
    assert "AKIA" not in runs["detect-secrets"].detail
