"""``.reviewflow.yml``'s ``analyzers`` settings → which rules each tool runs, and which of its
findings apply to a path (per-path ``overrides`` may turn a tool off or add and drop rules).

Each tool runs once on all its files with the union of the rules any path wants; a finding is
then kept only where its rule applies to its path.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from shared.analyzers.catalog import Tool, default_rules, oxlint_rule_id
from shared.config import ReviewConfig, path_matches

# rules that are noise in tests (fake passwords, asserts, fixed temp paths)
TEST_FILE_IGNORES = frozenset({"S101", "S105", "S106", "S107", "S108", "S311", "KeywordDetector"})
_TEST_DIRS = frozenset({"test", "tests", "__tests__", "spec", "specs", "testing", "e2e"})
_TEST_FILE = re.compile(
    r"(^test_.*\.py$|_test\.py$|^conftest\.py$|\.(test|spec)\.[cm]?[jt]sx?$)", re.IGNORECASE
)


def is_test_path(path: str) -> bool:
    pure = PurePosixPath(path.lower())
    return any(p in _TEST_DIRS for p in pure.parts[:-1]) or bool(_TEST_FILE.search(pure.name))


def _normalize(tool: Tool, rule: str) -> str:
    if tool == "oxlint":
        return oxlint_rule_id(rule) or rule
    return rule


def _matches(tool: Tool, rule: str, selector: str) -> bool:
    if tool == "ruff":
        return rule.startswith(selector)
    return rule == selector


@dataclass(frozen=True)
class PathRules:
    enabled: bool
    include: tuple[str, ...]
    exclude: tuple[str, ...]


def rules_for_path(config: ReviewConfig, tool: Tool, path: str) -> PathRules:
    """The effective rules of ``tool`` for ``path``: the curated defaults, the repository's
    additions and removals, then each matching override in order."""
    settings = config.analyzers
    base = settings.tool(tool)
    enabled = settings.enabled and bool(getattr(base, "enabled", True))
    include = [*default_rules(tool), *(_normalize(tool, r) for r in base.extra_rules)]
    exclude = [_normalize(tool, r) for r in base.disabled_rules]
    explicit = set(include[len(default_rules(tool)) :])
    for override in config.overrides:
        if override.analyzers is None or not any(path_matches(path, g) for g in override.paths):
            continue
        if override.analyzers.enabled is not None:
            enabled = override.analyzers.enabled
        changes = override.analyzers.tool(tool)
        if changes is None:
            continue
        own = getattr(changes, "enabled", None)
        if own is not None:
            enabled = own
        extra = [_normalize(tool, r) for r in changes.extra_rules]
        include += extra
        explicit.update(extra)
        exclude = [r for r in exclude if r not in extra]
        exclude += [_normalize(tool, r) for r in changes.disabled_rules]
    if is_test_path(path):
        exclude += [r for r in sorted(TEST_FILE_IGNORES) if r not in explicit]
    return PathRules(enabled, tuple(dict.fromkeys(include)), tuple(dict.fromkeys(exclude)))


@dataclass(frozen=True)
class ToolSelection:
    tool: Tool
    # the rules the one run of the tool selects (every rule some path wants)
    run_rules: tuple[str, ...]
    per_path: dict[str, PathRules]

    def runs_on(self, path: str) -> bool:
        rules = self.per_path.get(path)
        return rules is not None and rules.enabled and bool(rules.include)

    def applies(self, path: str, rule: str) -> bool:
        rules = self.per_path.get(path)
        if rules is None or not rules.enabled:
            return False
        if any(_matches(self.tool, rule, s) for s in rules.exclude):
            return False
        return any(_matches(self.tool, rule, s) for s in rules.include)


def selection(config: ReviewConfig, tool: Tool, paths: Sequence[str]) -> ToolSelection:
    per_path = {path: rules_for_path(config, tool, path) for path in paths}
    wanted: dict[str, None] = {}
    for rules in per_path.values():
        if rules.enabled:
            wanted.update(dict.fromkeys(r for r in rules.include if r not in rules.exclude))
    return ToolSelection(tool=tool, run_rules=tuple(wanted), per_path=per_path)
