"""Stages 15-17: one result, the summary, the verdict. Pure functions."""

from collections import Counter

from shared.config import ReviewConfig
from shared.models import (
    BranchOutcome,
    DiscardedSuggestion,
    Frozen,
    PrFinding,
    Severity,
    SkippedFile,
    Suggestion,
    Verdict,
)

BRANCH_TITLES = {"ast": "AST analysis", "pr": "PR-level review", "file": "per-file review"}


class ReviewResult(Frozen):
    suggestions: tuple[Suggestion, ...]
    posted_fingerprints: tuple[str, ...]
    pr_findings: tuple[PrFinding, ...]
    discarded: tuple[DiscardedSuggestion, ...]
    skipped_files: tuple[SkippedFile, ...]
    files_reviewed: int
    branches: dict[str, BranchOutcome]
    errors: tuple[str, ...]
    tokens: int
    counts: dict[str, int]
    posted: int

    @property
    def partial(self) -> bool:
        return bool(self.errors)


def aggregate(
    suggestions: list[Suggestion],
    posted_fingerprints: list[str],
    pr_findings: list[PrFinding],
    discarded: list[DiscardedSuggestion],
    skipped: list[SkippedFile],
    files_reviewed: int,
    branches: dict[str, BranchOutcome],
    posted: int,
) -> ReviewResult:
    """Stage 15 (AggregateResults): per-file, PR-level and discarded results in one record;
    a heavy branch that failed or timed out, or completed with a gap it reports in ``error``,
    becomes an error of the run."""
    errors = tuple(
        f"{BRANCH_TITLES.get(key, key)} {outcome.status}: {outcome.error or 'no detail'}"
        if outcome.status != "ok"
        # a branch that completed with a gap (an analyzer that failed or timed out)
        else f"{BRANCH_TITLES.get(key, key)}: {outcome.error}"
        for key, outcome in sorted(branches.items())
        if outcome.status != "ok" or outcome.error
    )
    # what was found, not what was posted: a finding held back by a refused anchor or a limit
    # must not soften the verdict
    counts = Counter(s.severity.value for s in suggestions)
    counts.update(f.severity.value for f in pr_findings)
    return ReviewResult(
        suggestions=tuple(suggestions),
        posted_fingerprints=tuple(posted_fingerprints),
        pr_findings=tuple(pr_findings),
        discarded=tuple(discarded),
        skipped_files=tuple(skipped),
        files_reviewed=files_reviewed,
        branches=branches,
        errors=errors,
        tokens=sum(o.tokens for o in branches.values()),
        counts={sev.value: counts.get(sev.value, 0) for sev in Severity},
        posted=posted,
    )


def final_comment(result: ReviewResult, seconds: float, incremental: bool) -> str:
    """Stage 16: the "in progress" comment turned into the final one."""
    lines = ["### reviewflow: review finished", ""]
    counts = ", ".join(f"{n} {sev}" for sev, n in result.counts.items() if n) or "no findings"
    scope = "new commits" if incremental else "whole change"
    lines.append(
        f"Reviewed {result.files_reviewed} file(s) ({scope}) in {seconds:.1f} s: {counts}."
    )
    if result.tokens:
        lines.append(f"Model tokens used: {result.tokens}.")
    if result.errors:
        lines += ["", "**Not everything could be reviewed:**"]
        lines += [f"- {e}" for e in result.errors]
    if result.skipped_files:
        lines += ["", f"Skipped {len(result.skipped_files)} file(s):"]
        lines += [f"- `{s.path}`: {s.reason}" for s in result.skipped_files[:30]]
        if len(result.skipped_files) > 30:
            lines.append(f"- ... and {len(result.skipped_files) - 30} more")
    if result.discarded:
        reasons = Counter(d.reason for d in result.discarded)
        lines += [
            "",
            "Suggestions held back: " + "; ".join(f"{n} {r}" for r, n in reasons.most_common()),
        ]
    return "\n".join(lines)


SUMMARY_START = "<!-- reviewflow:summary:start -->"
SUMMARY_END = "<!-- reviewflow:summary:end -->"


def change_summary(result: ReviewResult, file_stats: list[tuple[str, int, int]]) -> str:
    """A plain summary of the change, written without a model (the offline default)."""
    added = sum(a for _, a, _ in file_stats)
    removed = sum(d for _, _, d in file_stats)
    lines = [f"**reviewflow summary**: {len(file_stats)} file(s) changed, +{added} -{removed}."]
    for path, a, d in sorted(file_stats, key=lambda t: -(t[1] + t[2]))[:15]:
        lines.append(f"- `{path}` (+{a} -{d})")
    if result.pr_findings:
        lines.append("")
        lines += [f"- {f.severity.value}: {f.title}" for f in result.pr_findings]
    return "\n".join(lines)


def merge_description(existing: str, summary: str, mode: str) -> str:
    """Apply the summary to the PR description per ``summary.mode``; re-runs replace the
    earlier generated block instead of stacking a new one."""
    block = f"{SUMMARY_START}\n{summary}\n{SUMMARY_END}"
    if SUMMARY_START in existing and SUMMARY_END in existing:
        before, _, rest = existing.partition(SUMMARY_START)
        _, _, after = rest.partition(SUMMARY_END)
        return f"{before}{block}{after}"
    if mode == "replace" or not existing.strip():
        return block
    if mode == "concatenate":
        return f"{existing.rstrip()}\n\n{block}"
    # complement: keep the author's words first, add what is missing
    return f"{existing.rstrip()}\n\n---\n{block}"


def decide_verdict(config: ReviewConfig, result: ReviewResult) -> tuple[Verdict, str]:
    """Stage 17: request changes on a critical finding (when enabled; found counts, posted or
    held back); approve only a clean, complete run (when enabled); otherwise a plain comment
    review."""
    critical = result.counts.get(Severity.CRITICAL.value, 0)
    high = result.counts.get(Severity.HIGH.value, 0)
    if config.request_changes and critical:
        return Verdict.REQUEST_CHANGES, f"{critical} critical finding(s) need changes."
    if result.partial:
        return (
            Verdict.COMMENT,
            "The review was partial, so it neither approves nor blocks: "
            + "; ".join(result.errors),
        )
    if config.approve and not result.suggestions and not result.pr_findings:
        return Verdict.APPROVE, "No findings: approved."
    if critical or high:
        return Verdict.COMMENT, f"{critical + high} important finding(s) to look at."
    return Verdict.COMMENT, "Review complete."
