"""Structural analysis of a change: which symbols it touches, who calls them, what may break.

:func:`analyze_change` is pure: it gets the changed files (head content), the changed line
numbers, the base-side sources of the changed files and the head-side sources of the rest of
the repository, and returns an :class:`AstReport`.

How callers are found: by simple name (``helper(...)``, ``obj.helper(...)``), narrowed so that
a match is likely the changed symbol and not a namesake:

* a top-level function is called from another file only through an import of that name from
  a module of the repository, or through a module alias whose last component is the defining
  file's module (``utils.helper()`` for ``.../utils.py``);
* a method is called as ``something.method(...)``; from another file only when that file
  mentions the class by name (an import, a type annotation, a subclass);
* ``Class.__init__`` / ``constructor`` are called as ``Class(...)`` / ``new Class(...)``.

A breaking-change candidate is a function or method whose signature differs between base and
head (or that was removed) and that has at least one call site the new signature no longer
fits: the arguments do not bind (too many, too few, an unknown keyword), a positional argument
now lands in a differently named or typed parameter, or the call cannot be checked (argument
unpacking) and was not touched by the change.

Each file is parsed once per side. Repository files are parsed only when their text mentions
one of the names searched for.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Literal

from pydantic import Field

from shared.analysis.languages import (
    LanguageName,
    detect_language,
    file_extension,
    is_javascript_like,
)
from shared.analysis.symbols import (
    CallSite,
    ImportBinding,
    Parameter,
    SourceIndex,
    Symbol,
    SymbolKind,
    index_source,
    map_lines_to_symbols,
)
from shared.analyzers.runner import ToolRun
from shared.models import ChangedFile, FileStatus, Frozen, SkippedFile, Suggestion

# callers kept per symbol in the report (the total is in ``caller_count``)
MAX_CALLERS = 50
# callees kept per symbol in the report
MAX_CALLEES = 50

_SELF_NAMES = frozenset({"self", "cls", "this"})
_CONSTRUCTORS = frozenset({"__init__", "constructor"})


class CallerRef(Frozen):
    path: str
    line: int = Field(ge=1)
    # qualified name of the calling symbol; None for module-level code
    caller: str | None = None
    # the call as written, e.g. ``self.store.save`` or ``new Client``
    call: str = ""
    # why the call no longer fits the new signature, when that can be told
    problem: str | None = None


class AffectedSymbol(Frozen):
    path: str
    name: str
    qualified_name: str
    kind: SymbolKind
    start_line: int = Field(ge=1)
    end_line: int = Field(ge=1)
    signature: str = ""
    # the changed lines (new side) whose innermost symbol this is
    changed_lines: list[int] = Field(default_factory=list)
    # functions and methods only
    callers: list[CallerRef] = Field(default_factory=list)
    caller_count: int = 0
    callees: list[str] = Field(default_factory=list)


class BreakingChange(Frozen):
    path: str
    symbol: str
    change: Literal["signature_changed", "removed"] = "signature_changed"
    old_signature: str
    # None when the symbol was removed
    new_signature: str | None
    callers: list[CallerRef] = Field(default_factory=list)
    caller_count: int = 0


class ParseIssue(Frozen):
    path: str
    # lines holding syntax errors (the file was still analysed, tree-sitter recovers)
    lines: list[int] = Field(default_factory=list)


class AstReport(Frozen):
    affected_symbols: list[AffectedSymbol] = Field(default_factory=list)
    breaking_changes: list[BreakingChange] = Field(default_factory=list)
    # changed files parsed on the head side
    files_parsed: list[str] = Field(default_factory=list)
    files_skipped: list[SkippedFile] = Field(default_factory=list)
    parse_errors: list[ParseIssue] = Field(default_factory=list)
    # other repository files parsed while looking for callers
    repo_files_scanned: int = 0
    # the trusted analyzers' findings on changed lines (Ruff, oxlint, detect-secrets), and
    # how each tool's run went
    analyzer_findings: list[Suggestion] = Field(default_factory=list)
    analyzer_runs: list[ToolRun] = Field(default_factory=list)


# ---------------------------------------------------------------------------- helpers


def _module_stem(path: str) -> str:
    """``pkg/utils.py`` → ``utils``; ``pkg/__init__.py`` and ``lib/index.ts`` → the folder."""
    pure = PurePosixPath(path)
    if pure.stem in ("__init__", "index") and pure.parent.name:
        return pure.parent.name
    return pure.stem


def _last_component(module: str) -> str:
    parts = [part for part in re.split(r"[./]", module) if part]
    if not parts:
        return ""
    last = parts[-1]
    if last in ("index", "__init__") and len(parts) > 1:
        return parts[-2]
    return last


def _normalized_signature(signature: str) -> str:
    return "".join(signature.split()).replace(",)", ")")


def _same_language_family(a: LanguageName, b: LanguageName) -> bool:
    return is_javascript_like(a) == is_javascript_like(b)


@dataclass
class _FileFacts:
    """One parsed file plus the lookups caller matching needs (built lazily)."""

    path: str
    text: str
    index: SourceIndex
    _calls_by_name: dict[str, list[CallSite]] | None = None
    _by_qualified: dict[str, Symbol] | None = None
    _mentions: dict[str, bool] = field(default_factory=dict)

    @property
    def language(self) -> LanguageName:
        return self.index.language

    def calls_named(self, name: str) -> list[CallSite]:
        if self._calls_by_name is None:
            grouped: dict[str, list[CallSite]] = {}
            for call in self.index.calls:
                grouped.setdefault(call.callee, []).append(call)
            self._calls_by_name = grouped
        return self._calls_by_name.get(name, [])

    def symbol(self, qualified_name: str) -> Symbol | None:
        if self._by_qualified is None:
            lookup: dict[str, Symbol] = {}
            for symbol in self.index.symbols:
                lookup.setdefault(symbol.qualified_name, symbol)
            self._by_qualified = lookup
        return self._by_qualified.get(qualified_name)

    def mentions(self, word: str) -> bool:
        found = self._mentions.get(word)
        if found is None:
            pattern = rf"(?<![\w$]){re.escape(word)}(?![\w$])"
            found = re.search(pattern, self.text) is not None
            self._mentions[word] = found
        return found

    def bindings(self, local: str) -> list[ImportBinding]:
        return [b for b in self.index.imports if b.local == local]


@dataclass(frozen=True)
class _Target:
    """A function or method whose callers are wanted."""

    path: str
    symbol: Symbol
    language: LanguageName

    @property
    def is_constructor(self) -> bool:
        return self.symbol.name in _CONSTRUCTORS and self.symbol.container is not None

    @property
    def class_name(self) -> str | None:
        if self.symbol.container is None:
            return None
        return self.symbol.container.rsplit(".", 1)[-1]

    @property
    def call_name(self) -> str:
        return _call_name(self.symbol)


def _call_name(symbol: Symbol) -> str:
    """The name call sites use: the class name for constructors."""
    if symbol.name in _CONSTRUCTORS and symbol.container is not None:
        return symbol.container.rsplit(".", 1)[-1]
    return symbol.name


@dataclass(frozen=True)
class _Match:
    path: str
    call: CallSite
    # the first parameter (self/cls) is implicit for this call
    drops_first: bool


class _CallerFinder:
    def __init__(self, files: Mapping[str, _FileFacts], repo_names: frozenset[str]) -> None:
        self.files = files
        self.repo_names = repo_names

    def _internal(self, module: str, language: LanguageName) -> bool:
        if module.startswith((".", "/")):
            return True
        if language == "python":
            first = module.split(".")[0]
        else:
            first = next((p for p in module.lstrip("@~").split("/") if p), "")
        return first in self.repo_names

    def _module_of_receiver(self, facts: _FileFacts, receiver: str) -> str | None:
        """The module a receiver like ``utils`` or ``pkg.utils`` refers to (last component)."""
        parts = receiver.split(".")
        for binding in reversed(facts.bindings(parts[0])):
            if facts.language == "python":
                base = (
                    binding.module if binding.name is None else f"{binding.module}.{binding.name}"
                )
                return _last_component(".".join([base, *parts[1:]]))
            if binding.name in ("*", "default") and len(parts) == 1:
                return _last_component(binding.module)
        return None

    def _imported_as(self, facts: _FileFacts, target: _Target) -> set[str]:
        """Local names under which ``facts`` imports ``target`` (a top-level name)."""
        wanted = target.call_name
        locals_: set[str] = set()
        stem = _module_stem(target.path)
        for binding in facts.index.imports:
            if binding.name == wanted and self._internal(binding.module, facts.language):
                locals_.add(binding.local)
            elif (
                binding.name == "*"
                and binding.local == "*"
                and _last_component(binding.module) == stem
            ):
                locals_.add(wanted)  # Python star import of the defining module
        return locals_

    def find(self, target: _Target) -> list[_Match]:
        symbol = target.symbol
        matches: list[_Match] = []
        for facts in self.files.values():
            if not _same_language_family(facts.language, target.language):
                continue
            if target.is_constructor or symbol.kind == "function":
                matches.extend(self._function_calls(facts, target))
            elif symbol.container is not None:
                matches.extend(self._method_calls(facts, target))
            elif facts.path == target.path:
                # object-literal or prototype member: only `x.name(...)` in its own file
                matches.extend(
                    _Match(facts.path, call, False)
                    for call in facts.calls_named(symbol.name)
                    if call.receiver is not None
                )
        matches.sort(key=lambda m: (m.path != target.path, m.path, m.call.line))
        return matches

    def _function_calls(self, facts: _FileFacts, target: _Target) -> list[_Match]:
        """Calls of a function, or of a class (its constructor)."""
        same_file = facts.path == target.path
        if target.symbol.nested and not same_file:
            return []
        js = is_javascript_like(target.language)
        drops_first = target.is_constructor and not js

        def usable(call: CallSite) -> bool:
            return call.is_new if target.is_constructor and js else True

        found: list[_Match] = []
        if same_file:
            for call in facts.calls_named(target.call_name):
                if call.receiver is None and usable(call):
                    found.append(_Match(facts.path, call, drops_first))
            return found
        # helper(...) where helper is imported (possibly under an alias)
        for local in sorted(self._imported_as(facts, target)):
            for call in facts.calls_named(local):
                if call.receiver is None and usable(call):
                    found.append(_Match(facts.path, call, drops_first))
        # utils.helper(...) where utils is the defining module
        stem = _module_stem(target.path)
        for call in facts.calls_named(target.call_name):
            if call.receiver is None or not usable(call):
                continue
            if self._module_of_receiver(facts, call.receiver) == stem:
                found.append(_Match(facts.path, call, drops_first))
        return found

    def _method_calls(self, facts: _FileFacts, target: _Target) -> list[_Match]:
        symbol = target.symbol
        class_name = target.class_name or ""
        same_file = facts.path == target.path
        if not same_file and not facts.mentions(class_name):
            return []
        static = "staticmethod" in symbol.decorators
        classmethod = "classmethod" in symbol.decorators
        found: list[_Match] = []
        for call in facts.calls_named(symbol.name):
            if call.receiver is None or call.is_new:
                continue
            if call.receiver in _SELF_NAMES and call.enclosing is not None:
                # self.method() inside another class that defines its own method of that name
                caller = facts.symbol(call.enclosing)
                owner = caller.container if caller is not None else None
                if (
                    owner is not None
                    and owner != symbol.container
                    and facts.symbol(f"{owner}.{symbol.name}") is not None
                ):
                    continue
            if is_javascript_like(target.language) or static:
                drops_first = False
            else:
                # C.method(obj, ...) passes self explicitly; classmethods get cls implicitly
                drops_first = classmethod or call.receiver != class_name
            found.append(_Match(facts.path, call, drops_first))
        return found


# ---------------------------------------------------------------------------- fitting calls


def _positional_slots(params: Iterable[Parameter]) -> list[Parameter]:
    return [p for p in params if p.kind in ("positional_only", "positional")]


def _binding_problem(params: tuple[Parameter, ...], call: CallSite, python: bool) -> str | None:
    """Why ``call`` cannot bind to ``params`` (None when it binds)."""
    slots = _positional_slots(params)
    has_var_positional = any(p.kind == "var_positional" for p in params)
    count = call.positional_args
    if count > len(slots) and not has_var_positional:
        return (
            f"passes {count} positional argument{'s' if count != 1 else ''} "
            f"but the new signature accepts at most {len(slots)}"
        )
    if not python:
        required = max((i + 1 for i, p in enumerate(slots) if not p.optional), default=0)
        if count < required:
            return (
                f"passes {count} argument{'s' if count != 1 else ''} "
                f"but the new signature requires {required}"
            )
        return None
    bound = {p.name for p in slots[:count]}
    has_var_keyword = any(p.kind == "var_keyword" for p in params)
    by_keyword = {p.name: p for p in params if p.kind in ("positional", "keyword_only")}
    for keyword in call.keyword_args:
        if keyword in by_keyword:
            bound.add(keyword)
        elif not has_var_keyword:
            return f"passes keyword argument `{keyword}`, which the new signature does not accept"
    missing = [
        p.name
        for p in params
        if p.kind in ("positional_only", "positional", "keyword_only")
        and not p.optional
        and p.name not in bound
    ]
    if missing:
        names = ", ".join(f"`{name}`" for name in missing)
        return f"does not pass the required argument{'s' if len(missing) > 1 else ''} {names}"
    return None


def _moved_argument(
    old: tuple[Parameter, ...], new: tuple[Parameter, ...], call: CallSite, python: bool
) -> str | None:
    """A positional argument that now lands in another parameter, or one whose type changed.

    A renamed parameter alone is not reported (positional calls still work; Python keyword
    calls are caught by the binding check): only a name that moved to another position.
    Python annotations are not compared (rewrites like ``Optional[X]`` → ``X | None`` are
    common and harmless at run time).
    """
    old_slots = _positional_slots(old)
    new_slots = _positional_slots(new)
    old_names = {p.name for p in old_slots}
    new_names = {p.name for p in new_slots}
    for position in range(min(call.positional_args, len(old_slots), len(new_slots))):
        before, after = old_slots[position], new_slots[position]
        if before.name != after.name and (before.name in new_names or after.name in old_names):
            return (
                f"its argument {position + 1} was for `{before.name}` and now goes to "
                f"`{after.name}`"
            )
        if (
            not python
            and before.annotation
            and after.annotation
            and before.annotation != after.annotation
        ):
            return (
                f"parameter `{after.name}` changed type from `{before.annotation}` "
                f"to `{after.annotation}`"
            )
    return None


def _drop_first(params: tuple[Parameter, ...]) -> tuple[Parameter, ...]:
    if params and params[0].kind in ("positional_only", "positional"):
        return params[1:]
    return params


# ---------------------------------------------------------------------------- the analysis


@dataclass
class _Analysis:
    changed_lines: Mapping[str, set[int]]
    files: dict[str, _FileFacts] = field(default_factory=dict)
    skipped: list[SkippedFile] = field(default_factory=list)
    parse_errors: list[ParseIssue] = field(default_factory=list)

    def updated(self, path: str, line: int) -> bool:
        return line in self.changed_lines.get(path, ())


def _skip_reason(file: ChangedFile) -> str:
    if file.binary:
        return "binary file"
    extension = file_extension(file.path) or "no extension"
    return f"unsupported language ({extension}): only Python, JavaScript and TypeScript are parsed"


def _caller_ref(match: _Match, problem: str | None) -> CallerRef:
    return CallerRef(
        path=match.path,
        line=match.call.line,
        caller=match.call.enclosing,
        call=match.call.display,
        problem=problem,
    )


def analyze_change(
    files: list[ChangedFile],
    changed_lines: dict[str, set[int]],
    base_sources: dict[str, str],
    repo_sources: dict[str, str],
) -> AstReport:
    """Map the change onto symbols, their callers and callees, and breaking-change candidates.

    ``changed_lines``: per path, the new-side line numbers added or modified by the change.
    ``base_sources``: per path (the previous path for renames), the base-side content of
    changed files. ``repo_sources``: per path, the head-side content of the repository's other
    files (changed files may be included; their ``content`` wins).
    """
    analysis = _Analysis(changed_lines=changed_lines)
    files_parsed: list[str] = []
    head_paths: list[str] = []
    removed: list[ChangedFile] = []
    for file in files:
        language = detect_language(file.path)
        if file.binary or language is None:
            analysis.skipped.append(SkippedFile(path=file.path, reason=_skip_reason(file)))
            continue
        if file.status == FileStatus.REMOVED:
            removed.append(file)
            continue
        text = file.content if file.content is not None else repo_sources.get(file.path)
        if text is None:
            analysis.skipped.append(
                SkippedFile(path=file.path, reason="head content not available")
            )
            continue
        index = index_source(text, language)
        analysis.files[file.path] = _FileFacts(path=file.path, text=text, index=index)
        if index.has_errors:
            analysis.parse_errors.append(ParseIssue(path=file.path, lines=list(index.error_lines)))
        files_parsed.append(file.path)
        head_paths.append(file.path)

    # symbols touched by the change
    touched: list[tuple[str, Symbol, list[int]]] = []
    for path in head_paths:
        facts = analysis.files[path]
        by_symbol: dict[tuple[str, int], tuple[Symbol, list[int]]] = {}
        line_map = map_lines_to_symbols(facts.index.symbols, changed_lines.get(path, ()))
        for line, symbol in line_map.items():
            key = (symbol.qualified_name, symbol.start_line)
            by_symbol.setdefault(key, (symbol, []))[1].append(line)
        for symbol, lines in sorted(by_symbol.values(), key=lambda item: item[0].start_line):
            touched.append((path, symbol, lines))

    # signature changes and removals against the base side
    changed_signatures: list[tuple[str, Symbol, Symbol]] = []
    removed_symbols: list[tuple[str, Symbol]] = []
    changed_by_path = {file.path: file for file in files}
    for path in head_paths:
        file = changed_by_path[path]
        base_text = base_sources.get(file.previous_path or path)
        if base_text is None:
            base_text = base_sources.get(path)
        if base_text is None or file.status == FileStatus.ADDED:
            continue
        head_index = analysis.files[path].index
        base_index = index_source(base_text, head_index.language)
        head_by_name: dict[str, Symbol] = {}
        for symbol in head_index.symbols:
            head_by_name.setdefault(symbol.qualified_name, symbol)
        seen: set[str] = set()
        for old in base_index.symbols:
            if not old.is_callable or old.qualified_name in seen:
                continue
            seen.add(old.qualified_name)
            new = head_by_name.get(old.qualified_name)
            if new is None:
                removed_symbols.append((path, old))
                continue
            if not new.is_callable:
                continue
            if _normalized_signature(old.signature) != _normalized_signature(new.signature):
                changed_signatures.append((path, old, new))
    for file in removed:
        language = detect_language(file.path)
        base_text = base_sources.get(file.path)
        if language is None or base_text is None:
            continue
        for old in index_source(base_text, language).symbols:
            if old.is_callable and not old.nested:
                removed_symbols.append((file.path, old))

    # parse the rest of the repository where it mentions a name we look for
    languages = {path: analysis.files[path].language for path in head_paths}
    for file in removed:
        removed_language = detect_language(file.path)
        if removed_language is not None:
            languages[file.path] = removed_language
    wanted = {_call_name(symbol) for _, symbol, _ in touched if symbol.is_callable}
    wanted.update(_call_name(old) for _, old, _ in changed_signatures)
    wanted.update(_call_name(old) for _, old in removed_symbols)
    removed_paths = {file.path for file in removed}
    scanned = 0
    if wanted:
        pattern = re.compile(
            r"(?<![\w$])(?:"
            + "|".join(re.escape(name) for name in sorted(wanted, key=len, reverse=True))
            + r")(?![\w$])"
        )
        for path, text in repo_sources.items():
            if path in analysis.files or path in removed_paths:
                continue
            language = detect_language(path)
            if language is None or pattern.search(text) is None:
                continue
            index = index_source(text, language)
            analysis.files[path] = _FileFacts(path=path, text=text, index=index)
            scanned += 1

    repo_names = frozenset(
        part
        for path in [*repo_sources, *changed_by_path]
        for part in (*PurePosixPath(path).parent.parts, PurePosixPath(path).stem)
    )
    finder = _CallerFinder(analysis.files, repo_names)

    affected: list[AffectedSymbol] = []
    for path, symbol, lines in touched:
        callers: list[CallerRef] = []
        callees: list[str] = []
        caller_count = 0
        if symbol.is_callable:
            matches = finder.find(_Target(path, symbol, languages[path]))
            caller_count = len(matches)
            callers = [_caller_ref(match, None) for match in matches[:MAX_CALLERS]]
            for call in analysis.files[path].index.calls:
                if call.enclosing == symbol.qualified_name and call.display not in callees:
                    callees.append(call.display)
        affected.append(
            AffectedSymbol(
                path=path,
                name=symbol.name,
                qualified_name=symbol.qualified_name,
                kind=symbol.kind,
                start_line=symbol.start_line,
                end_line=symbol.end_line,
                signature=symbol.signature,
                changed_lines=sorted(lines),
                callers=callers,
                caller_count=caller_count,
                callees=callees[:MAX_CALLEES],
            )
        )

    breaking: list[BreakingChange] = []
    for path, old, new in changed_signatures:
        target = _Target(path, new, languages[path])
        python = target.language == "python"
        broken: list[CallerRef] = []
        for match in finder.find(target):
            old_params, new_params = old.parameters, new.parameters
            if match.drops_first:
                old_params, new_params = _drop_first(old_params), _drop_first(new_params)
            if match.call.has_unpacking:
                if not analysis.updated(match.path, match.call.line):
                    broken.append(_caller_ref(match, None))
                continue
            problem = _binding_problem(new_params, match.call, python) or _moved_argument(
                old_params, new_params, match.call, python
            )
            if problem is not None:
                broken.append(_caller_ref(match, problem))
        if broken:
            breaking.append(
                BreakingChange(
                    path=path,
                    symbol=new.qualified_name,
                    old_signature=old.signature,
                    new_signature=new.signature,
                    callers=broken[:MAX_CALLERS],
                    caller_count=len(broken),
                )
            )

    defined_at_head = {
        symbol.name
        for facts in analysis.files.values()
        for symbol in facts.index.symbols
        if symbol.is_callable
    }
    for path, old in removed_symbols:
        target = _Target(path, old, languages[path])
        if target.is_constructor or old.name in defined_at_head:
            # a class without its own constructor is still callable; a name still defined
            # somewhere (moved, or a namesake) makes a matching call no proof of breakage
            continue
        problem = f"calls `{old.name}`, which this change removes"
        matches = [m for m in finder.find(target) if m.path not in removed_paths]
        if matches:
            breaking.append(
                BreakingChange(
                    path=path,
                    symbol=old.qualified_name,
                    change="removed",
                    old_signature=old.signature,
                    new_signature=None,
                    callers=[_caller_ref(m, problem) for m in matches[:MAX_CALLERS]],
                    caller_count=len(matches),
                )
            )

    return AstReport(
        affected_symbols=affected,
        breaking_changes=breaking,
        files_parsed=files_parsed,
        files_skipped=analysis.skipped,
        parse_errors=analysis.parse_errors,
        repo_files_scanned=scanned,
    )
