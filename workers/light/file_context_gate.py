"""Stage 6: per file, the context that goes with it and whether it is worth a review."""

from shared.models import ChangedFile
from shared.stages.preparation import LoadedContext, gate_files
from workers.runtime import Router, StageContext, Variables, config_of, stage_task

JOB_TYPE = "reviewflow.file-context-gate"
router = Router()


@stage_task(router, JOB_TYPE, ["config", "filesArtifact", "contextArtifact"])
def file_context_gate(ctx: StageContext, v: Variables) -> Variables:
    files = ctx.store.get(v["filesArtifact"], list[ChangedFile])
    context = ctx.store.get(v["contextArtifact"], LoadedContext)
    gates = gate_files(files, config_of(v), context)
    gate_id = ctx.store.put(ctx.run_id, "gate", gates)
    reviewable = sum(1 for g in gates if g.review)
    return {
        "gateArtifact": gate_id,
        "reviewableCount": reviewable,
        "_detail": f"{reviewable} of {len(gates)} file(s) worth a review",
    }
