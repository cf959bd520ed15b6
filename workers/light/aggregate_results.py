"""Stage 15: per-file, PR-level and discarded results combined into one record."""

from typing import Any

from shared.contract import HEAVY_BRANCHES
from shared.models import DiscardedSuggestion, PrFinding, SkippedFile, Suggestion
from shared.stages.findings import FileReviewOutput
from shared.stages.outcome import aggregate
from shared.stages.preparation import FileGate, gate_skips
from workers.runtime import Router, StageContext, Variables, branch_outcome, stage_task

JOB_TYPE = "reviewflow.aggregate-results"
router = Router()


@stage_task(
    router,
    JOB_TYPE,
    [
        "skippedArtifact",
        "gateArtifact",
        "commentsArtifact",
        "prFindingsArtifact",
        *(b.outcome_variable for b in HEAVY_BRANCHES),
    ],
)
def aggregate_results(ctx: StageContext, v: Variables) -> Variables:
    branches = {b.key: branch_outcome(v, b.outcome_variable) for b in HEAVY_BRANCHES}
    files_out = branches["file"]
    review = (
        ctx.store.get(files_out.artifact, FileReviewOutput)
        if files_out.status == "ok" and files_out.artifact
        else None
    )
    # the PR-level review's and the AST branch's findings, merged by stage 12
    pr_findings = (
        ctx.store.get(v["prFindingsArtifact"], list[PrFinding])
        if v.get("prFindingsArtifact")
        else []
    )
    skipped = ctx.store.get(v["skippedArtifact"], list[SkippedFile])
    skipped += gate_skips(ctx.store.get(v["gateArtifact"], list[FileGate]))
    comments: dict[str, Any] = (
        ctx.store.get_raw(v["commentsArtifact"]) if v.get("commentsArtifact") else {}
    )
    discarded = list(review.discarded) if review else []
    discarded += [DiscardedSuggestion.model_validate(d) for d in comments.get("dropped", [])]
    suggestions = list(review.suggestions) if review else []
    if "suggestions" in comments:  # merged with the analyzers' findings by stage 13
        suggestions = [Suggestion.model_validate(s) for s in comments["suggestions"]]
    result = aggregate(
        suggestions=suggestions,
        posted_fingerprints=list(comments.get("posted", [])) + list(comments.get("already", [])),
        pr_findings=pr_findings,
        discarded=discarded,
        skipped=skipped,
        files_reviewed=review.files_reviewed if review else 0,
        branches=branches,
        posted=len(comments.get("posted", [])),
    )
    result_id = ctx.store.put(ctx.run_id, "result", result)
    return {
        "resultArtifact": result_id,
        "counts": result.counts,
        "partial": result.partial,
        "_detail": ", ".join(f"{n} {s}" for s, n in result.counts.items() if n) or "no findings",
    }
