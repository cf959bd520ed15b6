"""Stage 11's filter and ranking, and stages 12-13's plans of what to post. Pure functions."""

from collections.abc import Callable, Iterable

from shared.config import ReviewConfig
from shared.diff import PatchLines, anchor
from shared.git.base import InlineComment, PostedComment, with_fingerprint
from shared.models import (
    Category,
    DiscardedSuggestion,
    Frozen,
    PrFinding,
    Severity,
    Suggestion,
)
from shared.stages.preparation import RejectedKind

CATEGORY_WEIGHT: dict[Category, int] = {
    Category.SECURITY: 50,
    Category.BUG: 40,
    Category.BREAKING_CHANGE: 35,
    Category.PERFORMANCE: 25,
    Category.MAINTAINABILITY: 15,
    Category.DOCS: 5,
    Category.STYLE: 0,
}
SEVERITY_WEIGHT: dict[Severity, int] = {
    Severity.CRITICAL: 60,
    Severity.HIGH: 40,
    Severity.MEDIUM: 20,
    Severity.LOW: 0,
}


def score(suggestion: Suggestion) -> int:
    return CATEGORY_WEIGHT[suggestion.category] + SEVERITY_WEIGHT[suggestion.severity]


def filter_suggestions(
    suggestions: Iterable[Suggestion],
    config: ReviewConfig,
    added: dict[str, set[int]],
    rejected: list[RejectedKind],
    self_check: Callable[[Suggestion], str | None] | None = None,
) -> tuple[list[Suggestion], list[DiscardedSuggestion]]:
    """Stage 11's filter: disabled categories, not touching the diff, kinds the team rejects,
    then the self-check (returns a discard reason or None); survivors ranked best first."""
    rejected_set = {(r.category, r.rule) for r in rejected}
    kept: list[Suggestion] = []
    discarded: list[DiscardedSuggestion] = []
    for s in suggestions:
        file_config = config.for_path(s.path)
        lines = added.get(s.path, set())
        reason: str | None = None
        if s.category not in file_config.categories:
            reason = f"category `{s.category}` is disabled"
        elif not any(n in lines for n in range(s.start_line, s.end_line + 1)):
            reason = "does not touch a changed line"
        elif (s.category, s.rule) in rejected_set or (s.category, "") in rejected_set:
            reason = "the team keeps rejecting this kind of suggestion"
        elif self_check is not None:
            reason = self_check(s)
        if reason is None:
            kept.append(s)
        else:
            discarded.append(DiscardedSuggestion(suggestion=s, reason=reason))
    kept.sort(key=lambda s: (-score(s), s.path, s.start_line))
    return kept, discarded


def offline_self_check(s: Suggestion) -> str | None:
    """The offline self-check: no LLM to ask, so discard what is cosmetic by construction."""
    if s.category is Category.STYLE and s.severity in (Severity.LOW, Severity.MEDIUM):
        return "cosmetic (self-check)"
    if s.replacement is not None and not s.replacement.strip():
        return "empty replacement (self-check)"
    return None


class PlannedComment(Frozen):
    comment: InlineComment
    fingerprint: str
    severity: Severity


class InlinePlan(Frozen):
    post: tuple[PlannedComment, ...]
    dropped: tuple[DiscardedSuggestion, ...]
    resolve: tuple[str, ...]
    already_posted: int


def _inline_body(
    s: Suggestion, others: list[Suggestion], committable: bool, single_line: bool
) -> str:
    head = f"**{s.severity.value.upper()}** · {s.category.value.replace('_', ' ')}"
    body = f"{head}\n\n{s.message}"
    if others:
        where = ", ".join(f"line {o.start_line}" for o in others[:5])
        body += f"\n\nThe same issue also appears at {where}."
    if committable and s.replacement is not None and single_line:
        body += f"\n\n```suggestion\n{s.replacement.rstrip()}\n```"
    elif s.replacement is not None:
        body += f"\n\nSuggested code:\n```\n{s.replacement.rstrip()}\n```"
    return body


def plan_inline_comments(
    ranked: list[Suggestion],
    config: ReviewConfig,
    patches: dict[str, PatchLines],
    existing: list[PostedComment],
    changed_now: dict[str, set[int]],
) -> InlinePlan:
    """Stage 13: severity filter, grouping of duplicates, limits, anchors checked against the
    parsed diff, fingerprints already on the PR skipped; earlier comments whose line changed
    in this push and whose finding is gone are resolved."""
    existing_fps = {c.fingerprint for c in existing if c.fingerprint}
    dropped: list[DiscardedSuggestion] = []
    groups: dict[str, list[Suggestion]] = {}
    for s in ranked:
        threshold = config.for_path(s.path).severity_filter
        if s.severity.rank < threshold.rank:
            dropped.append(
                DiscardedSuggestion(
                    suggestion=s,
                    reason=f"below the severity filter `{threshold.value}`",
                )
            )
            continue
        groups.setdefault(f"{s.path}\0{s.fingerprint}", []).append(s)

    limits = config.max_suggestions
    per_file: dict[str, int] = {}
    post: list[PlannedComment] = []
    already = 0
    for group in groups.values():
        first, others = group[0], group[1:]
        if first.fingerprint in existing_fps:
            already += 1
            continue
        if limits.limit_scope == "pr" and len(post) >= limits.limit:
            dropped.append(
                DiscardedSuggestion(
                    suggestion=first, reason="over `maxSuggestions.limit` for the PR"
                )
            )
            continue
        cap = limits.per_file if limits.limit_scope == "pr" else limits.limit
        if per_file.get(first.path, 0) >= cap:
            dropped.append(DiscardedSuggestion(suggestion=first, reason="over the per-file limit"))
            continue
        place = anchor(first.start_line, first.end_line, patches.get(first.path, PatchLines()))
        if place is None:
            dropped.append(
                DiscardedSuggestion(suggestion=first, reason="no line of it is part of the diff")
            )
            continue
        start, end = place
        exact = (start, end) == (first.start_line, first.end_line)
        body = _inline_body(first, others, config.committable_suggestions, exact and start == end)
        post.append(
            PlannedComment(
                comment=InlineComment(
                    path=first.path,
                    start_line=start,
                    end_line=end,
                    body=with_fingerprint(body, first.fingerprint),
                ),
                fingerprint=first.fingerprint,
                severity=first.severity,
            )
        )
        per_file[first.path] = per_file.get(first.path, 0) + 1

    current = {s.fingerprint for s in ranked}
    resolve = tuple(
        c.id
        for c in existing
        if c.kind == "inline"
        and not c.resolved
        and c.fingerprint
        and c.fingerprint not in current
        and c.path is not None
        and c.line is not None
        and c.line in changed_now.get(c.path, set())
    )
    return InlinePlan(
        post=tuple(post), dropped=tuple(dropped), resolve=resolve, already_posted=already
    )


def plan_pr_comments(
    findings: list[PrFinding], existing: list[PostedComment]
) -> list[tuple[str, str]]:
    """Stage 12: (fingerprint, body) of PR-level findings not already on the PR."""
    existing_fps = {c.fingerprint for c in existing if c.fingerprint}
    planned: list[tuple[str, str]] = []
    for finding in sorted(findings, key=lambda f: -f.severity.rank):
        if finding.fingerprint in existing_fps:
            continue
        body = (
            f"**{finding.severity.value.upper()}** · {finding.category.value.replace('_', ' ')}: "
            f"**{finding.title}**\n\n{finding.message}"
        )
        if finding.paths:
            body += "\n\nFiles: " + ", ".join(f"`{p}`" for p in finding.paths[:10])
        planned.append((finding.fingerprint, with_fingerprint(body, finding.fingerprint)))
        existing_fps.add(finding.fingerprint)
    return planned


class FileReviewOutput(Frozen):
    """What the per-file review branch stores: ranked survivors and what was discarded."""

    suggestions: tuple[Suggestion, ...]
    discarded: tuple[DiscardedSuggestion, ...]
    files_reviewed: int
    files_failed: tuple[str, ...] = ()
