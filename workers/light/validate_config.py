"""Stage 3: reviews enabled, target branch, title keywords, drafts."""

from shared.models import PullRequestInfo
from shared.stages.intake import should_review
from workers.runtime import Router, StageContext, Variables, config_of, stage_task

JOB_TYPE = "reviewflow.validate-config"
router = Router()


@stage_task(router, JOB_TYPE, ["config", "pr", "trigger"])
def validate_config(ctx: StageContext, v: Variables) -> Variables:
    pr = PullRequestInfo.model_validate(v["pr"])
    proceed, reason = should_review(config_of(v), pr, explicit=v.get("trigger") == "command")
    return {"proceed": proceed, "skipReason": None if proceed else reason, "_detail": reason}
