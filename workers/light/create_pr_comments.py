"""Stage 12: PR-level findings as PR comments, each once."""

from pyzeebe import ZeebeTaskRouter

from shared.models import PrFinding
from shared.stages.findings import plan_pr_comments
from workers.runtime import StageContext, Variables, branch_outcome, stage_task

JOB_TYPE = "reviewflow.create-pr-comments"
router = ZeebeTaskRouter()


@stage_task(router, JOB_TYPE, ["prReviewOutcome"])
def create_pr_comments(ctx: StageContext, v: Variables) -> Variables:
    outcome = branch_outcome(v, "prReviewOutcome")
    if outcome.status != "ok" or outcome.artifact is None:
        return {
            "prCommentsPosted": 0,
            "_detail": f"PR-level review {outcome.status}: nothing to post",
        }
    findings = ctx.store.get(outcome.artifact, list[PrFinding])
    planned = plan_pr_comments(findings, ctx.host.list_comments())
    for _, body in planned:
        ctx.host.create_issue_comment(body)
    return {
        "prCommentsPosted": len(planned),
        "_detail": f"{len(planned)} posted, {len(findings) - len(planned)} already on the PR",
    }
