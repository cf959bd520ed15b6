"""Stage 12: PR-level findings as PR comments, each once. The PR-level review's findings and
the AST branch's (calls the change breaks) merge here, one comment per problem."""

from shared.analysis.ast_report import AstReport
from shared.models import PrFinding
from shared.stages.findings import plan_pr_comments
from shared.stages.impact import ast_pr_findings, merge_pr_findings
from workers.runtime import Router, StageContext, Variables, branch_outcome, stage_task

JOB_TYPE = "reviewflow.create-pr-comments"
router = Router()


@stage_task(router, JOB_TYPE, ["prReviewOutcome", "astOutcome"])
def create_pr_comments(ctx: StageContext, v: Variables) -> Variables:
    review = branch_outcome(v, "prReviewOutcome")
    ast = branch_outcome(v, "astOutcome")
    from_review: list[PrFinding] = []
    if review.status == "ok" and review.artifact is not None:
        from_review = ctx.store.get(review.artifact, list[PrFinding])
    from_ast: list[PrFinding] = []
    if ast.status == "ok" and ast.artifact is not None:
        from_ast = ast_pr_findings(ctx.store.get(ast.artifact, AstReport))
    findings = merge_pr_findings(from_review, from_ast)
    findings_id = ctx.store.put(ctx.run_id, "pr-findings", findings)
    planned = plan_pr_comments(findings, ctx.host.list_comments())
    for _, body in planned:
        ctx.host.create_issue_comment(body)
    return {
        "prCommentsPosted": len(planned),
        "prFindingsArtifact": findings_id,
        "_detail": f"{len(planned)} posted, {len(findings) - len(planned)} already on the PR",
    }
