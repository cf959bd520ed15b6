"""Syntax-tree analysis of a change (tree-sitter): symbols, callers, breaking changes, and the
offline reviewer used when no LLM is configured."""

from shared.analysis.ast_report import (
    AffectedSymbol,
    AstReport,
    BreakingChange,
    CallerRef,
    ParseIssue,
    analyze_change,
)
from shared.analysis.languages import LanguageName, detect_language
from shared.analysis.offline_reviewer import is_test_file, review_file, review_pr_offline
from shared.analysis.symbols import (
    CallSite,
    Symbol,
    extract_calls,
    extract_symbols,
    index_source,
    symbols_at_lines,
)

__all__ = [
    "AffectedSymbol",
    "AstReport",
    "BreakingChange",
    "CallSite",
    "CallerRef",
    "LanguageName",
    "ParseIssue",
    "Symbol",
    "analyze_change",
    "detect_language",
    "extract_calls",
    "extract_symbols",
    "index_source",
    "is_test_file",
    "review_file",
    "review_pr_offline",
    "symbols_at_lines",
]
