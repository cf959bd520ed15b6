"""Stage 10 (heavy): the whole-PR review (cross-file issues, PR-scope rules, description
against the change): the LLM when one is configured, the offline rules otherwise."""

import asyncio

from pyzeebe import ZeebeTaskRouter

from shared.analysis.offline_reviewer import review_pr_offline
from shared.contract import HEAVY_BRANCHES
from shared.llm.client import LlmReviewer
from shared.llm.settings import LlmSettings
from shared.models import BranchOutcome, ChangedFile, PrFinding, PullRequestInfo
from shared.stages.preparation import LoadedContext
from workers.heavy.runtime import HeavyRuntime, dispatch_router
from workers.runtime import StageContext, Variables, config_of

BRANCH = next(b for b in HEAVY_BRANCHES if b.key == "pr")


def make_router(runtime: HeavyRuntime) -> ZeebeTaskRouter:
    async def work(ctx: StageContext, v: Variables, attempt: int) -> BranchOutcome:
        config = config_of(v)
        pr = PullRequestInfo.model_validate(v["pr"])
        files = ctx.store.get(v["filesArtifact"], list[ChangedFile])
        llm = LlmSettings()
        tokens = 0
        if llm.configured:
            context = ctx.store.get(v["contextArtifact"], LoadedContext)
            rules = [r for r in config.rules if r.scope == "pr"]
            text = "\n\n".join(f"# {d.path}\n{d.text}" for d in context.docs)
            async with LlmReviewer(llm, config.model) as reviewer:
                findings: list[PrFinding] = await reviewer.review_pr(
                    files, pr.title, pr.body, text, rules
                )
                tokens = reviewer.total_tokens
        else:
            findings = await asyncio.to_thread(review_pr_offline, files, pr.title, pr.body, None)
        artifact = ctx.store.put(ctx.run_id, f"pr-review-{attempt}", findings)
        return BranchOutcome(status="ok", artifact=artifact, items=len(findings), tokens=tokens)

    return dispatch_router(runtime, BRANCH, work)
