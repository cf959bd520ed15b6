"""Stage 11 (heavy): per-file review in bounded parallel batches, then the filter (disabled
categories, lines outside the diff, kinds the team rejects, self-check) and the ranking."""

import asyncio

from shared.analysis.ast_report import AstReport
from shared.analysis.offline_reviewer import review_file
from shared.config import ReviewConfig
from shared.contract import heavy_branch
from shared.llm.client import LlmReviewer
from shared.llm.settings import LlmSettings
from shared.models import BranchOutcome, ChangedFile, Suggestion
from shared.stages.findings import FileReviewOutput, filter_suggestions, offline_self_check
from shared.stages.impact import impact_context
from shared.stages.preparation import FileGate, LoadedContext, RejectedKind, changed_lines
from workers.heavy.pr_review import ast_report_of
from workers.heavy.runtime import HeavyRuntime, Work, dispatch_router
from workers.runtime import Router, StageContext, Variables, config_of

BRANCH = heavy_branch("file")
VARIABLES = (
    "config",
    "filesArtifact",
    "gateArtifact",
    "feedbackArtifact",
    "contextArtifact",
    "astOutcome",
)


async def _llm_review(
    reviewer: LlmReviewer,
    config: ReviewConfig,
    files: list[ChangedFile],
    gates: dict[str, FileGate],
    context: LoadedContext,
    report: AstReport | None,
) -> tuple[list[Suggestion], list[str]]:
    docs = {d.path: d.text for d in context.docs}

    async def one(file: ChangedFile) -> list[Suggestion]:
        gate = gates[file.path]
        text = "\n\n".join(f"# {p}\n{docs[p]}" for p in gate.guidelines if p in docs)
        impact = impact_context(report, [file.path]) if report is not None else ""
        if impact:
            text = f"{text}\n\n{impact}" if text else impact
        found = await reviewer.review_file(
            file,
            changed_lines(file),
            text,
            list(gate.rules),
            list(config.for_path(file.path).categories),
        )
        if not found:
            return []
        verdicts = await reviewer.self_check(file, found)
        return [s for s, keep in zip(found, verdicts, strict=True) if keep]

    results = await asyncio.gather(*(one(f) for f in files), return_exceptions=True)
    suggestions: list[Suggestion] = []
    failed: list[str] = []
    for file, result in zip(files, results, strict=True):
        if isinstance(result, BaseException):
            failed.append(f"{file.path}: {result}")
        else:
            suggestions.extend(result)
    return suggestions, failed


def make_work(runtime: HeavyRuntime) -> Work:
    """The branch's work, as the dispatch runs it in the background (and the bench in
    process)."""

    async def work(ctx: StageContext, v: Variables, attempt: int) -> BranchOutcome:
        config = config_of(v)
        files = ctx.store.get(v["filesArtifact"], list[ChangedFile])
        gates = {g.path: g for g in ctx.store.get(v["gateArtifact"], list[FileGate])}
        rejected = ctx.store.get(v["feedbackArtifact"], list[RejectedKind])
        to_review = [f for f in files if gates[f.path].review]
        llm = LlmSettings()
        tokens = 0
        failed: list[str] = []
        if llm.configured:
            context = ctx.store.get(v["contextArtifact"], LoadedContext)
            async with LlmReviewer(llm, config.model) as reviewer:
                raw, failed = await _llm_review(
                    reviewer, config, to_review, gates, context, ast_report_of(ctx, v)
                )
                tokens = reviewer.total_tokens
            self_check = None  # the model's own self-check pass already ran
        else:
            loop = asyncio.get_running_loop()
            batches = await asyncio.gather(
                *(
                    loop.run_in_executor(runtime.pool, review_file, f, changed_lines(f))
                    for f in to_review
                )
            )
            raw = [s for batch in batches for s in batch]
            self_check = offline_self_check
        added = {f.path: changed_lines(f) for f in files}
        kept, discarded = filter_suggestions(raw, config, added, rejected, self_check)
        output = FileReviewOutput(
            suggestions=tuple(kept),
            discarded=tuple(discarded),
            files_reviewed=len(to_review) - len(failed),
            files_failed=tuple(failed),
        )
        artifact = ctx.store.put(ctx.run_id, f"file-review-{attempt}", output)
        if failed and len(failed) == len(to_review):
            return BranchOutcome(
                status="failed", artifact=artifact, error="; ".join(failed)[:1000], tokens=tokens
            )
        return BranchOutcome(status="ok", artifact=artifact, items=len(kept), tokens=tokens)

    return work


def make_router(runtime: HeavyRuntime) -> Router:
    return dispatch_router(runtime, BRANCH, make_work(runtime), VARIABLES)
