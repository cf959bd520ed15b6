"""Symbols, call sites and imports of one source file (pure functions over source text).

One parse and one walk over the syntax tree yield everything (:func:`index_source`):

* symbols: functions, methods and classes with their 1-based line range, qualified name
  (``Class.method``, ``outer.inner``) and signature (the parameter list as written);
* call sites: the callee's simple name, the receiver text for ``obj.name(...)`` calls, the line,
  the innermost enclosing symbol and the shape of the arguments (positional count, keyword names);
* import bindings: which local name refers to which module (or which name of a module).

JavaScript/TypeScript functions bound to a name (``const f = () => {}``, ``obj = { m() {} }``,
class fields holding arrow functions) are symbols too; anonymous callbacks are not: calls inside
them belong to the enclosing named symbol.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from tree_sitter import Node

from shared.analysis.languages import LanguageName, parse_source

SymbolKind = Literal["function", "method", "class"]
ParameterKind = Literal[
    "positional_only", "positional", "var_positional", "keyword_only", "var_keyword"
]

# how many syntax-error positions are kept per file
MAX_ERROR_LINES = 20
# receivers are kept for display and for module-alias matching; long ones are cut
MAX_RECEIVER_CHARS = 120

_SIMPLE_RECEIVER = re.compile(r"[\w$#]+(?:\??\.[\w$#]+)*")


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    kind: ParameterKind
    optional: bool = False
    # the type annotation without whitespace ("" when there is none)
    annotation: str = ""
    # the parameter as written (whitespace collapsed)
    text: str = ""


@dataclass(frozen=True, slots=True)
class Symbol:
    name: str
    qualified_name: str
    kind: SymbolKind
    start_line: int
    end_line: int
    # the parameter list as written, whitespace collapsed ("" for classes)
    signature: str = ""
    parameters: tuple[Parameter, ...] = ()
    decorators: tuple[str, ...] = ()
    # qualified name of the class a method belongs to
    container: str | None = None
    # defined inside a function body: not reachable from other modules
    nested: bool = False

    def contains(self, line: int) -> bool:
        return self.start_line <= line <= self.end_line

    @property
    def is_callable(self) -> bool:
        return self.kind != "class"


@dataclass(frozen=True, slots=True)
class CallSite:
    # the simple name called: ``helper`` for ``helper()``, ``self.helper()``, ``mod.helper()``
    callee: str
    line: int
    # qualified name of the innermost enclosing symbol; None at module level
    enclosing: str | None
    # source text of the object for ``obj.callee(...)`` calls; None for bare calls
    receiver: str | None = None
    # JavaScript/TypeScript ``new Callee(...)``
    is_new: bool = False
    positional_args: int = 0
    keyword_args: tuple[str, ...] = ()
    # ``*args``/``**kwargs``/``...spread`` or a tagged template: the argument count is unknown
    has_unpacking: bool = False

    @property
    def display(self) -> str:
        """The call as a short name: ``helper``, ``self.store.save``, ``(...).read``."""
        prefix = "new " if self.is_new else ""
        if self.receiver is None:
            return f"{prefix}{self.callee}"
        receiver = self.receiver if _SIMPLE_RECEIVER.fullmatch(self.receiver) else "(...)"
        return f"{prefix}{receiver}.{self.callee}"


@dataclass(frozen=True, slots=True)
class ImportBinding:
    """``local`` names ``module`` itself (``name`` None) or ``name`` imported from it.

    Python: ``module`` is the dotted module as written (may start with dots); ``import a.b``
    binds ``a`` to module ``a``. JavaScript: ``module`` is the import source string;
    ``name`` is ``"default"``, ``"*"`` (namespace / ``require`` of the whole module) or the
    exported name. A Python star import has ``local == name == "*"``.
    """

    local: str
    module: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class SourceIndex:
    language: LanguageName
    symbols: tuple[Symbol, ...]
    calls: tuple[CallSite, ...]
    imports: tuple[ImportBinding, ...]
    # lines holding ERROR or MISSING nodes (at most MAX_ERROR_LINES)
    error_lines: tuple[int, ...] = ()

    @property
    def has_errors(self) -> bool:
        return bool(self.error_lines)


def node_text(node: Node | None) -> str:
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8", errors="replace")


def collapse_whitespace(text: str) -> str:
    return " ".join(text.split())


def start_line(node: Node) -> int:
    return node.start_point.row + 1


def end_line(node: Node) -> int:
    return node.end_point.row + 1


def _signature_text(params: Node | None) -> str:
    if params is None:
        return ""
    text = collapse_whitespace(node_text(params))
    if text.startswith("("):
        text = re.sub(r"^\(\s+", "(", text)
        text = re.sub(r",?\s*\)$", ")", text)
    return text


def _annotation(node: Node | None) -> str:
    return "".join(node_text(node).split()).lstrip(":")


def _string_content(node: Node) -> str:
    text = node_text(node)
    if len(text) >= 2 and text[0] in "'\"`" and text[-1] == text[0]:
        return text[1:-1]
    return text


# ---------------------------------------------------------------------------- parameters


def _python_parameters(params: Node | None) -> tuple[Parameter, ...]:
    if params is None:
        return ()
    result: list[Parameter] = []
    keyword_only = False
    for child in params.named_children:
        kind_of = child.type
        if kind_of == "positional_separator":
            result = [
                replace(p, kind="positional_only") if p.kind == "positional" else p for p in result
            ]
            continue
        if kind_of == "keyword_separator":
            keyword_only = True
            continue
        kind: ParameterKind = "keyword_only" if keyword_only else "positional"
        optional = False
        annotation = ""
        target: Node | None = child
        if kind_of in ("default_parameter", "typed_default_parameter"):
            target = child.child_by_field_name("name")
            optional = True
            annotation = _annotation(child.child_by_field_name("type"))
        elif kind_of == "typed_parameter":
            annotation = _annotation(child.child_by_field_name("type"))
            target = child.named_children[0] if child.named_children else None
        elif kind_of not in (
            "identifier",
            "list_splat_pattern",
            "dictionary_splat_pattern",
            "tuple_pattern",
        ):
            continue
        if target is None:
            continue
        name = node_text(target)
        if target.type == "list_splat_pattern":
            kind = "var_positional"
            name = name.lstrip("*")
            keyword_only = True
        elif target.type == "dictionary_splat_pattern":
            kind = "var_keyword"
            name = name.lstrip("*")
        result.append(
            Parameter(
                name=name,
                kind=kind,
                optional=optional,
                annotation=annotation,
                text=collapse_whitespace(node_text(child)),
            )
        )
    return tuple(result)


def _js_parameters(params: Node | None) -> tuple[Parameter, ...]:
    if params is None:
        return ()
    if params.type == "identifier":  # `x => ...`
        return (Parameter(name=node_text(params), kind="positional", text=node_text(params)),)
    result: list[Parameter] = []
    for child in params.named_children:
        kind_of = child.type
        text = collapse_whitespace(node_text(child))
        if kind_of == "comment" or kind_of == "decorator":
            continue
        if kind_of in ("required_parameter", "optional_parameter"):
            pattern = child.child_by_field_name("pattern")
            if pattern is None or pattern.type == "this":
                continue
            is_rest = pattern.type == "rest_pattern"
            result.append(
                Parameter(
                    name=collapse_whitespace(node_text(pattern)).lstrip("."),
                    kind="var_positional" if is_rest else "positional",
                    optional=kind_of == "optional_parameter"
                    or child.child_by_field_name("value") is not None,
                    annotation=_annotation(child.child_by_field_name("type")),
                    text=text,
                )
            )
        elif kind_of == "assignment_pattern":
            left = child.child_by_field_name("left")
            result.append(
                Parameter(
                    name=collapse_whitespace(node_text(left)),
                    kind="positional",
                    optional=True,
                    text=text,
                )
            )
        elif kind_of == "rest_pattern":
            result.append(Parameter(name=text.lstrip("."), kind="var_positional", text=text))
        else:  # identifier, object_pattern, array_pattern
            result.append(Parameter(name=text, kind="positional", text=text))
    return tuple(result)


# ---------------------------------------------------------------------------- arguments


def _python_arguments(args: Node | None) -> tuple[int, tuple[str, ...], bool]:
    if args is None:
        return 0, (), False
    if args.type == "generator_expression":  # f(x for x in y)
        return 1, (), False
    positional = 0
    keywords: list[str] = []
    unpacking = False
    for child in args.named_children:
        kind_of = child.type
        if kind_of == "comment":
            continue
        if kind_of == "keyword_argument":
            keywords.append(node_text(child.child_by_field_name("name")))
        elif kind_of in ("list_splat", "dictionary_splat"):
            unpacking = True
        else:
            positional += 1
    return positional, tuple(keywords), unpacking


def _js_arguments(args: Node | None) -> tuple[int, tuple[str, ...], bool]:
    if args is None:
        return 0, (), False
    if args.type != "arguments":  # tagged template
        return 0, (), True
    positional = 0
    unpacking = False
    for child in args.named_children:
        if child.type == "comment":
            continue
        if child.type == "spread_element":
            unpacking = True
        else:
            positional += 1
    return positional, (), unpacking


# ---------------------------------------------------------------------------- the walk

_JS_FUNCTION_DECLARATIONS = frozenset({"function_declaration", "generator_function_declaration"})
_JS_CLASS_DECLARATIONS = frozenset({"class_declaration", "abstract_class_declaration"})
_JS_FUNCTION_EXPRESSIONS = frozenset(
    {"arrow_function", "function_expression", "function", "generator_function"}
)


class _Indexer:
    def __init__(self, language: LanguageName) -> None:
        self.language: LanguageName = language
        self.python = language == "python"
        self.symbols: list[Symbol] = []
        self.calls: list[CallSite] = []
        self.imports: list[ImportBinding] = []
        self.error_lines: list[int] = []

    def run(self, root: Node) -> SourceIndex:
        track_errors = root.has_error
        stack: list[tuple[Node, tuple[Symbol, ...]]] = [(root, ())]
        while stack:
            node, scope = stack.pop()
            if (
                track_errors
                and (node.is_error or node.is_missing)
                and len(self.error_lines) < MAX_ERROR_LINES
            ):
                self.error_lines.append(start_line(node))
            if self.python:
                symbol = self._python_definition(node, scope)
                self._python_node(node, scope)
            else:
                symbol = self._js_definition(node, scope)
                self._js_node(node, scope)
            inner = scope
            if symbol is not None:
                self.symbols.append(symbol)
                inner = (*scope, symbol)
            children = node.children
            for child in reversed(children):
                # anonymous children are keywords and punctuation; look at them only to
                # find MISSING tokens
                if child.is_named or track_errors:
                    stack.append((child, inner))
        self.symbols.sort(key=lambda s: (s.start_line, -s.end_line))
        self.calls.sort(key=lambda c: c.line)
        return SourceIndex(
            language=self.language,
            symbols=tuple(self.symbols),
            calls=tuple(self.calls),
            imports=tuple(self.imports),
            error_lines=tuple(sorted(set(self.error_lines))),
        )

    # -- shared

    def _make(
        self,
        *,
        name: str,
        kind: SymbolKind,
        start: Node,
        end: Node,
        scope: tuple[Symbol, ...],
        params: Node | None = None,
        parameters: tuple[Parameter, ...] = (),
        decorators: tuple[str, ...] = (),
    ) -> Symbol:
        qualified = ".".join([*(s.name for s in scope), name])
        container = None
        if kind == "method" and scope and scope[-1].kind == "class":
            container = scope[-1].qualified_name
        return Symbol(
            name=name,
            qualified_name=qualified,
            kind=kind,
            start_line=start_line(start),
            end_line=end_line(end),
            signature=_signature_text(params) if kind != "class" else "",
            parameters=parameters,
            decorators=decorators,
            container=container,
            nested=any(s.kind != "class" for s in scope),
        )

    def _add_call(
        self,
        *,
        callee: str,
        node: Node,
        scope: tuple[Symbol, ...],
        receiver: Node | None,
        arguments: tuple[int, tuple[str, ...], bool],
        is_new: bool = False,
    ) -> None:
        if not callee:
            return
        receiver_text = None
        if receiver is not None:
            receiver_text = collapse_whitespace(node_text(receiver))[:MAX_RECEIVER_CHARS]
        positional, keywords, unpacking = arguments
        self.calls.append(
            CallSite(
                callee=callee,
                line=start_line(node),
                enclosing=scope[-1].qualified_name if scope else None,
                receiver=receiver_text,
                is_new=is_new,
                positional_args=positional,
                keyword_args=keywords,
                has_unpacking=unpacking,
            )
        )

    # -- Python

    def _python_definition(self, node: Node, scope: tuple[Symbol, ...]) -> Symbol | None:
        kind_of = node.type
        if kind_of not in ("function_definition", "class_definition"):
            return None
        name = node_text(node.child_by_field_name("name"))
        if not name:
            return None
        start = node
        decorators: tuple[str, ...] = ()
        parent = node.parent
        if parent is not None and parent.type == "decorated_definition":
            start = parent
            decorators = tuple(
                _python_decorator_name(child)
                for child in parent.named_children
                if child.type == "decorator"
            )
        if kind_of == "class_definition":
            return self._make(
                name=name, kind="class", start=start, end=node, scope=scope, decorators=decorators
            )
        params = node.child_by_field_name("parameters")
        in_class = bool(scope) and scope[-1].kind == "class"
        return self._make(
            name=name,
            kind="method" if in_class else "function",
            start=start,
            end=node,
            scope=scope,
            params=params,
            parameters=_python_parameters(params),
            decorators=decorators,
        )

    def _python_node(self, node: Node, scope: tuple[Symbol, ...]) -> None:
        kind_of = node.type
        if kind_of == "call":
            function = node.child_by_field_name("function")
            arguments = _python_arguments(node.child_by_field_name("arguments"))
            if function is None:
                return
            if function.type == "identifier":
                self._add_call(
                    callee=node_text(function),
                    node=node,
                    scope=scope,
                    receiver=None,
                    arguments=arguments,
                )
            elif function.type == "attribute":
                self._add_call(
                    callee=node_text(function.child_by_field_name("attribute")),
                    node=node,
                    scope=scope,
                    receiver=function.child_by_field_name("object"),
                    arguments=arguments,
                )
        elif kind_of == "import_statement":
            for child in node.children_by_field_name("name"):
                if child.type == "aliased_import":
                    module = node_text(child.child_by_field_name("name"))
                    local = node_text(child.child_by_field_name("alias"))
                    self.imports.append(ImportBinding(local=local, module=module))
                else:
                    top = node_text(child).split(".")[0].strip()
                    self.imports.append(ImportBinding(local=top, module=top))
        elif kind_of == "import_from_statement":
            module = collapse_whitespace(node_text(node.child_by_field_name("module_name")))
            module = module.replace(" ", "")
            for child in node.named_children:
                if child.type == "wildcard_import":
                    self.imports.append(ImportBinding(local="*", module=module, name="*"))
            for child in node.children_by_field_name("name"):
                if child.type == "aliased_import":
                    original = node_text(child.child_by_field_name("name"))
                    local = node_text(child.child_by_field_name("alias"))
                else:
                    original = local = node_text(child)
                self.imports.append(ImportBinding(local=local, module=module, name=original))

    # -- JavaScript / TypeScript

    def _js_definition(self, node: Node, scope: tuple[Symbol, ...]) -> Symbol | None:
        kind_of = node.type
        if kind_of in _JS_FUNCTION_DECLARATIONS or kind_of in _JS_CLASS_DECLARATIONS:
            name = node_text(node.child_by_field_name("name"))
            if not name:
                return None
            if kind_of in _JS_CLASS_DECLARATIONS:
                return self._make(name=name, kind="class", start=node, end=node, scope=scope)
            params = node.child_by_field_name("parameters")
            return self._make(
                name=name,
                kind="function",
                start=node,
                end=node,
                scope=scope,
                params=params,
                parameters=_js_parameters(params),
            )
        if kind_of == "method_definition":
            name_node = node.child_by_field_name("name")
            if name_node is None:
                return None
            name = (
                _string_content(name_node) if name_node.type == "string" else node_text(name_node)
            )
            params = node.child_by_field_name("parameters")
            return self._make(
                name=name,
                kind="method",
                start=node,
                end=node,
                scope=scope,
                params=params,
                parameters=_js_parameters(params),
            )
        is_function = kind_of in _JS_FUNCTION_EXPRESSIONS
        if not node.is_named or not (is_function or kind_of == "class"):
            return None
        binding = _js_binding(node, scope)
        if binding is None:
            return None
        name, kind, start = binding
        if not is_function:
            return self._make(name=name, kind="class", start=start, end=node, scope=scope)
        params = node.child_by_field_name("parameters") or node.child_by_field_name("parameter")
        return self._make(
            name=name,
            kind=kind,
            start=start,
            end=node,
            scope=scope,
            params=params,
            parameters=_js_parameters(params),
        )

    def _js_node(self, node: Node, scope: tuple[Symbol, ...]) -> None:
        kind_of = node.type
        if kind_of == "call_expression":
            function = node.child_by_field_name("function")
            arguments = _js_arguments(node.child_by_field_name("arguments"))
            if function is None:
                return
            if function.type == "identifier":
                self._add_call(
                    callee=node_text(function),
                    node=node,
                    scope=scope,
                    receiver=None,
                    arguments=arguments,
                )
                if node_text(function) == "require":
                    self._js_require(node)
            elif function.type == "member_expression":
                self._add_call(
                    callee=node_text(function.child_by_field_name("property")),
                    node=node,
                    scope=scope,
                    receiver=function.child_by_field_name("object"),
                    arguments=arguments,
                )
        elif kind_of == "new_expression":
            constructor = node.child_by_field_name("constructor")
            arguments = _js_arguments(node.child_by_field_name("arguments"))
            if constructor is None:
                return
            if constructor.type == "identifier":
                callee, receiver = node_text(constructor), None
            elif constructor.type == "member_expression":
                callee = node_text(constructor.child_by_field_name("property"))
                receiver = constructor.child_by_field_name("object")
            else:
                return
            self._add_call(
                callee=callee,
                node=node,
                scope=scope,
                receiver=receiver,
                arguments=arguments,
                is_new=True,
            )
        elif kind_of == "import_statement":
            self._js_import(node)

    def _js_import(self, node: Node) -> None:
        source = node.child_by_field_name("source")
        if source is None:
            return
        module = _string_content(source)
        for child in node.named_children:
            if child.type == "import_require_clause":  # import x = require("m")
                ident = next((c for c in child.named_children if c.type == "identifier"), None)
                if ident is not None:
                    self.imports.append(
                        ImportBinding(local=node_text(ident), module=module, name="*")
                    )
            if child.type != "import_clause":
                continue
            for part in child.named_children:
                if part.type == "identifier":
                    self.imports.append(
                        ImportBinding(local=node_text(part), module=module, name="default")
                    )
                elif part.type == "namespace_import":
                    for ident in part.named_children:
                        if ident.type == "identifier":
                            self.imports.append(
                                ImportBinding(local=node_text(ident), module=module, name="*")
                            )
                elif part.type == "named_imports":
                    for spec in part.named_children:
                        if spec.type != "import_specifier":
                            continue
                        original = _string_content_or_text(spec.child_by_field_name("name"))
                        alias = spec.child_by_field_name("alias")
                        local = node_text(alias) if alias is not None else original
                        self.imports.append(
                            ImportBinding(local=local, module=module, name=original)
                        )

    def _js_require(self, call: Node) -> None:
        """``const m = require("x")`` and ``const { a, b: c } = require("x")``."""
        args = call.child_by_field_name("arguments")
        declarator = call.parent
        if args is None or declarator is None or declarator.type != "variable_declarator":
            return
        first = args.named_children[0] if args.named_children else None
        if first is None or first.type != "string":
            return
        module = _string_content(first)
        target = declarator.child_by_field_name("name")
        if target is None:
            return
        if target.type == "identifier":
            self.imports.append(ImportBinding(local=node_text(target), module=module, name="*"))
        elif target.type == "object_pattern":
            for part in target.named_children:
                if part.type == "shorthand_property_identifier_pattern":
                    name = node_text(part)
                    self.imports.append(ImportBinding(local=name, module=module, name=name))
                elif part.type == "pair_pattern":
                    key = node_text(part.child_by_field_name("key"))
                    value = part.child_by_field_name("value")
                    if value is not None and value.type == "identifier":
                        self.imports.append(
                            ImportBinding(local=node_text(value), module=module, name=key)
                        )


def _string_content_or_text(node: Node | None) -> str:
    if node is None:
        return ""
    return _string_content(node) if node.type == "string" else node_text(node)


def _python_decorator_name(decorator: Node) -> str:
    expression = decorator.named_children[0] if decorator.named_children else None
    if expression is not None and expression.type == "call":
        expression = expression.child_by_field_name("function")
    return collapse_whitespace(node_text(expression))


def _js_binding(node: Node, scope: tuple[Symbol, ...]) -> tuple[str, SymbolKind, Node] | None:
    """Name, kind and first node of a function/class expression bound to a name."""
    parent = node.parent
    if parent is None:
        return None
    in_class = bool(scope) and scope[-1].kind == "class"
    parent_type = parent.type
    if parent_type == "variable_declarator" and parent.child_by_field_name("value") == node:
        target = parent.child_by_field_name("name")
        if target is None or target.type != "identifier":
            return None
        start = parent
        declaration = parent.parent
        if declaration is not None and len(declaration.children_by_field_name("declarator")) <= 1:
            start = declaration
        return node_text(target), "function", start
    if parent_type == "assignment_expression" and parent.child_by_field_name("right") == node:
        left = parent.child_by_field_name("left")
        if left is None:
            return None
        if left.type == "identifier":
            return node_text(left), "function", parent
        if left.type == "member_expression":
            prop = node_text(left.child_by_field_name("property"))
            obj = left.child_by_field_name("object")
            is_prototype = (
                obj is not None
                and obj.type == "member_expression"
                and node_text(obj.child_by_field_name("property")) == "prototype"
            )
            return prop, "method" if is_prototype else "function", parent
        return None
    if parent_type == "pair" and parent.child_by_field_name("value") == node:
        return _string_content_or_text(parent.child_by_field_name("key")), "method", parent
    if parent_type in ("field_definition", "public_field_definition"):
        key = parent.child_by_field_name("property") or parent.child_by_field_name("name")
        if key is None:
            return None
        return _string_content_or_text(key), "method" if in_class else "function", parent
    return None


# ---------------------------------------------------------------------------- public API


def index_source(source: str | bytes, language: LanguageName) -> SourceIndex:
    """Parse ``source`` once and return its symbols, call sites and imports."""
    tree = parse_source(source, language)
    return _Indexer(language).run(tree.root_node)


def extract_symbols(source: str | bytes, language: LanguageName) -> list[Symbol]:
    """Functions, methods and classes of ``source``, ordered by start line."""
    return list(index_source(source, language).symbols)


def extract_calls(source: str | bytes, language: LanguageName) -> list[CallSite]:
    """Call sites of ``source`` (``new X()`` included for JavaScript), ordered by line."""
    return list(index_source(source, language).calls)


def innermost_symbol(symbols: Sequence[Symbol], line: int) -> Symbol | None:
    """The most deeply nested symbol whose range holds ``line``."""
    best: Symbol | None = None
    for symbol in symbols:
        if symbol.start_line <= line <= symbol.end_line and (
            best is None
            or (symbol.start_line, -symbol.end_line) > (best.start_line, -best.end_line)
        ):
            best = symbol
    return best


def map_lines_to_symbols(symbols: Sequence[Symbol], lines: Iterable[int]) -> dict[int, Symbol]:
    """Each line that lies inside a symbol, mapped to its innermost enclosing symbol.

    One sweep over lines and symbols sorted by start (symbols nest, so the innermost open
    symbol is the top of a stack): linear in the number of lines and symbols.
    """
    ordered = sorted(symbols, key=lambda s: (s.start_line, -s.end_line))
    result: dict[int, Symbol] = {}
    open_symbols: list[Symbol] = []
    index = 0
    for line in sorted(set(lines)):
        while index < len(ordered) and ordered[index].start_line <= line:
            open_symbols.append(ordered[index])
            index += 1
        while open_symbols and open_symbols[-1].end_line < line:
            open_symbols.pop()
        if open_symbols:
            result[line] = open_symbols[-1]
    return result


def symbols_at_lines(symbols: Sequence[Symbol], lines: Iterable[int]) -> list[Symbol]:
    """The innermost symbols enclosing ``lines`` (each once, ordered by start line).

    Lines outside every symbol (module-level code) map to nothing.
    """
    seen: dict[tuple[str, int], Symbol] = {}
    for symbol in map_lines_to_symbols(symbols, lines).values():
        seen.setdefault((symbol.qualified_name, symbol.start_line), symbol)
    return sorted(seen.values(), key=lambda s: (s.start_line, -s.end_line))
