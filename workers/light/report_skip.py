"""Skip paths and the invalid-config path: tell the user, once, why the review ended early."""

from shared.contract import REPORT_SKIP_JOB_TYPE
from shared.git.base import with_fingerprint
from workers.runtime import Router, StageContext, Variables, stage_task

router = Router()


@stage_task(router, REPORT_SKIP_JOB_TYPE, ["skipReason", "skipKind"])
def report_skip(ctx: StageContext, v: Variables) -> Variables:
    reason = str(v.get("skipReason") or "no reason recorded")
    kind = str(v.get("skipKind") or "skip")
    title = "configuration error" if kind == "invalid-config" else "review skipped"
    fingerprint = f"{kind}-{ctx.run_id}"
    if not any(c.fingerprint == fingerprint for c in ctx.host.list_comments()):
        ctx.host.create_issue_comment(
            with_fingerprint(f"### reviewflow: {title}\n\n{reason}", fingerprint)
        )
    return {"skipped": reason, "_detail": reason}
