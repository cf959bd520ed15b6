"""One finding per problem: analyzer, tree-sitter and LLM findings merged (shared/stages/
findings.py ``merge_findings``), and a review of a PR with three planted problems at the stage
level: the AST stage (tree-sitter + the real analyzers) and the inline-comment plan."""

import textwrap

from shared.config import ReviewConfig
from shared.diff import parse_patch
from shared.git.base import PostedComment
from shared.models import (
    BranchOutcome,
    Category,
    ChangedFile,
    FileStatus,
    Severity,
    Suggestion,
)
from shared.stages.ast_stage import ast_stage
from shared.stages.findings import (
    merge_findings,
    plan_inline_comments,
    problem_kind,
    with_analyzer_findings,
)
from shared.stages.outcome import aggregate, decide_verdict
from shared.stages.preparation import RejectedKind
from tests.unit.shared.analysis.conftest import build_change


def sug(
    line: int,
    *,
    source: str = "analyzer",
    rule: str = "",
    cat: Category = Category.SECURITY,
    sev: Severity = Severity.HIGH,
    msg: str = "problem",
    path: str = "app/db.py",
    end: int | None = None,
    replacement: str | None = None,
    identity: str = "",
) -> Suggestion:
    return Suggestion(
        path=path,
        start_line=line,
        end_line=end or line,
        category=cat,
        severity=sev,
        message=msg,
        rule=rule,
        source=source,  # type: ignore[arg-type]
        replacement=replacement,
        doc_url="https://docs.astral.sh/ruff/rules/x" if source == "analyzer" else None,
        identity=identity,
    )


def test_problem_kinds_group_rules_of_different_tools() -> None:
    assert problem_kind(sug(1, rule="S105")) == problem_kind(sug(1, rule="AWSKeyDetector"))
    assert problem_kind(sug(1, rule="S608")) == problem_kind(sug(1, rule="js-sql-injection"))
    assert problem_kind(sug(1, rule="S608")) != problem_kind(sug(1, rule="S105"))
    assert problem_kind(sug(1, rule="")) is None


def test_analyzer_and_llm_on_the_same_problem_become_one() -> None:
    analyzer = sug(5, rule="S608", msg="SQL built from strings.", identity="ruff:S608:x")
    llm = sug(
        4, end=6, source="llm", sev=Severity.CRITICAL, msg="`name` comes from the URL: injection."
    )
    (merged,) = merge_findings([llm], [analyzer])
    assert merged.rule == "S608" and merged.doc_url == analyzer.doc_url
    assert (merged.start_line, merged.end_line) == (5, 5)
    assert merged.severity is Severity.CRITICAL
    assert merged.message == llm.message  # the LLM explains it in context
    assert merged.fingerprint == analyzer.fingerprint


def test_fingerprint_of_a_merged_finding_ignores_the_llms_wording() -> None:
    analyzer = sug(5, rule="S608", identity="ruff:S608:cursor.execute(f'...')")
    first = merge_findings([sug(5, source="llm", msg="Injection here.")], [analyzer])
    second = merge_findings([sug(5, source="llm", msg="This is SQL injection.")], [analyzer])
    assert first[0].fingerprint == second[0].fingerprint


def test_analyzers_on_one_secret_become_one_finding() -> None:
    findings = [
        sug(3, rule="AWSKeyDetector", sev=Severity.CRITICAL, msg="AWS key."),
        sug(3, rule="KeywordDetector", msg="Secret keyword."),
        sug(3, rule="S105", msg="Hard-coded password."),
    ]
    (merged,) = merge_findings(findings)
    assert merged.rule == "AWSKeyDetector" and merged.severity is Severity.CRITICAL


def test_tree_sitter_and_analyzer_merge_and_keep_a_replacement() -> None:
    ours = sug(7, source="offline", rule="js-missing-await", cat=Category.BUG, replacement="x")
    theirs = sug(7, rule="RUF006", cat=Category.BUG)
    (merged,) = merge_findings([ours], [theirs])
    assert merged.rule == "RUF006" and merged.replacement == "x"


def test_different_problems_stay_apart() -> None:
    findings = [
        sug(5, rule="S608"),
        sug(5, rule="S105"),  # same line, another kind
        sug(9, rule="S608"),  # same kind, another line
        sug(5, rule="S608", path="app/other.py"),  # another file
        sug(5, source="llm", cat=Category.PERFORMANCE, msg="slow"),  # another category
    ]
    assert len(merge_findings(findings)) == 5


def test_merged_findings_are_ranked() -> None:
    low = sug(1, rule="E711", cat=Category.BUG, sev=Severity.LOW)
    high = sug(9, rule="S608")
    assert merge_findings([low, high]) == [high, low]


# ---------------------------------------------------------------------------- a whole PR

BASE = textwrap.dedent(
    """\
    import asyncio


    def count(cursor):
        cursor.execute("SELECT count(*) FROM users")
        return cursor.fetchone()[0]
    """
)
HEAD = textwrap.dedent(
    """\
    import asyncio
    import time

    AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"


    def count(cursor):
        cursor.execute("SELECT count(*) FROM users")
        return cursor.fetchone()[0]


    def find(cursor, name):
        cursor.execute(f"SELECT * FROM users WHERE name = '{name}'")
        return cursor.fetchall()


    async def refresh(cache):
        time.sleep(5)
        await asyncio.gather(*cache.tasks)
    """
)


def test_a_pr_with_three_planted_problems_gets_each_named_on_its_line() -> None:
    file, lines = build_change("app/users.py", HEAD, BASE, FileStatus.MODIFIED)
    config = ReviewConfig()
    report = ast_stage([file], {file.path: lines}, {file.path: BASE}, {}, {}, config)
    assert all(run.status == "ok" for run in report.analyzer_runs)
    merged, held_back = with_analyzer_findings(
        [], report.analyzer_findings, config, {file.path: lines}, []
    )
    assert held_back == []
    plan = plan_inline_comments(
        merged, config, {file.path: parse_patch(file.patch)}, [], {file.path: lines}
    )
    posted = {(c.comment.start_line, problem_kind(by_fp)) for c in plan.post for by_fp in merged
              if by_fp.fingerprint == c.fingerprint}  # fmt: skip
    assert posted == {
        (4, "hardcoded-secret"),
        (13, "sql-injection"),
        (18, "blocking-call-in-async"),
    }
    bodies = {c.comment.start_line: c.comment.body for c in plan.post}
    assert "AKIAIOSFODNN7EXAMPLE" not in bodies[4]
    assert "query parameters" in bodies[13] and "S608" in bodies[13]
    assert "asyncio.sleep" in bodies[18] and "ASYNC251" in bodies[18]


def test_a_second_run_does_not_repost() -> None:
    file, lines = build_change("app/users.py", HEAD, BASE, FileStatus.MODIFIED)
    config = ReviewConfig()
    patches = {file.path: parse_patch(file.patch)}
    report = ast_stage([file], {file.path: lines}, {file.path: BASE}, {}, {}, config)
    merged = merge_findings(report.analyzer_findings)
    first = plan_inline_comments(merged, config, patches, [], {file.path: lines})
    existing = [
        PostedComment(id=str(n), kind="inline", body=p.comment.body)
        for n, p in enumerate(first.post)
    ]
    # the LLM explains the SQL problem in its own words this time: still the same finding
    llm = Suggestion(
        path=file.path,
        start_line=13,
        end_line=13,
        category=Category.SECURITY,
        severity=Severity.HIGH,
        message="`name` goes straight into the SQL text.",
        source="llm",
    )
    again = merge_findings([llm], report.analyzer_findings)
    second = plan_inline_comments(again, config, patches, existing, {file.path: lines})
    assert second.post == () and second.already_posted == len(first.post)


def test_binary_and_unchanged_files_have_no_analyzer_findings() -> None:
    binary = ChangedFile(path="a.py", status=FileStatus.ADDED, binary=True)
    report = ast_stage([binary], {"a.py": {1}}, {}, {}, {}, ReviewConfig())
    assert report.analyzer_findings == []


def test_analyzer_findings_pass_the_per_file_filter_before_merging() -> None:
    reviewed = [sug(5, source="llm", msg="The name goes into the SQL text.")]
    analyzer = [
        sug(5, rule="S608", identity="ruff:S608:x"),
        sug(9, rule="S608", path="app/db.py", identity="ruff:S608:y"),  # not a changed line
        sug(6, rule="B006", cat=Category.BUG),  # a kind the team keeps rejecting
        sug(7, rule="ASYNC251", cat=Category.PERFORMANCE),  # a category turned off
    ]
    config = ReviewConfig.model_validate({"categories": ["bug", "security"]})
    rejected = [RejectedKind(category=Category.BUG, rule="B006", rejected=5, accepted=0)]
    merged, held_back = with_analyzer_findings(
        reviewed, analyzer, config, {"app/db.py": {5, 6, 7}}, rejected
    )
    assert [(s.rule, s.message) for s in merged] == [("S608", reviewed[0].message)]
    assert sorted(d.reason for d in held_back) == [
        "category `performance` is disabled",
        "does not touch a changed line",
        "the team keeps rejecting this kind of suggestion",
    ]


def test_an_analyzer_that_failed_makes_the_run_partial() -> None:
    gap = BranchOutcome(status="ok", error="ruff timeout: no result within 60 s")
    result = aggregate([], [], [], [], [], 1, {"ast": gap, "files": BranchOutcome(status="ok")}, 0)
    assert result.errors == ("AST analysis: ruff timeout: no result within 60 s",)
    config = ReviewConfig.model_validate({"approve": True})
    verdict, reason = decide_verdict(config, result)
    assert verdict.value == "comment" and "ruff timeout" in reason
