"""What the AST branch hands on: impact context for the LLM reviews (callers of the changed
symbols, breaking changes) and its PR-level findings, merged at the join."""

from collections.abc import Iterable, Sequence

from shared.analysis.ast_report import AstReport
from shared.analysis.offline_reviewer import breaking_finding
from shared.models import PrFinding

MAX_IMPACT_CHARS = 6_000
MAX_CALLERS_SHOWN = 5


def impact_context(report: AstReport, paths: Iterable[str] | None = None) -> str:
    """A short text for a reviewer: which changed symbols are called from where, and which
    calls the change breaks. ``paths`` limits it to symbols of those files."""
    wanted = set(paths) if paths is not None else None
    lines: list[str] = []
    for change in report.breaking_changes:
        if wanted is not None and change.path not in wanted:
            continue
        new = change.new_signature or "(removed)"
        lines.append(
            f"- BREAKING: `{change.symbol}` in {change.path}: `{change.old_signature}` -> "
            f"`{new}`; {change.caller_count} call site(s) still use the old form"
            + _callers(c.path for c in change.callers)
        )
    for symbol in report.affected_symbols:
        if wanted is not None and symbol.path not in wanted:
            continue
        if not symbol.caller_count:
            continue
        lines.append(
            f"- `{symbol.qualified_name}` ({symbol.path}:{symbol.start_line}) is changed and "
            f"called from {symbol.caller_count} place(s)"
            + _callers(f"{c.path}:{c.line}" for c in symbol.callers)
        )
    if not lines:
        return ""
    text = "Impact of the change (from the AST analysis):\n" + "\n".join(lines)
    return text[:MAX_IMPACT_CHARS]


def _callers(where: Iterable[str]) -> str:
    shown = list(dict.fromkeys(where))[:MAX_CALLERS_SHOWN]
    return f": {', '.join(shown)}" if shown else ""


def ast_pr_findings(report: AstReport) -> list[PrFinding]:
    """The AST branch's own PR-level findings: calls that the change breaks."""
    return [breaking_finding(change) for change in report.breaking_changes]


def merge_pr_findings(*groups: Sequence[PrFinding]) -> list[PrFinding]:
    """One finding per problem: the first of each fingerprint wins (pass the branch whose
    wording should win first)."""
    seen: dict[str, PrFinding] = {}
    for group in groups:
        for finding in group:
            seen.setdefault(finding.fingerprint, finding)
    return list(seen.values())
