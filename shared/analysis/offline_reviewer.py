"""The offline reviewer: deterministic, syntax-tree based findings when no LLM is configured.

Precision over volume: every rule targets a pattern that is a bug or a security problem in
nearly every context where it appears, and no rule is about style. Each finding is anchored on
one changed line (new side) and carries a stable rule id. A ``replacement`` (the full new text
of that line) is given only when the fix is certain and fits on the line.

A line holding the comment ``reviewflow: ignore`` gets no finding.
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

_PY_SCOPES = frozenset({"function_definition", "lambda", "class_definition"})
_PY_MUTABLE_LITERALS = {
    "list": "list",
    "dictionary": "dict",
    "set": "set",
    "list_comprehension": "list",
    "dictionary_comprehension": "dict",
    "set_comprehension": "set",
}
_PY_MUTABLE_CALLS = {"list": "list", "dict": "dict", "set": "set", "bytearray": "bytearray"}
_PY_NUMBER_OR_STRING = frozenset({"string", "concatenated_string", "integer", "float"})
_PY_SQL_BUILDERS = frozenset(
    {"filter", "filter_by", "where", "having", "and_", "or_", "not_", "case", "join", "on"}
)
_PY_SHELL_KEYWORD_CALLS = frozenset(
    {
        "subprocess.run",
        "subprocess.call",
        "subprocess.check_call",
        "subprocess.check_output",
        "subprocess.Popen",
    }
)
_PY_ALWAYS_SHELL_CALLS = frozenset(
    {"os.system", "os.popen", "subprocess.getoutput", "subprocess.getstatusoutput"}
)
_PY_PICKLE_CALLS = frozenset({"pickle.loads", "pickle.load", "cPickle.loads", "cPickle.load"})
_SECRET_WORDS = ("password", "passwd", "secret", "token", "api_key", "apikey")
_NOT_SECRET_SUFFIXES = (
    "_url",
    "_uri",
    "_endpoint",
    "_path",
    "_file",
    "_dir",
    "_name",
    "_env",
    "_var",
    "_field",
    "_type",
    "_kind",
    "_header",
    "_prefix",
    "_suffix",
    "_pattern",
    "_regex",
    "_label",
    "_format",
    "_template",
    "_length",
    "_message",
    "_msg",
)
_PLACEHOLDER_WORDS = ("changeme", "change_me", "example", "placeholder", "dummy", "redacted")


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


def _is_plain_python_string(node: Node | None) -> bool:
    """A string literal without f-string interpolation (or a concatenation of such)."""
    if node is None:
        return False
    if node.type == "concatenated_string":
        return all(_is_plain_python_string(child) for child in node.named_children)
    if node.type != "string":
        return False
    return not any(child.type == "interpolation" for child in node.named_children)


def _python_string_value(node: Node) -> str:
    if node.type == "concatenated_string":
        return "".join(_python_string_value(child) for child in node.named_children)
    return "".join(
        node_text(child) for child in node.named_children if child.type == "string_content"
    )


def _keyword_value(call: Node, name: str) -> Node | None:
    for arg in _arguments(call):
        if arg.type == "keyword_argument" and node_text(_field(arg, "name")) == name:
            return _field(arg, "value")
    return None


def _py_mutable_default(review: _Review, node: Node) -> None:
    value = _field(node, "value")
    if value is None:
        return
    kind = _PY_MUTABLE_LITERALS.get(value.type)
    if kind is None and value.type == "call":
        function = _field(value, "function")
        if function is not None and function.type == "identifier" and not _arguments(value):
            kind = _PY_MUTABLE_CALLS.get(node_text(function))
    if kind is None:
        return
    name = node_text(_field(node, "name"))
    review.report(
        start_line(value),
        rule="py-mutable-default",
        category=Category.BUG,
        severity=Severity.HIGH,
        message=(
            f"The default `{collapse_whitespace(node_text(value))[:40]}` of `{name}` is created "
            f"once, when the function is defined, and shared by every call: a change made to it "
            f"in one call is still there in the next. Default to `None` and create the {kind} "
            f"inside the function."
        ),
    )


def _is_pass_only(block: Node | None) -> bool:
    if block is None:
        return False
    statements = [child for child in block.named_children if child.type != "comment"]
    if not statements:
        return False
    for statement in statements:
        if statement.type == "pass_statement" or statement.type == "ellipsis":
            continue
        if statement.type == "expression_statement" and node_text(statement) == "...":
            continue
        return False
    return True


def _py_except(review: _Review, node: Node) -> None:
    if any(child.type == "*" for child in node.children):  # except* (exception groups)
        return
    value = _field(node, "value")
    block = next((child for child in node.named_children if child.type == "block"), None)
    if value is None:
        if block is not None and any(
            child.type == "raise_statement" for child in _descendants(block, _PY_SCOPES)
        ):
            return
        review.report(
            start_line(node),
            rule="py-bare-except",
            category=Category.BUG,
            severity=Severity.MEDIUM,
            message=(
                "Bare `except:` catches every exception, including `KeyboardInterrupt` and "
                "`SystemExit`, and this handler does not re-raise, so errors (and Ctrl-C) are "
                "silently swallowed. Catch the specific exceptions you expect."
            ),
        )
        return
    caught = value
    if caught.type == "as_pattern":
        caught = _first_named(caught) or caught
    caught_name = node_text(caught)
    if caught_name in ("Exception", "BaseException") and _is_pass_only(block):
        review.report(
            start_line(node),
            rule="py-swallowed-exception",
            category=Category.BUG,
            severity=Severity.MEDIUM,
            message=(
                f"`except {caught_name}: pass` silently discards every error raised in the "
                f"`try` block, so failures go unnoticed and surface later as wrong results. "
                f"Catch only the exception you expect here, or at least log it."
            ),
        )


def _inside_sql_builder(node: Node) -> bool:
    """``query.filter(User.name == None)``: ORMs overload ``==``, `is` would be wrong there."""
    current = node.parent
    while current is not None and current.type not in _PY_SCOPES:
        if current.type == "call":
            function = _field(current, "function")
            name = node_text(function)
            if function is not None and function.type == "attribute":
                name = node_text(_field(function, "attribute"))
            if name in _PY_SQL_BUILDERS:
                return True
        current = current.parent
    return False


def _py_comparison(review: _Review, node: Node) -> None:
    children = node.children
    operators = [
        index for index in range(len(children)) if node.field_name_for_child(index) == "operators"
    ]
    single = len(operators) == 1
    for index in operators:
        if index == 0 or index + 1 >= len(children):
            continue
        operator = children[index]
        left, right = children[index - 1], children[index + 1]
        op = " ".join(node_text(operator).split())
        if op in ("==", "!="):
            _py_singleton_comparison(review, node, operator, op, left, right, single)
        elif op in ("is", "is not"):
            _py_identity_literal(review, operator, op, left, right, single)


def _py_singleton_comparison(
    review: _Review,
    comparison: Node,
    operator: Node,
    op: str,
    left: Node,
    right: Node,
    single: bool,
) -> None:
    singleton = next(
        (side for side in (right, left) if side.type in ("none", "true", "false")), None
    )
    if singleton is None or _inside_sql_builder(comparison):
        return
    other = left if singleton is right else right
    other_text = collapse_whitespace(node_text(other))[:40]
    value = node_text(singleton)
    if singleton.type == "none":
        identity = "is" if op == "==" else "is not"
        message = (
            f"`{op} None` calls `__eq__`, which classes may override (NumPy arrays and ORM "
            f"columns return non-bool objects), so the test is not reliable; use "
            f"`{identity} None`."
        )
        replacement = review.replace_on_line(operator, identity) if single else None
    else:
        truthy = "" if (value == "True") == (op == "==") else "not "
        message = (
            f"`{other_text} {op} {value}` is also true or false for non-bool values equal to "
            f"{value} (`1 == True`); test the value directly (`if {truthy}{other_text}:`), or "
            f"use `is`/`is not` if it must be exactly the bool."
        )
        replacement = None
    review.report(
        start_line(operator),
        rule="py-singleton-equality",
        category=Category.BUG,
        severity=Severity.LOW,
        message=message,
        replacement=replacement,
    )


def _is_python_literal(node: Node) -> bool:
    if node.type in _PY_NUMBER_OR_STRING:
        return True
    if node.type == "unary_operator":
        argument = _field(node, "argument")
        return argument is not None and argument.type in ("integer", "float")
    return False


def _py_identity_literal(
    review: _Review, operator: Node, op: str, left: Node, right: Node, single: bool
) -> None:
    literal = next((side for side in (right, left) if _is_python_literal(side)), None)
    if literal is None:
        return
    equality = "==" if op == "is" else "!="
    review.report(
        start_line(operator),
        rule="py-is-literal",
        category=Category.BUG,
        severity=Severity.HIGH,
        message=(
            f"`{op} {collapse_whitespace(node_text(literal))[:30]}` compares object identity, "
            f"not value: whether an equal string or number is the same object is a CPython "
            f"implementation detail (Python warns with SyntaxWarning), so the check can fail "
            f"for equal values. Use `{equality}`."
        ),
        replacement=review.replace_on_line(operator, equality) if single else None,
    )


def _py_call(review: _Review, node: Node) -> None:
    name = _python_call_name(review, node)
    if name is None:
        return
    args = _arguments(node)
    positional = [arg for arg in args if arg.type not in ("keyword_argument", "dictionary_splat")]
    first = positional[0] if positional else None
    if name in ("eval", "exec"):
        if _is_plain_python_string(first):
            return  # constant code: nothing can be injected
        review.report(
            start_line(node),
            rule="py-eval",
            category=Category.SECURITY,
            severity=Severity.HIGH,
            message=(
                f"`{name}()` runs its argument as Python code; if any part of it comes from "
                f"user input, files or the network this is remote code execution. Parse the data "
                f"instead (`ast.literal_eval` for literals, `json.loads` for JSON)."
            ),
        )
    elif name in _PY_SHELL_KEYWORD_CALLS or name in _PY_ALWAYS_SHELL_CALLS:
        _py_shell(review, node, name, first)
    elif name in ("yaml.load", "yaml.load_all"):
        if _keyword_value(node, "Loader") is not None or len(positional) >= 2:
            return
        safe = "yaml.safe_load" if name == "yaml.load" else "yaml.safe_load_all"
        function = _field(node, "function")
        attribute = _field(function, "attribute") if function is not None else None
        replacement = None
        if attribute is not None:
            replacement = review.replace_on_line(attribute, safe.split(".")[1])
        review.report(
            start_line(node),
            rule="py-yaml-load",
            category=Category.SECURITY,
            severity=Severity.HIGH,
            message=(
                f"`{name}()` without `Loader=` fails with TypeError on PyYAML 6, and older "
                f"versions use a loader that builds arbitrary Python objects from tagged input "
                f"(code execution on untrusted YAML). Use `{safe}()`."
            ),
            replacement=replacement,
        )
    elif name in _PY_PICKLE_CALLS:
        review.report(
            start_line(node),
            rule="py-pickle-load",
            category=Category.SECURITY,
            severity=Severity.MEDIUM,
            message=(
                f"`{name}()` executes code chosen by whoever produced the bytes; on data that can "
                f"come from outside this process (network, cache, uploads) it is remote code "
                f"execution. Use a data-only format such as JSON, or authenticate the payload."
            ),
        )


def _py_shell(review: _Review, node: Node, name: str, command: Node | None) -> None:
    if name in _PY_SHELL_KEYWORD_CALLS:
        shell = _keyword_value(node, "shell")
        if shell is None or shell.type != "true":
            return
        what = f"`{name}(..., shell=True)`"
        fix = "pass the command as a list of arguments and drop `shell=True`"
    else:
        what = f"`{name}()`"
        fix = "use `subprocess.run([...])` with a list of arguments"
    if _is_plain_python_string(command):
        return  # a constant command line: nothing can be injected
    review.report(
        start_line(node),
        rule="py-shell-injection",
        category=Category.SECURITY,
        severity=Severity.HIGH,
        message=(
            f"{what} runs the command through `/bin/sh`, so a file name or other value built "
            f"into the string can inject extra shell commands; {fix}."
        ),
    )


def _py_assert_tuple(review: _Review, node: Node) -> None:
    condition = _first_named(node)
    if condition is None or condition.type != "tuple":
        return
    items = [child for child in condition.named_children if child.type != "comment"]
    if not items:
        return
    replacement = None
    statement_line = review.line_text(start_line(node)).strip()
    if (
        len(items) == 2
        and node.start_point.row == node.end_point.row
        and statement_line == node_text(node).strip()
    ):
        indent = review.line_text(start_line(node))[: node.start_point.column]
        replacement = f"{indent}assert {node_text(items[0])}, {node_text(items[1])}"
    review.report(
        start_line(node),
        rule="py-assert-tuple",
        category=Category.BUG,
        severity=Severity.HIGH,
        message=(
            "This asserts a non-empty tuple, which is always true, so the assertion can never "
            'fail. Remove the parentheses: `assert condition, "message"`.'
        ),
        replacement=replacement,
    )


def _py_finally_exit(review: _Review, node: Node) -> None:
    keyword = node.type.split("_")[0]  # return / break / continue
    current = node.parent
    while current is not None:
        if current.type in _PY_SCOPES:
            return
        if keyword != "return" and current.type in ("for_statement", "while_statement"):
            return  # leaves a loop inside the finally block: fine
        if current.type == "finally_clause":
            break
        current = current.parent
    else:
        return
    review.report(
        start_line(node),
        rule="py-finally-exit",
        category=Category.BUG,
        severity=Severity.MEDIUM,
        message=(
            f"`{keyword}` inside `finally` discards any exception raised in the `try` block"
            + (" and overrides its return value" if keyword == "return" else "")
            + f", so errors disappear silently. Move the `{keyword}` after the `try` statement."
        ),
    )


def _in_class_body(node: Node) -> bool:
    """``name = name`` in a class body copies an outer name into the class: not a no-op."""
    parent = node.parent
    if parent is not None and parent.type == "expression_statement":
        parent = parent.parent
    owner = parent.parent if parent is not None and parent.type == "block" else None
    return owner is not None and owner.type == "class_definition"


def _py_assignment(review: _Review, node: Node) -> None:
    left, right = _field(node, "left"), _field(node, "right")
    if left is None or right is None:
        return
    if (
        left.type == right.type
        and left.type in ("identifier", "attribute")
        and collapse_whitespace(node_text(left)) == collapse_whitespace(node_text(right))
        and not (left.type == "identifier" and _in_class_body(node))
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
    target = left
    if left.type == "attribute":
        target = _field(left, "attribute") or left
    elif left.type == "subscript":
        key = _field(left, "subscript")
        if key is None or not _is_plain_python_string(key):
            return
        target = key
    if target.type == "identifier":
        name = node_text(target)
    elif target.type == "string":
        name = _python_string_value(target)
    else:
        return
    _py_secret(review, name, right)


def _looks_like_secret_name(name: str) -> bool:
    lowered = name.lower()
    if not any(word in lowered for word in _SECRET_WORDS):
        return False
    return not lowered.endswith(_NOT_SECRET_SUFFIXES)


def _looks_like_secret_value(value: str) -> bool:
    if len(value) < 8 or any(char.isspace() for char in value):
        return False
    lowered = value.lower()
    if lowered.startswith(("http://", "https://", "/", "./", "~")):
        return False
    if any(mark in value for mark in ("{", "}", "<", ">", "$", "%(")):
        return False  # a template or placeholder
    if re.fullmatch(r"[A-Z0-9_]+", value) or re.fullmatch(r"[a-z_.\-]+", value):
        return False  # an environment variable name or an identifier
    if re.fullmatch(r"(.)\1+", value):
        return False  # "********", "xxxxxxxx"
    return not any(word in lowered for word in _PLACEHOLDER_WORDS)


def _is_test_path(path: str) -> bool:
    pure = PurePosixPath(path.lower())
    if any(part in _TEST_DIRS for part in pure.parts[:-1]):
        return True
    name = pure.name
    return bool(_TEST_FILE.search(name))


def _py_secret(review: _Review, name: str, value: Node) -> None:
    if not _looks_like_secret_name(name) or not _is_plain_python_string(value):
        return
    if _is_test_path(review.path) or not _looks_like_secret_value(_python_string_value(value)):
        return
    review.report(
        start_line(value),
        rule="py-hardcoded-secret",
        category=Category.SECURITY,
        severity=Severity.HIGH,
        message=(
            f"`{name}` is set to a hard-coded secret-looking string; anything committed here is "
            f"readable by everyone with repository access and stays in git history. Load it from "
            f"the environment or a secret store, and rotate the value if it is real."
        ),
    )


def _py_keyword_argument(review: _Review, node: Node) -> None:
    value = _field(node, "value")
    if value is not None:
        _py_secret(review, node_text(_field(node, "name")), value)


def _py_pair(review: _Review, node: Node) -> None:
    key, value = _field(node, "key"), _field(node, "value")
    if key is not None and value is not None and _is_plain_python_string(key):
        _py_secret(review, _python_string_value(key), value)


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
    "default_parameter": _py_mutable_default,
    "typed_default_parameter": _py_mutable_default,
    "except_clause": _py_except,
    "comparison_operator": _py_comparison,
    "call": _py_call,
    "assert_statement": _py_assert_tuple,
    "return_statement": _py_finally_exit,
    "break_statement": _py_finally_exit,
    "continue_statement": _py_finally_exit,
    "assignment": _py_assignment,
    "keyword_argument": _py_keyword_argument,
    "pair": _py_pair,
    "for_statement": _py_range_len,
}


# ---------------------------------------------------------------------------- JS / TS rules

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


def _is_js_static_string(node: Node | None) -> bool:
    if node is None:
        return False
    if node.type == "string":
        return True
    if node.type == "template_string":
        return not any(child.type == "template_substitution" for child in node.named_children)
    return False


def _js_loose_equality(review: _Review, node: Node) -> None:
    operator = _field(node, "operator")
    op = node_text(operator)
    if operator is None or op not in ("==", "!="):
        return
    left, right = _field(node, "left"), _field(node, "right")
    if left is None or right is None:
        return
    sides = (left, right)
    if any(side.type in ("null", "undefined") or node_text(side) == "undefined" for side in sides):
        return  # `x == null` deliberately matches null and undefined
    strict = "===" if op == "==" else "!=="
    replacement = None
    typeof_check = any(
        side.type == "unary_expression" and node_text(_field(side, "operator")) == "typeof"
        for side in sides
    ) and any(side.type == "string" for side in sides)
    if typeof_check:
        replacement = review.replace_on_line(operator, strict)
    review.report(
        start_line(operator),
        rule="js-loose-equality",
        category=Category.BUG,
        severity=Severity.MEDIUM,
        message=(
            f'`{op}` converts its operands before comparing (`0 == ""` and `"1" == 1` are '
            f"true), which hides type mix-ups; use `{strict}`."
        ),
        replacement=replacement,
    )


def _js_call(review: _Review, node: Node) -> None:
    function = _field(node, "function")
    if function is None:
        return
    args = _arguments(node)
    name = node_text(function) if function.type == "identifier" else None
    if name == "eval":
        if len(args) == 1 and _is_js_static_string(args[0]):
            return
        review.report(
            start_line(node),
            rule="js-eval",
            category=Category.SECURITY,
            severity=Severity.HIGH,
            message=(
                "`eval()` runs its argument as JavaScript with the caller's privileges; any "
                "attacker-influenced part of the string becomes code execution (XSS in a "
                "browser). Parse data with `JSON.parse`, or look functions up by name."
            ),
        )
    elif name == "Function":
        _js_function_constructor(review, node)
    elif name == "parseInt" or node_text(function) == "Number.parseInt":
        if len(args) != 1 or args[0].type == "spread_element":
            return
        review.report(
            start_line(node),
            rule="js-parseint-radix",
            category=Category.BUG,
            severity=Severity.LOW,
            message=(
                "`parseInt` without a radix reads strings starting with `0x` as hexadecimal "
                '(`parseInt("0x10")` is 16); pass the radix: `parseInt(value, 10)`.'
            ),
        )
    elif function.type == "member_expression" and (
        node_text(_field(function, "property")) == "forEach"
    ):
        _js_async_foreach(review, node, function, args)


def _js_function_constructor(review: _Review, node: Node) -> None:
    review.report(
        start_line(node),
        rule="js-eval",
        category=Category.SECURITY,
        severity=Severity.HIGH,
        message=(
            "`Function(...)` compiles a string into code just like `eval`; any "
            "attacker-influenced part of it becomes code execution. Use a real function "
            "instead of building one from a string."
        ),
    )


def _js_new(review: _Review, node: Node) -> None:
    constructor = _field(node, "constructor")
    if constructor is not None and node_text(constructor) == "Function":
        _js_function_constructor(review, node)


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


def _js_if_assignment(review: _Review, node: Node) -> None:
    condition = _field(node, "condition")
    inner = _first_named(condition)
    if inner is None or inner.type != "assignment_expression":
        return  # double parentheses `if ((m = re.exec(s)))` mark an intended assignment
    target = collapse_whitespace(node_text(_field(inner, "left")))
    review.report(
        start_line(inner),
        rule="js-assignment-in-condition",
        category=Category.BUG,
        severity=Severity.HIGH,
        message=(
            f"The `if` condition assigns to `{target}` (`=`) instead of comparing, so it tests "
            f"the assigned value and overwrites `{target}`. Use `===` to compare; if the "
            f"assignment is intended, do it before the `if`."
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
        rule="js-inner-html",
        category=Category.SECURITY,
        severity=Severity.MEDIUM,
        message=(
            f"Assigning a dynamic value to `{prop}` parses it as HTML, so any user-controlled "
            f"part can inject script (XSS). Use `textContent` for text, or build the elements "
            f"with `document.createElement` (or sanitize the HTML first)."
        ),
    )


def _js_debugger(review: _Review, node: Node) -> None:
    review.report(
        start_line(node),
        rule="js-debugger",
        category=Category.MAINTAINABILITY,
        severity=Severity.MEDIUM,
        message=(
            "A `debugger` statement pauses execution whenever developer tools are open; "
            "it is a leftover from debugging and should not be merged."
        ),
    )


_JS_RULES: dict[str, _Handler] = {
    "binary_expression": _js_loose_equality,
    "call_expression": _js_call,
    "new_expression": _js_new,
    "if_statement": _js_if_assignment,
    "assignment_expression": _js_inner_html,
    "augmented_assignment_expression": _js_inner_html,
    "debugger_statement": _js_debugger,
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
