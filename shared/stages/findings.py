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
    if s.rule and s.doc_url:
        body += f"\n\nRule [`{s.rule}`]({s.doc_url})."
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


# Rules of different tools (and our own tree-sitter rules) that name the same kind of problem:
# findings of one kind on overlapping lines of a file are one problem.
PROBLEM_KINDS: dict[str, frozenset[str]] = {
    "sql-injection": frozenset({"S608", "S610", "S611", "js-sql-injection"}),
    "hardcoded-secret": frozenset(
        {
            "S105",
            "S106",
            "S107",
            "AWSKeyDetector",
            "ArtifactoryDetector",
            "AzureStorageKeyDetector",
            "BasicAuthDetector",
            "CloudantDetector",
            "DiscordBotTokenDetector",
            "GitHubTokenDetector",
            "GitLabTokenDetector",
            "IbmCloudIamDetector",
            "IbmCosHmacDetector",
            "JwtTokenDetector",
            "KeywordDetector",
            "MailchimpDetector",
            "NpmDetector",
            "OpenAIDetector",
            "PrivateKeyDetector",
            "PypiTokenDetector",
            "SendGridDetector",
            "SlackDetector",
            "SoftlayerDetector",
            "SquareOAuthDetector",
            "StripeDetector",
            "TelegramBotTokenDetector",
            "TwilioKeyDetector",
            "Base64HighEntropyString",
            "HexHighEntropyString",
        }
    ),
    "swallowed-exception": frozenset({"S110", "S112", "BLE001", "E722", "eslint/no-empty"}),
    "blocking-call-in-async": frozenset(
        {"ASYNC210", "ASYNC220", "ASYNC221", "ASYNC222", "ASYNC230", "ASYNC251", "S113"}
    ),
    "code-execution": frozenset(
        {"S102", "S307", "eslint/no-eval", "eslint/no-new-func", "eslint/no-implied-eval"}
    ),
    "command-injection": frozenset({"S602", "S604", "S605", "S609", "js-command-injection"}),
    "unsafe-deserialization": frozenset({"S301", "S302", "S506"}),
    "path-traversal": frozenset({"S202", "py-path-traversal", "js-path-traversal"}),
    "xss": frozenset({"S701", "S702", "react/no-danger", "js-xss-sink"}),
    "missing-await": frozenset({"RUF006", "py-missing-await", "js-missing-await"}),
    "self-assignment": frozenset({"PLW0127", "eslint/no-self-assign", "py-self-assignment"}),
    "mutable-default": frozenset({"B006", "B039", "RUF024"}),
    "off-by-one": frozenset({"py-range-len-off-by-one", "js-loop-off-by-one"}),
}
_KIND_OF_RULE = {rule: kind for kind, rules in PROBLEM_KINDS.items() for rule in rules}
_SOURCE_RANK = {"analyzer": 0, "ast": 1, "offline": 1, "llm": 2}


def problem_kind(s: Suggestion) -> str | None:
    """The kind of problem a finding names; None for a finding without a rule (an LLM's)."""
    if not s.rule:
        return None
    return _KIND_OF_RULE.get(s.rule, s.rule)


def _same_problem(a: Suggestion, b: Suggestion) -> bool:
    if a.path != b.path or a.start_line > b.end_line or b.start_line > a.end_line:
        return False
    kind_a, kind_b = problem_kind(a), problem_kind(b)
    if kind_a is None or kind_b is None:
        return a.category == b.category
    return kind_a == kind_b


def _merge_group(group: list[Suggestion]) -> Suggestion:
    # the anchor: the most precise finding (an analyzer's rule, then ours, then the LLM's)
    anchor = min(group, key=lambda s: (_SOURCE_RANK[s.source], -s.severity.rank, s.start_line))
    if len(group) == 1:
        return anchor
    explained = next((s for s in group if s.source == "llm"), None)
    message = explained.message if explained is not None else anchor.message
    replacement = anchor.replacement
    if replacement is None:
        replacement = next((s.replacement for s in group if s.replacement is not None), None)
    return anchor.model_copy(
        update={
            "severity": max((s.severity for s in group), key=lambda sev: sev.rank),
            "message": message,
            "replacement": replacement,
            # the fingerprint must not follow an LLM's wording from run to run
            "identity": anchor.identity or anchor.message.strip().lower(),
        }
    )


def merge_findings(*sources: Iterable[Suggestion]) -> list[Suggestion]:
    """One finding per problem: findings of analyzers, tree-sitter rules and the LLM on the
    same file, overlapping lines and the same kind of problem (same kind by rule, or the same
    category for a finding without a rule) become one. It keeps the most precise anchor with
    its rule id and documentation link, the highest severity, the LLM's explanation when there
    is one (else the anchor's message) and a replacement if any finding had one. Ranked best
    first, like :func:`filter_suggestions`."""
    findings = [s for source in sources for s in source]
    parent = list(range(len(findings)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    by_path: dict[str, list[int]] = {}
    for index, finding in enumerate(findings):
        by_path.setdefault(finding.path, []).append(index)
    for indices in by_path.values():
        for position, i in enumerate(indices):
            for j in indices[position + 1 :]:
                if _same_problem(findings[i], findings[j]):
                    parent[root(j)] = root(i)
    groups: dict[int, list[Suggestion]] = {}
    for index, finding in enumerate(findings):
        groups.setdefault(root(index), []).append(finding)
    merged = [_merge_group(group) for group in groups.values()]
    merged.sort(key=lambda s: (-score(s), s.path, s.start_line))
    return merged


def with_analyzer_findings(
    reviewed: Iterable[Suggestion],
    analyzer: Iterable[Suggestion],
    config: ReviewConfig,
    added: dict[str, set[int]],
    rejected: list[RejectedKind],
) -> tuple[list[Suggestion], list[DiscardedSuggestion]]:
    """Stage 13's input: the per-file review's ranked suggestions together with the AST
    stage's analyzer findings, which first pass the same filter (disabled categories, lines
    outside the diff, kinds the team rejects, the offline self-check). One finding per
    problem, ranked; and what the filter held back."""
    kept, held_back = filter_suggestions(analyzer, config, added, rejected, offline_self_check)
    return merge_findings(reviewed, kept), held_back


class FileReviewOutput(Frozen):
    """What the per-file review branch stores: ranked survivors and what was discarded."""

    suggestions: tuple[Suggestion, ...]
    discarded: tuple[DiscardedSuggestion, ...]
    files_reviewed: int
    files_failed: tuple[str, ...] = ()
