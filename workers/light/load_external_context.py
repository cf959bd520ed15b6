"""Stage 5: the reference files the config names (guidelines, architecture notes)."""

from shared.stages.preparation import build_context
from workers.runtime import Router, StageContext, Variables, config_of, stage_task

JOB_TYPE = "reviewflow.load-external-context"
router = Router()


@stage_task(router, JOB_TYPE, ["config", "commits"])
def load_external_context(ctx: StageContext, v: Variables) -> Variables:
    config = config_of(v)
    head = v["commits"]["headSha"]
    texts = ctx.host.read_files(list(config.context_files), head)
    contents = {path: texts.get(path) for path in config.context_files}
    context = build_context(config.context_files, contents)
    context_id = ctx.store.put(ctx.run_id, "context", context)
    detail = f"{len(context.docs)} reference file(s)"
    if context.missing:
        detail += f"; missing: {', '.join(context.missing)}"
    return {"contextArtifact": context_id, "_detail": detail}
