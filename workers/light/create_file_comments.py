"""Stage 13: inline comments on lines of the diff; resolve fixed threads; record the commit."""

from shared.analysis.ast_report import AstReport
from shared.diff import parse_patch
from shared.models import ChangedFile, DiscardedSuggestion
from shared.stages.findings import (
    FileReviewOutput,
    plan_inline_comments,
    with_analyzer_findings,
)
from shared.stages.preparation import RejectedKind
from workers.runtime import Router, StageContext, Variables, branch_outcome, config_of, stage_task

JOB_TYPE = "reviewflow.create-file-comments"
router = Router()


@stage_task(
    router,
    JOB_TYPE,
    [
        "config",
        "commits",
        "filesArtifact",
        "fileReviewOutcome",
        "astOutcome",
        "feedbackArtifact",
    ],
)
def create_file_comments(ctx: StageContext, v: Variables) -> Variables:
    outcome = branch_outcome(v, "fileReviewOutcome")
    head = v["commits"]["headSha"]
    if outcome.status != "ok" or outcome.artifact is None:
        # the last reviewed commit is not moved: the next run reviews these commits again
        return {
            "inlineCommentsPosted": 0,
            "_detail": f"per-file review {outcome.status}: nothing to post",
        }
    review = ctx.store.get(outcome.artifact, FileReviewOutput)
    files = ctx.store.get(v["filesArtifact"], list[ChangedFile])
    patches = {f.path: parse_patch(f.patch) for f in files}
    changed_now = {path: set(p.added) for path, p in patches.items()}
    existing = ctx.host.list_comments()
    config = config_of(v)
    suggestions = list(review.suggestions)
    held_back: list[DiscardedSuggestion] = []
    ast = branch_outcome(v, "astOutcome")
    if ast.status == "ok" and ast.artifact is not None:
        # the analyzers' findings join the per-file review's: one comment per problem
        report = ctx.store.get(ast.artifact, AstReport)
        rejected = (
            ctx.store.get(v["feedbackArtifact"], list[RejectedKind])
            if v.get("feedbackArtifact")
            else []
        )
        suggestions, held_back = with_analyzer_findings(
            suggestions, report.analyzer_findings, config, changed_now, rejected
        )
    plan = plan_inline_comments(suggestions, config, patches, existing, changed_now)
    posted: list[str] = []
    dropped = [*held_back, *plan.dropped]
    results = ctx.host.post_inline_comments([p.comment for p in plan.post], head)
    by_fingerprint = {s.fingerprint: s for s in suggestions}
    for planned, result in zip(plan.post, results, strict=True):
        if result.posted:
            posted.append(planned.fingerprint)
        else:
            # one bad anchor never sinks the review: this one is reported, the rest posted
            dropped.append(
                DiscardedSuggestion(
                    suggestion=by_fingerprint[planned.fingerprint],
                    reason=f"host rejected the anchor: {result.error}",
                )
            )
    for comment_id in plan.resolve:
        ctx.host.resolve_comment(comment_id)
    ctx.host.record_reviewed_commit(head)
    already = [
        s.fingerprint for s in suggestions if s.fingerprint in {c.fingerprint for c in existing}
    ]
    comments_id = ctx.store.put(
        ctx.run_id,
        "comments",
        {
            "posted": posted,
            "already": already,
            "dropped": [d.model_dump(mode="json") for d in dropped],
            # the per-file review's suggestions merged with the analyzers' (for the record)
            "suggestions": [s.model_dump(mode="json") for s in suggestions],
        },
    )
    return {
        "inlineCommentsPosted": len(posted),
        "commentsArtifact": comments_id,
        "_detail": f"{len(posted)} posted, {plan.already_posted} already there, "
        f"{len(dropped)} held back, {len(plan.resolve)} thread(s) resolved",
    }
