"""Stage 7: one "review in progress" comment, reused across runs and job retries."""

from shared.git.base import PROGRESS_FINGERPRINT, with_fingerprint
from shared.models import PullRequestInfo
from shared.stages.preparation import progress_body
from workers.runtime import Router, StageContext, Variables, stage_task

JOB_TYPE = "reviewflow.initial-comment"
router = Router()


@stage_task(router, JOB_TYPE, ["pr", "commits", "fileCount"])
def initial_comment(ctx: StageContext, v: Variables) -> Variables:
    pr = PullRequestInfo.model_validate(v["pr"])
    commits = v["commits"]
    reason = f"{commits['newCommits']} commit(s)"
    body = with_fingerprint(
        progress_body(pr.title, int(v["fileCount"]), bool(commits["incremental"]), reason),
        PROGRESS_FINGERPRINT,
    )
    existing = [c for c in ctx.host.list_comments() if c.fingerprint == PROGRESS_FINGERPRINT]
    if existing:
        comment_id = existing[0].id
        ctx.host.update_issue_comment(comment_id, body)
        detail = f"reused comment {comment_id}"
    else:
        comment_id = ctx.host.create_issue_comment(body)
        detail = f"posted comment {comment_id}"
    return {"progressCommentId": comment_id, "_detail": detail}
