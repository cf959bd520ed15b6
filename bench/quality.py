"""Quality benchmark: the offline review (no LLM, no engine) on a corpus of small changes.

Each case in ``bench/corpus/*.yml`` is a base and a head version of a few files; bug cases name
the one planted problem (file and line, found by a unique text on it), clean cases expect no
finding. For every case the script builds a real git repository in a temporary folder (``main``
= base, ``feature`` = head), runs the review's stage functions in this process in pipeline
order (the light stages of ``workers/light``, the heavy branch bodies of ``workers/heavy`` one
after the other, as ``bench/pipeline.py``'s sequential mode), and scores what was found.

A finding is a hit when it is on the expected file, its lines overlap the expected lines and,
where the case names one, it is of the expected kind of problem (``PROBLEM_KINDS``).
Recall: bug cases with at least one hit / bug cases. Precision: findings that hit / findings.
Per source, a finding counts when it would reach the posting stage (the per-file review's
filter, the default severity filter `medium`); "combined" is what the review actually posted:
analyzer, tree-sitter and PR-level merge, one comment per problem. PR-level findings (no line)
are left out.

It also times a review of a generated 2,000-line change across 40 files (the AST stage alone
and the whole review).

    python bench/quality.py [--case NAME] [--json out.json] [--verbose]
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "corpus"
LLM_ENV = ("REVIEWFLOW_LLM_BASE_URL", "REVIEWFLOW_LLM_API_KEY", "REVIEWFLOW_LLM_MODEL")
SOURCES = ("ruff", "oxlint", "detect-secrets", "analyzers", "tree-sitter", "combined")


class Expect(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str
    line_contains: str
    span: int = Field(1, ge=1)
    kind: str | None = None


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = ""
    description: str
    base: dict[str, str]
    head: dict[str, str]
    expect: list[Expect] = Field(default_factory=list)

    @property
    def language(self) -> str:
        return self.name.split("-")[0]

    def expected_lines(self) -> list[tuple[str, int, int, str | None]]:
        """(path, first, last, kind) of each expected finding, located in the head text."""
        out = []
        for e in self.expect:
            lines = self.head[e.path].splitlines()
            hits = [n for n, text in enumerate(lines, 1) if e.line_contains in text]
            if len(hits) != 1:
                raise ValueError(f"{self.name}: {e.line_contains!r} is on {len(hits)} lines")
            out.append((e.path, hits[0], hits[0] + e.span - 1, e.kind))
        return out


def load_cases(only: str | None = None) -> list[Case]:
    cases = []
    for path in sorted(CORPUS.glob("*.yml")):
        if only and only not in path.stem:
            continue
        case = Case.model_validate(yaml.safe_load(path.read_text()))
        cases.append(case.model_copy(update={"name": path.stem}))
    return cases


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def _write(repo: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        target = repo / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def build_repo(base: dict[str, str], head: dict[str, str], repo: Path) -> Path:
    """A git repository with ``main`` at ``base`` and ``feature`` at ``head``."""
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "bench@example.com")
    _git(repo, "config", "user.name", "bench")
    _write(repo, base)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    _git(repo, "checkout", "-q", "-b", "feature")
    for path in set(base) - set(head):
        (repo / path).unlink()
    _write(repo, head)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "change")
    return repo


# ---------------------------------------------------------------------------- one review


@dataclass
class Review:
    by_source: dict[str, list[Any]] = field(default_factory=dict)
    seconds: float = 0.0
    ast_seconds: float = 0.0
    tool_seconds: dict[str, float] = field(default_factory=dict)


def run_review(repo: Path, loop: asyncio.AbstractEventLoop) -> Review:
    """The offline review of ``main..feature``, stage by stage, in this process."""
    from reviewflow.review import local_target
    from shared.analysis.ast_report import AstReport
    from shared.artifacts import ArtifactStore
    from shared.config import ReviewConfig
    from shared.contract import HEAVY_BRANCHES
    from shared.models import BranchOutcome, Suggestion
    from shared.stages.findings import FileReviewOutput, filter_suggestions, offline_self_check
    from shared.stages.outcome import ReviewResult
    from workers.inprocess import AFTER_HEAVY, BEFORE_HEAVY, heavy_bodies
    from workers.runtime import StageContext, settings

    bodies = heavy_bodies()
    target = local_target(repo, "main", "feature")
    run_id = uuid.uuid4().hex
    v: dict[str, Any] = {
        "reviewRunId": run_id,
        "target": target.model_dump(mode="json"),
        "trigger": "cli",
        "startedAt": time.time(),
    }
    ctx = StageContext(run_id, target, settings(), task_id="0", process_instance_id=run_id)
    store = ArtifactStore(settings().artifacts_dir)
    review = Review()
    started = time.monotonic()
    for stage in BEFORE_HEAVY:
        out = stage(ctx, dict(v))
        out.pop("_detail", None)
        v.update(out)
        if out.get("proceed") is False:
            raise RuntimeError(f"{repo.name}: the review ended early: {out.get('skipReason')}")
    for branch in HEAVY_BRANCHES:
        v[branch.attempt_variable] = 1
        branch_started = time.monotonic()
        outcome: BranchOutcome = loop.run_until_complete(bodies[branch.key](ctx, dict(v), 1))
        if branch.key == "ast":
            review.ast_seconds = time.monotonic() - branch_started
        if outcome.status != "ok":
            raise RuntimeError(f"{repo.name}: heavy stage {branch.key} failed: {outcome.error}")
        v[branch.outcome_variable] = outcome.model_dump(mode="json")
    config = ReviewConfig.model_validate(v["config"])
    ast = store.get(v["astOutcome"]["artifact"], AstReport)
    files_out = store.get(v["fileReviewOutcome"]["artifact"], FileReviewOutput)
    for stage in AFTER_HEAVY:
        out = stage(ctx, dict(v))
        out.pop("_detail", None)
        v.update(out)
    review.seconds = time.monotonic() - started
    result = store.get(v["resultArtifact"], ReviewResult)

    def postable(found: Iterable[Suggestion]) -> list[Suggestion]:
        return [
            s
            for s in found
            if s.severity.rank >= config.for_path(s.path).severity_filter.rank
        ]

    added = {f.path: set(range(1, 100_000)) for f in ast.analyzer_findings}
    analyzers, _ = filter_suggestions(ast.analyzer_findings, config, added, [], offline_self_check)
    analyzers = postable(analyzers)
    for tool in ("ruff", "oxlint", "detect-secrets"):
        review.by_source[tool] = [s for s in analyzers if s.identity.startswith(f"{tool}:")]
    review.by_source["analyzers"] = analyzers
    review.by_source["tree-sitter"] = postable(files_out.suggestions)
    posted = set(result.posted_fingerprints)
    review.by_source["combined"] = [s for s in result.suggestions if s.fingerprint in posted]
    review.tool_seconds = {run.tool: run.seconds for run in ast.analyzer_runs}
    return review


# ---------------------------------------------------------------------------- scoring


@dataclass
class Score:
    findings: int = 0
    hits: int = 0
    cases_found: int = 0
    false_positives: list[str] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)

    def recall(self, bug_cases: int) -> float:
        return self.cases_found / bug_cases if bug_cases else 1.0

    def precision(self) -> float:
        return self.hits / self.findings if self.findings else 1.0


def _overlaps(s: Any, expected: list[tuple[str, int, int, str | None]]) -> bool:
    """On the expected file and lines, and of the expected kind of problem when one is given
    (``shared.stages.findings.PROBLEM_KINDS``; a finding without a rule matches any kind)."""
    from shared.stages.findings import problem_kind

    return any(
        s.path == path
        and s.start_line <= last
        and first <= s.end_line
        and (kind is None or problem_kind(s) in (None, kind))
        for path, first, last, kind in expected
    )


def score(case: Case, review: Review, scores: dict[str, Score]) -> None:
    expected = case.expected_lines()
    for source in SOURCES:
        found = review.by_source.get(source, [])
        entry = scores[source]
        entry.findings += len(found)
        hits = [s for s in found if _overlaps(s, expected)]
        entry.hits += len(hits)
        entry.false_positives += [
            f"{case.name}: {s.path}:{s.start_line} {s.rule or s.category.value}"
            for s in found
            if s not in hits
        ]
        if expected:
            if hits:
                entry.cases_found += 1
            else:
                entry.misses.append(case.name)


# ---------------------------------------------------------------------------- speed


def _py_module(n: int, lines: int) -> str:
    out = [
        f'"""Generated module {n}."""',
        "",
        "from dataclasses import dataclass",
        "",
        "",
        "@dataclass",
        f"class Record{n}:",
        "    key: str",
        "    value: int",
        "",
    ]
    k = 0
    while len(out) < lines - 6:
        out += [
            "",
            f"def transform_{n}_{k}(records: list[Record{n}], factor: int) -> list[int]:",
            "    result = []",
            "    for record in records:",
            "        if record.value > factor:",
            "            result.append(record.value * factor)",
            "        else:",
            "            result.append(record.value + factor)",
            "    return result",
        ]
        k += 1
    return "\n".join(out[:lines]) + "\n"


def _js_module(n: int, lines: int, ts: bool) -> str:
    typed = ": number[]" if ts else ""
    out = [f"// generated module {n}", ""]
    k = 0
    while len(out) < lines - 8:
        out += [
            f"export function transform{n}x{k}(values{typed}, factor{': number' if ts else ''}) {{",
            "  const result = [];",
            "  for (const value of values) {",
            "    if (value > factor) {",
            "      result.push(value * factor);",
            "    } else {",
            "      result.push(value + factor);",
            "    }",
            "  }",
            "  return result;",
            "}",
            "",
        ]
        k += 1
    return "\n".join(out[:lines]) + "\n"


def speed_case(files: int = 40, lines: int = 2000) -> tuple[dict[str, str], dict[str, str]]:
    """A change adding ``lines`` lines in ``files`` files (half Python, a quarter JS, a
    quarter TS) to a repository of 100 other modules."""
    per_file = lines // files
    base = {f"lib/base_{n}.py": _py_module(1000 + n, 60) for n in range(100)}
    head = dict(base)
    for n in range(files):
        if n < files // 2:
            head[f"app/mod_{n}.py"] = _py_module(n, per_file)
        elif n < files * 3 // 4:
            head[f"web/mod_{n}.js"] = _js_module(n, per_file, ts=False)
        else:
            head[f"web/mod_{n}.ts"] = _js_module(n, per_file, ts=True)
    return base, head


# ---------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", help="only cases whose name contains this")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--verbose", action="store_true", help="list misses and false positives")
    parser.add_argument("--no-speed", action="store_true", help="skip the 2,000-line timing")
    args = parser.parse_args()

    for name in LLM_ENV:
        os.environ.pop(name, None)
    work = Path(tempfile.mkdtemp(prefix="reviewflow-quality-"))
    os.environ["REVIEWFLOW_STATE_DIR"] = str(work / "state")
    sys.path.insert(0, str(ROOT))

    cases = load_cases(args.case)
    loop = asyncio.new_event_loop()
    scores = {source: Score() for source in SOURCES}
    seconds: list[float] = []
    ast_seconds: list[float] = []
    for case in cases:
        repo = build_repo(case.base, case.head, work / "repos" / case.name)
        review = run_review(repo, loop)
        score(case, review, scores)
        seconds.append(review.seconds)
        ast_seconds.append(review.ast_seconds)

    bugs = sum(1 for c in cases if c.expect)
    clean = len(cases) - bugs
    by_language: dict[str, int] = {}
    for case in cases:
        if case.expect:
            by_language[case.language] = by_language.get(case.language, 0) + 1
    languages = ", ".join(f"{n} {lang}" for lang, n in sorted(by_language.items()))
    print(f"corpus: {len(cases)} cases, {bugs} with one planted bug ({languages}), {clean} clean")
    print()
    print("| source | findings | hits | bug cases found | recall | precision |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    figures: dict[str, Any] = {"cases": len(cases), "bug_cases": bugs, "clean_cases": clean}
    for source in SOURCES:
        s = scores[source]
        print(
            f"| {source} | {s.findings} | {s.hits} | {s.cases_found}/{bugs} | "
            f"{s.recall(bugs):.0%} | {s.precision():.0%} |"
        )
        figures[source] = {
            "findings": s.findings,
            "hits": s.hits,
            "cases_found": s.cases_found,
            "recall": round(s.recall(bugs), 4),
            "precision": round(s.precision(), 4),
            "misses": s.misses,
            "false_positives": s.false_positives,
        }
    print()
    print(
        f"time per review (offline, in-process, {os.cpu_count()} cores): median "
        f"{statistics.median(seconds):.2f} s, max {max(seconds):.2f} s; AST stage with "
        f"analyzers: median {statistics.median(ast_seconds):.2f} s, max {max(ast_seconds):.2f} s"
    )
    figures["seconds_per_review"] = {
        "median": round(statistics.median(seconds), 3),
        "max": round(max(seconds), 3),
        "ast_median": round(statistics.median(ast_seconds), 3),
    }
    combined = scores["combined"]
    if args.verbose or combined.misses or combined.false_positives:
        print(f"combined misses: {', '.join(combined.misses) or 'none'}")
        print("combined false positives: " + ("; ".join(combined.false_positives) or "none"))
    if args.verbose:
        for source in SOURCES:
            print(f"{source}: misses {scores[source].misses}")
            print(f"{source}: false positives {scores[source].false_positives}")

    if not args.no_speed:
        base, head = speed_case()
        repo = build_repo(base, head, work / "repos" / "speed-2000-lines")
        runs = [run_review(repo, loop)]
        # a second review of a fresh copy: warm caches, as a long-lived worker has them
        repo2 = build_repo(base, head, work / "repos" / "speed-2000-lines-2")
        runs.append(run_review(repo2, loop))
        last = runs[-1]
        tools = ", ".join(f"{t} {s:.2f} s" for t, s in last.tool_seconds.items())
        print()
        print(
            f"2,000 changed lines in 40 files (20 .py, 10 .js, 10 .ts; 100 other modules), "
            f"{os.cpu_count()} cores: AST stage with analyzers {last.ast_seconds:.2f} s "
            f"(first run {runs[0].ast_seconds:.2f} s; tools: {tools}); whole offline review "
            f"{last.seconds:.2f} s"
        )
        figures["speed_2000_lines"] = {
            "ast_seconds": round(last.ast_seconds, 3),
            "ast_seconds_first": round(runs[0].ast_seconds, 3),
            "review_seconds": round(last.seconds, 3),
            "tools": last.tool_seconds,
        }
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
