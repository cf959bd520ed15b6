"""Stage 16: the PR summary, and the progress comment turned into the final one."""

import time

from shared.git.base import PROGRESS_FINGERPRINT, with_fingerprint
from shared.models import ChangedFile, PullRequestInfo
from shared.stages.outcome import ReviewResult, change_summary, final_comment, merge_description
from workers.runtime import Router, StageContext, Variables, config_of, stage_task
from workers.summary_writer import write_summary

JOB_TYPE = "reviewflow.summarize"
router = Router()


@stage_task(
    router,
    JOB_TYPE,
    [
        "config",
        "pr",
        "commits",
        "filesArtifact",
        "resultArtifact",
        "progressCommentId",
        "startedAt",
    ],
)
def summarize(ctx: StageContext, v: Variables) -> Variables:
    config = config_of(v)
    pr = PullRequestInfo.model_validate(v["pr"])
    result = ctx.store.get(v["resultArtifact"], ReviewResult)
    seconds = max(0.0, time.time() - float(v.get("startedAt") or time.time()))
    body = with_fingerprint(
        final_comment(result, seconds, bool(v["commits"]["incremental"])), PROGRESS_FINGERPRINT
    )
    ctx.host.update_issue_comment(str(v["progressCommentId"]), body)
    detail = "final comment written"
    if config.summary.enabled:
        files = ctx.store.get(v["filesArtifact"], list[ChangedFile])
        fallback = change_summary(result, [(f.path, f.additions, f.deletions) for f in files])
        summary, tokens = write_summary(config, pr, files, result, fallback)
        ctx.host.update_description(merge_description(pr.body, summary, config.summary.mode))
        detail += f"; summary ({config.summary.mode}{', model' if tokens else ''})"
    return {"summaryWritten": config.summary.enabled, "_detail": detail}
