"""Stage 17: request changes, approve, or leave a plain comment review."""

from shared.git.base import with_fingerprint
from shared.stages.outcome import ReviewResult, decide_verdict
from workers.runtime import Router, StageContext, Variables, config_of, stage_task

JOB_TYPE = "reviewflow.verdict"
router = Router()


@stage_task(router, JOB_TYPE, ["config", "commits", "resultArtifact"])
def verdict(ctx: StageContext, v: Variables) -> Variables:
    result = ctx.store.get(v["resultArtifact"], ReviewResult)
    decision, reason = decide_verdict(config_of(v), result)
    ctx.host.submit_verdict(
        decision, with_fingerprint(reason, f"verdict-{ctx.run_id}"), v["commits"]["headSha"]
    )
    return {
        "verdict": decision.value,
        "verdictReason": reason,
        "_detail": f"{decision.value}: {reason}",
    }
