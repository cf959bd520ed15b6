"""Stage 8 (learning from feedback): suggestion kinds this team keeps rejecting."""

from shared.stages.preparation import rejected_kinds
from workers.runtime import Router, StageContext, Variables, stage_task

JOB_TYPE = "reviewflow.load-feedback"
router = Router()


@stage_task(router, JOB_TYPE, [])
def load_feedback(ctx: StageContext, v: Variables) -> Variables:
    records = ctx.host.feedback()
    rejected = rejected_kinds(records)
    feedback_id = ctx.store.put(ctx.run_id, "feedback", rejected)
    return {
        "feedbackArtifact": feedback_id,
        "_detail": f"{len(records)} past outcome(s), {len(rejected)} rejected kind(s)",
    }
