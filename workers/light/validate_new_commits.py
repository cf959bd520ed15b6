"""Stage 1: review only the commits after the last reviewed one; skip when nothing is new."""

import time

from shared.stages.intake import decide_commits
from workers.runtime import Router, StageContext, Variables, stage_task

JOB_TYPE = "reviewflow.validate-new-commits"
router = Router()


@stage_task(router, JOB_TYPE, ["trigger"])
def validate_new_commits(ctx: StageContext, v: Variables) -> Variables:
    host = ctx.host
    pr = host.pull_request()
    last = host.last_reviewed_commit()
    reachable = last is not None and host.has_commit(last) and host.is_ancestor(last, pr.head_sha)
    since = last if (reachable and last is not None) else pr.base_sha
    new = host.commits(since, pr.head_sha)
    decision = decide_commits(pr, last, reachable, new, explicit=v.get("trigger") == "command")
    return {
        "pr": pr.model_dump(mode="json"),
        "commits": {
            "baseSha": pr.base_sha,
            "headSha": pr.head_sha,
            "fromSha": decision.from_sha,
            "incremental": decision.incremental,
            "newCommits": decision.new_commits,
        },
        "proceed": decision.proceed,
        # every run (CLI, webhook, --github, a rerun after a push) is timed from here
        "startedAt": time.time(),
        "skipReason": None if decision.proceed else decision.reason,
        "_detail": decision.reason,
    }
