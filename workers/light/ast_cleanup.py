"""Stage 14: delete this run's AST artifacts. Never fails the review."""

import logging

from workers.runtime import Router, StageContext, Variables, stage_task

JOB_TYPE = "reviewflow.ast-cleanup"
router = Router()
logger = logging.getLogger(__name__)


@stage_task(router, JOB_TYPE, ["astAttempt"])
def ast_cleanup(ctx: StageContext, v: Variables) -> Variables:
    attempts = int(v.get("astAttempt") or 1)
    removed = 0
    try:
        for attempt in range(1, attempts + 2):
            removed += ctx.store.delete(f"{ctx.run_id}/ast-{attempt}")
    except Exception as exc:  # cleanup problems are reported, never raised
        logger.warning("AST cleanup of run %s failed: %s", ctx.run_id, exc)
        return {"astCleanup": f"failed: {exc}", "_detail": f"cleanup failed: {exc}"}
    return {"astCleanup": f"removed {removed}", "_detail": f"removed {removed} AST artifact(s)"}
