"""Stage 10 (heavy): the whole-PR review (cross-file issues, PR-scope rules, description
against the change): the LLM when one is configured, the offline rules otherwise."""

import asyncio

from shared.analysis.ast_report import AstReport
from shared.analysis.offline_reviewer import review_pr_offline
from shared.contract import heavy_branch
from shared.llm.client import LlmReviewer
from shared.llm.settings import LlmSettings
from shared.models import BranchOutcome, ChangedFile, PrFinding, PullRequestInfo
from shared.stages.impact import impact_context
from shared.stages.preparation import LoadedContext
from workers.heavy.runtime import HeavyRuntime, Work, dispatch_router
from workers.runtime import Router, StageContext, Variables, branch_outcome, config_of

BRANCH = heavy_branch("pr")
VARIABLES = ("config", "pr", "filesArtifact", "contextArtifact", "astOutcome")


def ast_report_of(ctx: StageContext, v: Variables) -> AstReport | None:
    """The AST branch's report when it arrived before this branch started, else None."""
    outcome = branch_outcome(v, "astOutcome")
    if outcome.status != "ok" or outcome.artifact is None:
        return None
    return ctx.store.get(outcome.artifact, AstReport)


def make_work(runtime: HeavyRuntime) -> Work:
    """The branch's work, as the dispatch runs it in the background (and the bench in
    process)."""

    async def work(ctx: StageContext, v: Variables, attempt: int) -> BranchOutcome:
        config = config_of(v)
        pr = PullRequestInfo.model_validate(v["pr"])
        files = ctx.store.get(v["filesArtifact"], list[ChangedFile])
        llm = LlmSettings()
        tokens = 0
        report = ast_report_of(ctx, v)
        impact = impact_context(report) if report is not None else ""
        if llm.configured:
            context = ctx.store.get(v["contextArtifact"], LoadedContext)
            rules = [r for r in config.rules if r.scope == "pr"]
            text = "\n\n".join(f"# {d.path}\n{d.text}" for d in context.docs)
            if impact:
                text = f"{text}\n\n{impact}" if text else impact
            async with LlmReviewer(llm, config.model) as reviewer:
                findings: list[PrFinding] = await reviewer.review_pr(
                    files, pr.title, pr.body, text, rules
                )
                tokens = reviewer.total_tokens
        else:
            findings = await asyncio.to_thread(review_pr_offline, files, pr.title, pr.body, report)
        artifact = ctx.store.put(ctx.run_id, f"pr-review-{attempt}", findings)
        return BranchOutcome(status="ok", artifact=artifact, items=len(findings), tokens=tokens)

    return work


def make_router(runtime: HeavyRuntime) -> Router:
    return dispatch_router(runtime, BRANCH, make_work(runtime), VARIABLES)
