from shared.config import ReviewConfig
from shared.diff import parse_patch
from shared.git.base import PostedComment, fingerprint_of, with_fingerprint
from shared.models import (
    BranchOutcome,
    Category,
    FeedbackRecord,
    PrFinding,
    Severity,
    Suggestion,
    Verdict,
)
from shared.stages.findings import filter_suggestions, plan_inline_comments, plan_pr_comments
from shared.stages.outcome import aggregate, decide_verdict, merge_description
from shared.stages.preparation import rejected_kinds

PATCH = "@@ -1,2 +1,5 @@\n a\n+b\n+c\n d\n+e\n"


def sug(
    line: int,
    cat: Category = Category.BUG,
    sev: Severity = Severity.HIGH,
    rule: str = "r1",
    msg: str = "broken",
    path: str = "x.py",
    end: int | None = None,
) -> Suggestion:
    return Suggestion(
        path=path,
        start_line=line,
        end_line=end or line,
        category=cat,
        severity=sev,
        message=msg,
        rule=rule,
    )


def test_filter_and_rank() -> None:
    rejected = rejected_kinds(
        [FeedbackRecord(category=Category.PERFORMANCE, rule="p", outcome="rejected")] * 3
    )
    kept, discarded = filter_suggestions(
        [
            sug(2, Category.MAINTAINABILITY, Severity.MEDIUM, msg="m"),
            sug(3, Category.SECURITY, msg="s"),
            sug(9, msg="outside"),
            sug(2, Category.STYLE, msg="style"),
            sug(5, Category.PERFORMANCE, rule="p"),
        ],
        ReviewConfig(),
        {"x.py": {2, 3, 5}},
        rejected,
    )
    assert [s.message for s in kept] == ["s", "m"]
    reasons = {d.suggestion.message: d.reason for d in discarded}
    assert reasons["outside"] == "does not touch a changed line"
    assert "disabled" in reasons["style"] and "rejecting" in reasons["broken"]


def test_rejected_kinds_needs_majority() -> None:
    records = [FeedbackRecord(category=Category.BUG, rule="a", outcome="rejected")] * 3
    records += [FeedbackRecord(category=Category.BUG, rule="a", outcome="accepted")] * 3
    assert rejected_kinds(records) == []


def test_inline_plan_filters_groups_limits_and_skips_posted() -> None:
    config = ReviewConfig.model_validate({"maxSuggestions": {"limit": 2, "perFile": 5}})
    patches = {"x.py": parse_patch(PATCH)}
    posted_fp = sug(5, msg="old").fingerprint
    existing = [
        PostedComment(
            id="9", kind="inline", body=with_fingerprint("old", posted_fp), path="x.py", line=5
        )
    ]
    ranked = [
        sug(2, msg="dup"),
        sug(3, msg="dup"),
        sug(5, msg="old"),
        sug(2, sev=Severity.LOW, msg="low"),
        sug(4, msg="three"),
        sug(5, msg="four"),
    ]
    plan = plan_inline_comments(ranked, config, patches, existing, {"x.py": {2, 3, 5}})
    assert [p.comment.start_line for p in plan.post] == [2, 4]
    assert "also appears at line 3" in plan.post[0].comment.body
    assert fingerprint_of(plan.post[0].comment.body) == sug(2, msg="dup").fingerprint
    assert plan.already_posted == 1
    reasons = sorted(d.reason for d in plan.dropped)
    assert any("severity filter" in r for r in reasons) and any(
        "maxSuggestions" in r for r in reasons
    )


def test_inline_plan_resolves_fixed_thread_on_changed_line() -> None:
    gone = sug(3, msg="fixed now").fingerprint
    existing = [
        PostedComment(id="7", kind="inline", body=with_fingerprint("x", gone), path="x.py", line=3)
    ]
    plan = plan_inline_comments(
        [], ReviewConfig(), {"x.py": parse_patch(PATCH)}, existing, {"x.py": {3}}
    )
    assert plan.resolve == ("7",)
    untouched = plan_inline_comments(
        [], ReviewConfig(), {"x.py": parse_patch(PATCH)}, existing, {"x.py": {2}}
    )
    assert untouched.resolve == ()


def test_committable_suggestion_only_for_exact_single_line() -> None:
    s = Suggestion(
        path="x.py",
        start_line=2,
        end_line=2,
        category=Category.BUG,
        severity=Severity.HIGH,
        message="use is",
        replacement="if x is None:",
    )
    plan = plan_inline_comments([s], ReviewConfig(), {"x.py": parse_patch(PATCH)}, [], {})
    assert "```suggestion\nif x is None:\n```" in plan.post[0].comment.body


def test_pr_comments_once() -> None:
    finding = PrFinding(
        category=Category.BREAKING_CHANGE, severity=Severity.HIGH, title="sig", message="m"
    )
    planned = plan_pr_comments([finding, finding], [])
    assert len(planned) == 1
    existing = [PostedComment(id="1", kind="issue", body=planned[0][1])]
    assert plan_pr_comments([finding], existing) == []


def _result(  # type: ignore[no-untyped-def]
    branches: dict[str, BranchOutcome],
    sev: Severity = Severity.LOW,
    posted: int = 0,
    found: bool = True,
):
    s = sug(2, sev=sev)
    found_list = [s] if found else []
    fps = [s.fingerprint] if posted else []
    return aggregate(found_list, fps, [], [], [], 1, branches, posted)


OK = {k: BranchOutcome(status="ok") for k in ("ast", "pr", "file")}


def test_verdicts() -> None:
    approve = ReviewConfig.model_validate({"approve": True, "requestChanges": True})
    assert decide_verdict(approve, _result(OK, found=False))[0] is Verdict.APPROVE
    # a finding that was found but not posted (held back) never lets the run approve
    assert decide_verdict(approve, _result(OK))[0] is Verdict.COMMENT
    crit = _result(OK, Severity.CRITICAL, posted=1)
    assert decide_verdict(approve, crit)[0] is Verdict.REQUEST_CHANGES
    partial = _result({**OK, "ast": BranchOutcome(status="timeout", error="no result")})
    verdict, reason = decide_verdict(approve, partial)
    assert verdict is Verdict.COMMENT and "AST analysis timeout" in reason
    assert decide_verdict(ReviewConfig(), _result(OK))[0] is Verdict.COMMENT


def test_verdict_counts_what_was_found_not_what_was_posted() -> None:
    config = ReviewConfig.model_validate({"requestChanges": True})
    # a critical finding whose anchor the host refused (posted 0) still requests changes
    held_back = _result(OK, Severity.CRITICAL, posted=0)
    assert held_back.counts["critical"] == 1
    assert decide_verdict(config, held_back)[0] is Verdict.REQUEST_CHANGES


def test_description_modes_and_rerun_replaces_block() -> None:
    once = merge_description("Author text", "S1", "complement")
    assert once.startswith("Author text") and "S1" in once
    twice = merge_description(once, "S2", "complement")
    assert "S2" in twice and "S1" not in twice and twice.count("Author text") == 1
    assert merge_description("Author text", "S", "replace").startswith("<!-- reviewflow")
