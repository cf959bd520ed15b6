"""The offline reviewer: deterministic, syntax-tree based findings when no LLM is configured.

Precision over volume: every rule targets a pattern that is a bug or a security problem in
nearly every context where it appears, and no rule is about style. Each finding is anchored on
one changed line (new side) and carries a stable rule id. A ``replacement`` (the full new text
of that line) is given only when the fix is certain and fits on the line.

A line holding the comment ``reviewflow: ignore`` gets no finding.

Rules that a trusted analyzer covers (Ruff, oxlint, detect-secrets; see :mod:`shared.analyzers`)
are not here: the analyzers run in the AST stage and their findings merge with these.
"""

import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from tree_sitter import Node

from shared.analysis.ast_report import AstReport, BreakingChange
from shared.analysis.languages import LanguageName, detect_language, parse_source
from shared.analysis.symbols import collapse_whitespace, end_line, node_text, start_line
from shared.models import Category, ChangedFile, FileStatus, PrFinding, Severity, Suggestion

SUPPRESSION_MARKER = "reviewflow: ignore"

# PR-level thresholds
MISSING_TESTS_MIN_ADDED_LINES = 30
EMPTY_DESCRIPTION_MIN_ADDED_LINES = 100
# callers named in a breaking-change finding
MAX_CALLERS_LISTED = 5

_Handler = Callable[["_Review", Node], None]


@dataclass
class _Review:
    path: str
    language: LanguageName
    lines: list[bytes]
    changed: list[int]
    # Python: local name → what it refers to ("subprocess", "subprocess.run", "os.system")
    aliases: dict[str, str] = field(default_factory=dict)
    # names of the coroutine / async functions and methods the file defines
    async_names: set[str] = field(default_factory=set)
    findings: list[Suggestion] = field(default_factory=list)

    def is_changed(self, line: int) -> bool:
        index = bisect_left(self.changed, line)
        return index < len(self.changed) and self.changed[index] == line

    def touches(self, node: Node) -> bool:
        index = bisect_left(self.changed, start_line(node))
        return index < len(self.changed) and self.changed[index] <= end_line(node)

    def line_text(self, line: int) -> str:
        if 1 <= line <= len(self.lines):
            return self.lines[line - 1].decode("utf-8", errors="replace").rstrip("\r")
        return ""

    def report(
        self,
        anchors: int | Iterable[int],
        *,
        rule: str,
        category: Category,
        severity: Severity,
        message: str,
        replacement: str | None = None,
    ) -> None:
        """Record a finding on the first of ``anchors`` that is a changed line."""
        candidates = [anchors] if isinstance(anchors, int) else list(anchors)
        for line in candidates:
            if not self.is_changed(line) or SUPPRESSION_MARKER in self.line_text(line):
                continue
            self.findings.append(
                Suggestion(
                    path=self.path,
                    start_line=line,
                    end_line=line,
                    category=category,
                    severity=severity,
                    message=message,
                    replacement=replacement,
                    rule=rule,
                    source="offline",
                )
            )
            return

    def results(self) -> list[Suggestion]:
        """The findings, one per (rule, line, message), ordered by line.

        A replacement rewrites its whole line from the original text, so when a line has more
        than one finding no replacement is kept: applying one would undo the other.
        """
        per_line: dict[int, int] = {}
        for finding in self.findings:
            per_line[finding.start_line] = per_line.get(finding.start_line, 0) + 1
        unique: dict[tuple[str, int, str], Suggestion] = {}
        for finding in self.findings:
            if finding.replacement is not None and per_line[finding.start_line] > 1:
                finding = finding.model_copy(update={"replacement": None})
            unique.setdefault((finding.rule, finding.start_line, finding.message), finding)
        return sorted(unique.values(), key=lambda s: (s.start_line, s.rule, s.message))

    def replace_on_line(self, node: Node, new_text: str) -> str | None:
        """The text of ``node``'s line with ``node`` replaced, if ``node`` is on one line."""
        if node.start_point.row != node.end_point.row:
            return None
        raw = self.lines[node.start_point.row]
        start, end = node.start_point.column, node.end_point.column
        updated = raw[:start] + new_text.encode() + raw[end:]
        return updated.decode("utf-8", errors="replace").rstrip("\r")


# ---------------------------------------------------------------------------- shared helpers


def _field(node: Node, name: str) -> Node | None:
    return node.child_by_field_name(name)


def _first_named(node: Node | None) -> Node | None:
    if node is None:
        return None
    for child in node.named_children:
        if child.type != "comment":
            return child
    return None


def _arguments(call: Node) -> list[Node]:
    args = _field(call, "arguments")
    if args is None:
        return []
    return [child for child in args.named_children if child.type != "comment"]


def _descendants(node: Node, stop: frozenset[str]) -> Iterable[Node]:
    """Named descendants of ``node``, not entering nodes whose type is in ``stop``."""
    stack = list(reversed(node.named_children))
    while stack:
        current = stack.pop()
        yield current
        if current.type not in stop:
            stack.extend(reversed(current.named_children))


# ---------------------------------------------------------------------------- Python rules
#
# What Ruff reports better (mutable defaults, bare and swallowed excepts, `is` with a literal,
# eval/exec, shell and SQL injection, unsafe YAML and pickle, asserted tuples, jumps out of
# `finally`, hard-coded passwords, ...) runs in the AST stage's analyzers. What no analyzer
# covers stays here.

_PY_SCOPES = frozenset({"function_definition", "lambda", "class_definition"})
# coroutine functions everyone knows, called without `await` by mistake
_PY_KNOWN_COROUTINES = frozenset({"asyncio.sleep", "asyncio.wait_for", "asyncio.wait"})
# where an un-awaited coroutine object may legitimately go
_PY_AWAITED_BY = re.compile(
    r"\b(?:gather|create_task|ensure_future|wait_for|wait|shield|run|as_completed|TaskGroup)\b"
)
_PY_REQUEST_DATA = re.compile(
    r"\brequest\.(?:args|form|values|files|json|data|GET|POST|query_params|path_params|"
    r"get_json|params|match_info|rel_url|query)\b"
)
_PY_PATH_SANITIZERS = re.compile(r"\b(?:secure_filename|basename|safe_join|is_relative_to)\b")
_PY_FILE_SINKS = frozenset(
    {
        "open",
        "io.open",
        "os.open",
        "os.remove",
        "os.unlink",
        "os.rmdir",
        "shutil.rmtree",
        "shutil.copy",
        "shutil.copyfile",
        "shutil.move",
        "flask.send_file",
        "send_file",
        "FileResponse",
        "starlette.responses.FileResponse",
        "fastapi.responses.FileResponse",
        "pathlib.Path",
        "Path",
    }
)


def _python_aliases(root: Node) -> dict[str, str]:
    """Local names bound by module-level imports (inside ``if``/``try`` blocks too)."""
    aliases: dict[str, str] = {}
    for node in _descendants(root, _PY_SCOPES):
        if node.type == "import_statement":
            for child in node.children_by_field_name("name"):
                if child.type == "aliased_import":
                    aliases[node_text(_field(child, "alias"))] = node_text(_field(child, "name"))
                else:
                    top = node_text(child).split(".")[0]
                    aliases[top] = top
        elif node.type == "import_from_statement":
            module = node_text(_field(node, "module_name"))
            for child in node.children_by_field_name("name"):
                if child.type == "aliased_import":
                    name = node_text(_field(child, "name"))
                    local = node_text(_field(child, "alias"))
                else:
                    name = local = node_text(child)
                aliases[local] = f"{module}.{name}"
    return aliases


def _python_call_name(review: _Review, call: Node) -> str | None:
    """The dotted name a call resolves to through imports (``sp.run`` → ``subprocess.run``)."""
    function = _field(call, "function")
    if function is None:
        return None
    text = node_text(function)
    if not re.fullmatch(r"[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*", text):
        return None
    first, _, rest = text.partition(".")
    resolved = review.aliases.get(first, first)
    return f"{resolved}.{rest}" if rest else resolved


def _is_async_function(node: Node) -> bool:
    return node.type == "function_definition" and any(c.type == "async" for c in node.children)


def _python_async_names(root: Node) -> set[str]:
    """Names of the coroutine functions and methods defined in the file."""
    names: set[str] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if _is_async_function(node):
            names.add(node_text(_field(node, "name")))
        stack.extend(node.named_children)
    return names


def _enclosing(node: Node, types: frozenset[str]) -> Node | None:
    current = node.parent
    while current is not None and current.type not in types:
        current = current.parent
    return current


def _py_coroutine_call(review: _Review, call: Node) -> str | None:
    """The name of the coroutine function ``call`` calls, if it is one this file defines (a
    function, or a method through ``self``/``cls``) or a well-known one."""
    function = _field(call, "function")
    if function is None:
        return None
    if function.type == "identifier" and node_text(function) in review.async_names:
        return node_text(function)
    if function.type == "attribute":
        receiver = node_text(_field(function, "object"))
        name = node_text(_field(function, "attribute"))
        if receiver in ("self", "cls") and name in review.async_names:
            return f"{receiver}.{name}"
    resolved = _python_call_name(review, call)
    if resolved in _PY_KNOWN_COROUTINES:
        return resolved
    return None


def _py_missing_await(review: _Review, node: Node) -> None:
    """A call statement or an ``assignment`` in an ``async def`` calling a coroutine
    function without ``await``: the call only creates a coroutine object; nothing runs."""
    function = _enclosing(node, _PY_SCOPES)
    if function is None or not _is_async_function(function):
        return
    if node.type == "call":
        call: Node | None = node
        target = None
    elif node.type == "expression_statement":
        call = _first_named(node)
        target = None
    else:
        call = _field(node, "right")
        left = _field(node, "left")
        target = node_text(left) if left is not None and left.type == "identifier" else None
        if target is None:
            return
    if call is None or call.type != "call":
        return
    name = _py_coroutine_call(review, call)
    if name is None:
        return
    if target is not None:
        body = node_text(_field(function, "body"))
        used = re.compile(rf"\b{re.escape(target)}\b")
        var = re.escape(target)
        if re.search(rf"\bawait\s+{var}\b|\breturn\s+{var}\b(?!\s*[.\[(])", body):
            return
        if any(
            _PY_AWAITED_BY.search(line) and used.search(line) for line in body.splitlines()
        ):
            return
    review.report(
        start_line(call),
        replacement=review.replace_on_line(call, f"await {node_text(call)}"),
        rule="py-missing-await",
        category=Category.BUG,
        severity=Severity.HIGH,
        message=(
            f"`{name}(...)` is a coroutine function called without `await`: this only creates "
            f"a coroutine object, the body never runs (Python warns 'coroutine was never "
            f"awaited'){' and the variable holds no result' if target else ''}. Write "
            f"`await {name}(...)`."
        ),
    )


def _python_tainted_names(function: Node | None, root: Node) -> set[str]:
    """Variables assigned from request data in the function (one level, in source order)."""
    scope = function if function is not None else root
    tainted: set[str] = set()
    for child in _descendants(scope, _PY_SCOPES):
        if child.type != "assignment":
            continue
        left, right = _field(child, "left"), _field(child, "right")
        if left is None or right is None or left.type != "identifier":
            continue
        text = node_text(right)
        if _PY_PATH_SANITIZERS.search(text):
            continue
        if _PY_REQUEST_DATA.search(text) or any(
            re.search(rf"\b{re.escape(name)}\b", text) for name in tainted
        ):
            tainted.add(node_text(left))
    return tainted


def _py_path_traversal(review: _Review, node: Node) -> None:
    name = _python_call_name(review, node)
    if name is None or name not in _PY_FILE_SINKS:
        return
    args = _arguments(node)
    if not args:
        return
    text = node_text(args[0])
    if _PY_PATH_SANITIZERS.search(text):
        return
    function = _enclosing(node, _PY_SCOPES)
    root = node
    while root.parent is not None:
        root = root.parent
    tainted = _PY_REQUEST_DATA.search(text) is not None or any(
        re.search(rf"\b{re.escape(var)}\b", text) for var in _python_tainted_names(function, root)
    )
    if not tainted:
        return
    review.report(
        start_line(node),
        rule="py-path-traversal",
        category=Category.SECURITY,
        severity=Severity.HIGH,
        message=(
            f"`{name}()` gets a path built from request data: a name like `../../etc/passwd` "
            f"reaches files outside the intended folder (path traversal). Keep only the file "
            f"name (`werkzeug.utils.secure_filename` / `os.path.basename`) and check that the "
            f"resolved path stays inside the folder."
        ),
    )


def _py_call(review: _Review, node: Node) -> None:
    _py_path_traversal(review, node)
    parent = node.parent
    if parent is not None and (
        parent.type in ("block", "module")
        or (parent.type == "expression_statement" and parent.named_child_count == 1)
    ):
        _py_missing_await(review, node)


def _py_assignment(review: _Review, node: Node) -> None:
    """``self.x = self.x`` (Ruff's PLW0127 covers plain names, not attributes)."""
    left, right = _field(node, "left"), _field(node, "right")
    if left is None or right is None:
        return
    if (
        left.type == right.type == "attribute"
        and collapse_whitespace(node_text(left)) == collapse_whitespace(node_text(right))
    ):
        text = collapse_whitespace(node_text(left))
        review.report(
            start_line(node),
            rule="py-self-assignment",
            category=Category.BUG,
            severity=Severity.MEDIUM,
            message=(
                f"`{text} = {text}` assigns the value to itself and has no effect; a different "
                f"name was probably intended (for example a parameter of the same name)."
            ),
        )
        return
    _py_missing_await(review, node)


def _is_test_path(path: str) -> bool:
    pure = PurePosixPath(path.lower())
    if any(part in _TEST_DIRS for part in pure.parts[:-1]):
        return True
    name = pure.name
    return bool(_TEST_FILE.search(name))


def _py_range_len(review: _Review, node: Node) -> None:
    variable, iterable = _field(node, "left"), _field(node, "right")
    if variable is None or iterable is None or variable.type != "identifier":
        return
    if iterable.type != "call" or node_text(_field(iterable, "function")) != "range":
        return
    args = _arguments(iterable)
    if len(args) != 1 or args[0].type != "binary_operator":
        return
    plus = args[0]
    length, one = _field(plus, "left"), _field(plus, "right")
    operator = _field(plus, "operator")
    if (
        length is None
        or one is None
        or node_text(operator) != "+"
        or one.type != "integer"
        or node_text(one) != "1"
        or length.type != "call"
        or node_text(_field(length, "function")) != "len"
    ):
        return
    length_args = _arguments(length)
    if len(length_args) != 1:
        return
    sequence = collapse_whitespace(node_text(length_args[0]))
    index = node_text(variable)
    body = _field(node, "body")
    if body is None:
        return
    for child in _descendants(body, _PY_SCOPES):
        if child.type != "subscript":
            continue
        value, key = _field(child, "value"), _field(child, "subscript")
        if (
            value is not None
            and key is not None
            and collapse_whitespace(node_text(value)) == sequence
            and key.type == "identifier"
            and node_text(key) == index
        ):
            review.report(
                start_line(node),
                rule="py-range-len-off-by-one",
                category=Category.BUG,
                severity=Severity.HIGH,
                message=(
                    f"`range(len({sequence}) + 1)` makes `{index}` reach `len({sequence})` on "
                    f"the last iteration, and `{sequence}[{index}]` then raises IndexError "
                    f"(valid indices stop at len - 1). Use `range(len({sequence}))` or iterate "
                    f"with `enumerate({sequence})`."
                ),
            )
            return


_PYTHON_RULES: dict[str, _Handler] = {
    "call": _py_call,
    "assignment": _py_assignment,
    "for_statement": _py_range_len,
}


# ---------------------------------------------------------------------------- JS / TS rules
#
# oxlint reports eval and `new Function`, `==`, assignments in conditions, `debugger`, empty
# catch blocks, ... (the AST stage's analyzers). What no analyzer covers without type
# information stays here: promises that are never awaited, SQL and shell commands built from
# strings, request data in file paths, HTML sinks, and loops that run one step too far.

_JS_FUNCTIONS = frozenset(
    {
        "function_declaration",
        "generator_function_declaration",
        "function_expression",
        "function",
        "generator_function",
        "arrow_function",
        "method_definition",
    }
)
_JS_SQL = re.compile(
    r"^\s*(?:SELECT\b[\s\S]*\bFROM|INSERT\s+INTO|UPDATE\b[\s\S]*\bSET|DELETE\s+FROM)\b",
    re.IGNORECASE,
)
_JS_SQL_METHODS = frozenset(
    {"query", "execute", "raw", "run", "all", "get", "exec", "prepare", "unsafe", "$queryRawUnsafe"}
)
_JS_CHILD_PROCESS = re.compile(r"^(?:child_process|childProcess|cp|proc)$")
_JS_SHELL_CALLS = frozenset({"exec", "execSync"})
_JS_REQUEST_DATA = re.compile(r"\b(?:req|request|ctx\.request|ctx)\.(?:query|params|body)\b")
_JS_PATH_SANITIZERS = re.compile(r"\bbasename\s*\(")
_JS_FILE_SINKS = frozenset(
    {
        "readFile",
        "readFileSync",
        "createReadStream",
        "writeFile",
        "writeFileSync",
        "createWriteStream",
        "unlink",
        "unlinkSync",
        "rm",
        "rmSync",
        "sendFile",
        "download",
        "appendFile",
        "appendFileSync",
    }
)
_JS_HTML_SINK_CALLS = frozenset({"write", "writeln", "insertAdjacentHTML"})
# promise-returning APIs everyone knows
_JS_KNOWN_ASYNC = frozenset({"fetch"})


def _is_js_static_string(node: Node | None) -> bool:
    if node is None:
        return False
    if node.type == "string":
        return True
    if node.type == "template_string":
        return not any(child.type == "template_substitution" for child in node.named_children)
    return False


def _is_js_async(node: Node) -> bool:
    return node.type in _JS_FUNCTIONS and any(child.type == "async" for child in node.children)


def _js_async_names(root: Node) -> set[str]:
    """Names of the async functions and methods the file defines."""
    names: set[str] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type in ("function_declaration", "method_definition") and _is_js_async(node):
            names.add(node_text(_field(node, "name")))
        elif node.type in ("variable_declarator", "pair", "public_field_definition"):
            value = _field(node, "value")
            key = _field(node, "name") or _field(node, "key") or _field(node, "property")
            if value is not None and key is not None and _is_js_async(value):
                names.add(node_text(key))
        stack.extend(node.named_children)
    return names


def _js_dynamic_string(node: Node | None) -> bool:
    """A template with substitutions, or a `+` concatenation with a non-literal part."""
    if node is None:
        return False
    if node.type == "template_string":
        return any(child.type == "template_substitution" for child in node.named_children)
    if node.type == "binary_expression" and node_text(_field(node, "operator")) == "+":
        parts = [_field(node, "left"), _field(node, "right")]
        return any(p is not None and not _is_js_static_string(p) for p in parts) and any(
            p is not None and (p.type in ("string", "template_string") or _js_dynamic_string(p))
            for p in parts
        )
    return False


def _js_static_text(node: Node) -> str:
    """The literal text of a template or concatenation (substitutions left out)."""
    if node.type == "template_string":
        return "".join(
            node_text(child) for child in node.named_children if child.type == "string_fragment"
        )
    if node.type == "string":
        return node_text(node)[1:-1]
    if node.type == "binary_expression":
        left, right = _field(node, "left"), _field(node, "right")
        return (_js_static_text(left) if left else "") + (_js_static_text(right) if right else "")
    return ""


def _js_initializer(node: Node, name: str) -> Node | None:
    """The value ``name`` is declared with in the function (or file) around ``node``."""
    scope = _enclosing(node, _JS_FUNCTIONS)
    if scope is None:
        scope = node
        while scope.parent is not None:
            scope = scope.parent
    for child in _descendants(scope, _JS_FUNCTIONS):
        if child.type == "variable_declarator" and node_text(_field(child, "name")) == name:
            return _field(child, "value")
    return None


def _js_resolve(node: Node) -> Node:
    """An identifier argument → the value it was declared with, when there is one."""
    if node.type == "identifier":
        value = _js_initializer(node, node_text(node))
        if value is not None:
            return value
    return node


def _js_sql_injection(review: _Review, node: Node, method: str, args: list[Node]) -> None:
    if method not in _JS_SQL_METHODS or not args:
        return
    query = _js_resolve(args[0])
    if not _js_dynamic_string(query) or not _JS_SQL.search(_js_static_text(query)):
        return
    review.report(
        [start_line(node), start_line(query)],
        rule="js-sql-injection",
        category=Category.SECURITY,
        severity=Severity.HIGH,
        message=(
            "The SQL text is built from values (template string or `+`), so input can change "
            "the query (SQL injection). Use placeholders and pass the values separately, "
            "e.g. `db.query('SELECT ... WHERE id = $1', [id])`."
        ),
    )


def _js_command_injection(review: _Review, node: Node, function: Node, args: list[Node]) -> None:
    if function.type == "identifier":
        name = node_text(function)
    elif function.type == "member_expression" and _JS_CHILD_PROCESS.match(
        node_text(_field(function, "object"))
    ):
        name = node_text(_field(function, "property"))
    else:
        return
    if name not in _JS_SHELL_CALLS or not args:
        return
    command = _js_resolve(args[0])
    if not _js_dynamic_string(command):
        return
    review.report(
        [start_line(node), start_line(command)],
        rule="js-command-injection",
        category=Category.SECURITY,
        severity=Severity.HIGH,
        message=(
            f"`{name}` runs its string through the shell, and this one is built from values: "
            f"a value like `; rm -rf ~` injects commands. Use `execFile`/`spawn` with an "
            f"argument array."
        ),
    )


def _js_tainted(node: Node) -> bool:
    text = node_text(node)
    if _JS_PATH_SANITIZERS.search(text):
        return False
    if _JS_REQUEST_DATA.search(text):
        return True
    for identifier in re.findall(r"[A-Za-z_$][\w$]*", text):
        value = _js_initializer(node, identifier)
        if value is not None and value is not node and _JS_REQUEST_DATA.search(node_text(value)):
            return not _JS_PATH_SANITIZERS.search(node_text(value))
    return False


def _js_path_traversal(review: _Review, node: Node, method: str, args: list[Node]) -> None:
    if method not in _JS_FILE_SINKS or not args or not _js_tainted(args[0]):
        return
    review.report(
        start_line(node),
        rule="js-path-traversal",
        category=Category.SECURITY,
        severity=Severity.HIGH,
        message=(
            f"`{method}` gets a path built from request data: `../` in it reaches files outside "
            f"the intended folder (path traversal). Keep only `path.basename(...)` of the name "
            f"and check that the resolved path stays inside the folder."
        ),
    )


def _js_html_sink_call(review: _Review, node: Node, function: Node, args: list[Node]) -> None:
    method = node_text(_field(function, "property"))
    if method not in _JS_HTML_SINK_CALLS:
        return
    if method in ("write", "writeln") and node_text(_field(function, "object")) != "document":
        return
    html = args[-1] if args else None
    if html is None or _is_js_static_string(html):
        return
    review.report(
        start_line(node),
        rule="js-xss-sink",
        category=Category.SECURITY,
        severity=Severity.HIGH,
        message=(
            f"`{method}` parses a dynamic value as HTML, so any user-controlled part can inject "
            f"script (XSS). Insert text with `textContent`, build elements with "
            f"`document.createElement`, or sanitize the HTML first."
        ),
    )


def _js_call(review: _Review, node: Node) -> None:
    function = _field(node, "function")
    if function is None:
        return
    args = _arguments(node)
    _js_command_injection(review, node, function, args)
    if function.type != "member_expression":
        return
    method = node_text(_field(function, "property"))
    if method == "forEach":
        _js_async_foreach(review, node, function, args)
    _js_sql_injection(review, node, method, args)
    _js_path_traversal(review, node, method, args)
    _js_html_sink_call(review, node, function, args)


def _js_async_foreach(review: _Review, node: Node, function: Node, args: list[Node]) -> None:
    callback = args[0] if args else None
    if callback is None or callback.type not in (
        "arrow_function",
        "function_expression",
        "function",
    ):
        return
    if not any(child.type == "async" for child in callback.children):
        return
    body = _field(callback, "body")
    if body is None:
        return
    awaits = [
        child.start_point.row + 1
        for child in _descendants(body, _JS_FUNCTIONS)
        if child.type == "await_expression"
    ]
    if not awaits:
        return
    property_node = _field(function, "property")
    anchor = start_line(property_node) if property_node is not None else start_line(node)
    review.report(
        [anchor, start_line(callback), *awaits],
        rule="js-async-foreach",
        category=Category.BUG,
        severity=Severity.HIGH,
        message=(
            "`forEach` ignores the promise its async callback returns: the loop finishes "
            "at once, the awaited work runs unordered in the background and its errors become "
            "unhandled rejections. Use `for (const item of items) { await ... }` or "
            "`await Promise.all(items.map(async (item) => ...))`."
        ),
    )


def _js_inner_html(review: _Review, node: Node) -> None:
    left, right = _field(node, "left"), _field(node, "right")
    if left is None or left.type != "member_expression":
        return
    prop = node_text(_field(left, "property"))
    if prop not in ("innerHTML", "outerHTML") or _is_js_static_string(right):
        return
    review.report(
        start_line(node),
        rule="js-xss-sink",
        category=Category.SECURITY,
        severity=Severity.HIGH,
        message=(
            f"Assigning a dynamic value to `{prop}` parses it as HTML, so any user-controlled "
            f"part can inject script (XSS). Use `textContent` for text, or build the elements "
            f"with `document.createElement` (or sanitize the HTML first)."
        ),
    )


def _js_promise_call(review: _Review, call: Node) -> str | None:
    """The name of the async function ``call`` calls (defined in this file, or ``fetch``)."""
    function = _field(call, "function")
    if function is None:
        return None
    if function.type == "identifier":
        name = node_text(function)
        if name in review.async_names or name in _JS_KNOWN_ASYNC:
            return name
    elif function.type == "member_expression":
        receiver = node_text(_field(function, "object"))
        name = node_text(_field(function, "property"))
        if receiver == "this" and name in review.async_names:
            return f"this.{name}"
    return None


def _js_missing_await(review: _Review, node: Node) -> None:
    """In an async function: a promise-returning call whose result is dropped, or stored in a
    variable that is then used as if it were the value (never awaited, returned or handed on
    to ``Promise.all`` / ``.then``)."""
    function = _enclosing(node, _JS_FUNCTIONS)
    if function is None or not _is_js_async(function):
        return
    if node.type == "expression_statement":
        call = _first_named(node)
        target = None
    else:
        call = _field(node, "value")
        target = node_text(_field(node, "name"))
    if call is None or call.type != "call_expression":
        return
    name = _js_promise_call(review, call)
    if name is None:
        return
    if target is not None:
        body = node_text(_field(function, "body"))
        var = re.escape(target)
        handled = (
            rf"\bawait\s+{var}\b",
            rf"\breturn\s+{var}\b(?!\s*[.\[(])",
            rf"\bPromise\.\w+\([^)]*\b{var}\b",
            rf"\b{var}\.(?:then|catch|finally)\b",
        )
        if any(re.search(p, body) for p in handled) or not re.search(rf"\b{var}\s*[.\[]", body):
            return
    review.report(
        start_line(call),
        replacement=review.replace_on_line(call, f"await {node_text(call)}"),
        rule="js-missing-await",
        category=Category.BUG,
        severity=Severity.HIGH,
        message=(
            f"`{name}(...)` returns a promise and is not awaited"
            + (
                f": `{target}` holds the promise, not its result, so using it as the value fails"
                if target
                else ": the code goes on before it finishes and its errors become unhandled "
                "rejections"
            )
            + f". Write `await {name}(...)`."
        ),
    )


def _js_loop_off_by_one(review: _Review, node: Node) -> None:
    condition = _field(node, "condition")
    if condition is not None and condition.type == "expression_statement":
        condition = _first_named(condition)
    if condition is None or condition.type != "binary_expression":
        return
    if node_text(_field(condition, "operator")) != "<=":
        return
    index, bound = _field(condition, "left"), _field(condition, "right")
    if index is None or bound is None or index.type != "identifier":
        return
    if bound.type != "member_expression" or node_text(_field(bound, "property")) != "length":
        return
    sequence = collapse_whitespace(node_text(_field(bound, "object")))
    body = _field(node, "body")
    if body is None:
        return
    for child in _descendants(body, _JS_FUNCTIONS):
        if child.type != "subscript_expression":
            continue
        obj, key = _field(child, "object"), _field(child, "index")
        if (
            obj is not None
            and key is not None
            and collapse_whitespace(node_text(obj)) == sequence
            and node_text(key) == node_text(index)
        ):
            review.report(
                start_line(condition),
                rule="js-loop-off-by-one",
                category=Category.BUG,
                severity=Severity.HIGH,
                message=(
                    f"`{node_text(index)} <= {sequence}.length` runs one step too far: on the "
                    f"last pass `{sequence}[{node_text(index)}]` is `undefined` (valid indices "
                    f"stop at length - 1). Use `<`."
                ),
            )
            return


_JS_RULES: dict[str, _Handler] = {
    "call_expression": _js_call,
    "assignment_expression": _js_inner_html,
    "augmented_assignment_expression": _js_inner_html,
    "expression_statement": _js_missing_await,
    "variable_declarator": _js_missing_await,
    "for_statement": _js_loop_off_by_one,
}


# ---------------------------------------------------------------------------- file review


def review_file(file: ChangedFile, changed_lines: set[int]) -> list[Suggestion]:
    """Offline findings for one file, each anchored on a line of ``changed_lines``."""
    language = detect_language(file.path)
    if (
        language is None
        or file.binary
        or file.content is None
        or file.status == FileStatus.REMOVED
        or not changed_lines
    ):
        return []
    data = file.content.encode("utf-8", errors="replace")
    root = parse_source(data, language).root_node
    review = _Review(
        path=file.path,
        language=language,
        lines=data.split(b"\n"),
        changed=sorted(changed_lines),
    )
    rules = _PYTHON_RULES if language == "python" else _JS_RULES
    if language == "python":
        review.aliases = _python_aliases(root)
        review.async_names = _python_async_names(root)
    else:
        review.async_names = _js_async_names(root)
    stack = [root]
    while stack:
        node = stack.pop()
        if not review.touches(node):
            continue  # no changed line inside: nothing in this subtree can be reported
        handler = rules.get(node.type)
        if handler is not None:
            handler(review, node)
        stack.extend(reversed(node.named_children))
    return review.results()


# ---------------------------------------------------------------------------- PR-level review

_CODE_EXTENSIONS = frozenset(
    {
        ".py", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx", ".go", ".java",
        ".kt", ".kts", ".scala", ".rb", ".rs", ".c", ".h", ".cc", ".cpp", ".cxx", ".hpp",
        ".cs", ".php", ".swift", ".m", ".mm", ".ex", ".exs", ".erl", ".clj", ".dart", ".lua",
        ".vue", ".svelte",
    }
)  # fmt: skip
_TEST_DIRS = frozenset({"test", "tests", "__tests__", "spec", "specs", "testing", "e2e"})
_TEST_FILE = re.compile(
    r"(^test_.*\.py$|_test\.py$|^conftest\.py$|_test\.go$|\.(test|spec)\.[cm]?[jt]sx?$"
    r"|tests?\.(java|kt|cs|scala)$|_spec\.rb$|_test\.rb$)"
)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def _added_lines(file: ChangedFile) -> int:
    """Lines the file adds: ``additions`` when the host gave it, else counted in the patch."""
    if file.additions:
        return file.additions
    count = 0
    in_hunk = False
    for line in file.patch.splitlines():
        if line.startswith("@@"):
            in_hunk = True
        elif in_hunk and line.startswith("+"):
            count += 1
    return count


def is_test_file(path: str) -> bool:
    """Whether ``path`` looks like a test (by folder or file-name convention)."""
    return _is_test_path(path)


def breaking_finding(change: BreakingChange) -> PrFinding:
    listed = []
    for caller in change.callers[:MAX_CALLERS_LISTED]:
        where = caller.caller or "module level"
        detail = f": {caller.problem}" if caller.problem else ""
        listed.append(f"`{caller.path}:{caller.line}` ({where}{detail})")
    more = change.caller_count - len(listed)
    callers_text = "; ".join(listed) + (f"; and {more} more" if more > 0 else "")
    plural = "s" if change.caller_count != 1 else ""
    if change.new_signature is None:
        title = f"`{change.symbol}` is removed but still called"
        message = (
            f"`{change.symbol}` (from `{change.path}`) is removed by this change, yet "
            f"{change.caller_count} call site{plural} still use it: {callers_text}."
        )
    else:
        title = f"Signature of `{change.symbol}` changed; {change.caller_count} call{plural} break"
        message = (
            f"`{change.symbol}` in `{change.path}` changed from `{change.old_signature}` to "
            f"`{change.new_signature}`, and these calls no longer match: {callers_text}. "
            f"Update the callers or keep the old signature working."
        )
    paths = dict.fromkeys([change.path, *(c.path for c in change.callers)])
    return PrFinding(
        category=Category.BREAKING_CHANGE,
        severity=Severity.HIGH,
        title=title,
        message=message,
        paths=tuple(paths),
        rule="pr-breaking-change",
        source="offline",
    )


def _describe_paths(paths: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(f"`{path}`" for path in paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def review_pr_offline(
    files: list[ChangedFile], title: str, body: str, ast_report: AstReport | None
) -> list[PrFinding]:
    """PR-level findings: breaking changes, missing tests, missing description."""
    findings: list[PrFinding] = []
    if ast_report is not None:
        findings.extend(breaking_finding(change) for change in ast_report.breaking_changes)

    sources = [
        file
        for file in files
        if file.status != FileStatus.REMOVED
        and PurePosixPath(file.path).suffix.lower() in _CODE_EXTENSIONS
        and not _is_test_path(file.path)
    ]
    tests_touched = any(_is_test_path(file.path) for file in files)
    source_added = sum(_added_lines(file) for file in sources)
    if sources and not tests_touched and source_added > MISSING_TESTS_MIN_ADDED_LINES:
        findings.append(
            PrFinding(
                category=Category.MAINTAINABILITY,
                severity=Severity.LOW,
                title="Source changes without test changes",
                message=(
                    f"This change adds {source_added} lines to {len(sources)} source "
                    f"file{'s' if len(sources) != 1 else ''} "
                    f"({_describe_paths([f.path for f in sources])}) but touches no test file, "
                    f"so nothing in this PR checks the new behaviour. Add or update tests."
                ),
                paths=tuple(file.path for file in sources),
                rule="pr-missing-tests",
                source="offline",
            )
        )

    description = _HTML_COMMENT.sub("", body).strip()
    total_added = sum(_added_lines(file) for file in files)
    if (
        not description or description == title.strip()
    ) and total_added > EMPTY_DESCRIPTION_MIN_ADDED_LINES:
        findings.append(
            PrFinding(
                category=Category.DOCS,
                severity=Severity.LOW,
                title="Pull request has no description",
                message=(
                    f"The description is empty while the change adds {total_added} lines, so "
                    f"reviewers have to reverse-engineer its intent. Describe what changes, why, "
                    f"and how it was tested."
                ),
                rule="pr-empty-description",
                source="offline",
            )
        )
    return findings
