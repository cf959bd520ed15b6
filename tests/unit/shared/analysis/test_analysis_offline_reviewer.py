import textwrap
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from shared.analysis.ast_report import AstReport, BreakingChange, CallerRef
from shared.analysis.offline_reviewer import review_file, review_pr_offline
from shared.models import Category, ChangedFile, FileStatus, Severity, Suggestion

MakeChange = Callable[..., tuple[ChangedFile, set[int]]]


def code(text: str) -> str:
    return textwrap.dedent(text)


PY_PREFIX = "import os\nimport pickle\nimport subprocess\nimport yaml\n\n\n"
JS_PREFIX = "import { save } from './store';\n\n"


@dataclass(frozen=True)
class Case:
    rule: str
    path: str
    positive: str
    negative: str
    # 1-based line inside ``positive`` where the finding is expected
    line: int
    category: Category
    severity: Severity


CASES = [
    Case(
        "py-mutable-default",
        "app/jobs.py",
        code(
            """\
            def enqueue(job, queue=[]):
                queue.append(job)
                return queue
            """
        ),
        code(
            """\
            def enqueue(job, queue=None):
                queue = [] if queue is None else queue
                queue.append(job)
                return queue
            """
        ),
        1,
        Category.BUG,
        Severity.HIGH,
    ),
    Case(
        "py-mutable-default",
        "app/jobs.py",
        code(
            """\
            def merge(a, *, extra: dict = {}):
                return {**a, **extra}
            """
        ),
        code(
            """\
            def merge(a, *, extra: tuple = ()):
                return (a, *extra)
            """
        ),
        1,
        Category.BUG,
        Severity.HIGH,
    ),
    Case(
        "py-bare-except",
        "app/io.py",
        code(
            """\
            def read(path):
                try:
                    return open(path).read()
                except:
                    return None
            """
        ),
        code(
            """\
            def read(path):
                try:
                    return open(path).read()
                except:
                    log(path)
                    raise
            """
        ),
        4,
        Category.BUG,
        Severity.MEDIUM,
    ),
    Case(
        "py-swallowed-exception",
        "app/io.py",
        code(
            """\
            def close(conn):
                try:
                    conn.close()
                except Exception:
                    pass
            """
        ),
        code(
            """\
            def close(conn):
                try:
                    conn.close()
                except ConnectionError:
                    pass
            """
        ),
        4,
        Category.BUG,
        Severity.MEDIUM,
    ),
    Case(
        "py-swallowed-exception",
        "app/io.py",
        code(
            """\
            def close(conn):
                try:
                    conn.close()
                except Exception as exc:
                    ...
            """
        ),
        code(
            """\
            def close(conn):
                try:
                    conn.close()
                except Exception as exc:
                    log.warning('close failed: %s', exc)
            """
        ),
        4,
        Category.BUG,
        Severity.MEDIUM,
    ),
    Case(
        "py-singleton-equality",
        "app/check.py",
        code(
            """\
            def missing(value):
                return value == None
            """
        ),
        code(
            """\
            def missing(value):
                return value is None
            """
        ),
        2,
        Category.BUG,
        Severity.LOW,
    ),
    Case(
        "py-singleton-equality",
        "app/check.py",
        code(
            """\
            def enabled(flag):
                if flag != False:
                    return 1
            """
        ),
        code(
            """\
            def deleted(session, User):
                return session.query(User).filter(User.deleted_at == None)
            """
        ),
        2,
        Category.BUG,
        Severity.LOW,
    ),
    Case(
        "py-is-literal",
        "app/check.py",
        code(
            """\
            def is_admin(role):
                return role is 'admin'
            """
        ),
        code(
            """\
            def is_admin(role):
                return role == 'admin' or role is None
            """
        ),
        2,
        Category.BUG,
        Severity.HIGH,
    ),
    Case(
        "py-is-literal",
        "app/check.py",
        code(
            """\
            def failed(code):
                return code is not -1
            """
        ),
        code(
            """\
            def failed(code):
                return code is not SENTINEL
            """
        ),
        2,
        Category.BUG,
        Severity.HIGH,
    ),
    Case(
        "py-eval",
        "app/calc.py",
        code(
            """\
            def compute(expr):
                return eval(expr)
            """
        ),
        code(
            """\
            def compute(model, expr):
                model.eval()
                return ast.literal_eval(expr)
            """
        ),
        2,
        Category.SECURITY,
        Severity.HIGH,
    ),
    Case(
        "py-eval",
        "app/calc.py",
        code(
            """\
            def run(code, scope):
                exec(code, scope)
            """
        ),
        code(
            """\
            def run(scope):
                exec('x = 1', scope) if False else None
                exec('x = 1')
            """
        ),
        2,
        Category.SECURITY,
        Severity.HIGH,
    ),
    Case(
        "py-shell-injection",
        "app/shell.py",
        code(
            """\
            def archive(name):
                subprocess.run(f'tar czf {name}.tgz data', shell=True)
            """
        ),
        code(
            """\
            def archive(name):
                subprocess.run(['tar', 'czf', f'{name}.tgz', 'data'])
                subprocess.run(f'tar {name}', shell=False)
            """
        ),
        2,
        Category.SECURITY,
        Severity.HIGH,
    ),
    Case(
        "py-shell-injection",
        "app/shell.py",
        code(
            """\
            def remove(path):
                os.system('rm -rf ' + path)
            """
        ),
        code(
            """\
            def remove(path):
                os.remove(path)
                os.system('clear')
            """
        ),
        2,
        Category.SECURITY,
        Severity.HIGH,
    ),
    Case(
        "py-yaml-load",
        "app/conf.py",
        code(
            """\
            def read(fh):
                return yaml.load(fh)
            """
        ),
        code(
            """\
            def read(fh):
                return yaml.load(fh, Loader=yaml.SafeLoader) or yaml.safe_load(fh)
            """
        ),
        2,
        Category.SECURITY,
        Severity.HIGH,
    ),
    Case(
        "py-pickle-load",
        "app/cache.py",
        code(
            """\
            def restore(blob):
                return pickle.loads(blob)
            """
        ),
        code(
            """\
            def store(obj):
                return pickle.dumps(obj)
            """
        ),
        2,
        Category.SECURITY,
        Severity.MEDIUM,
    ),
    Case(
        "py-assert-tuple",
        "app/check.py",
        code(
            """\
            def check(x):
                assert (x > 0, 'x must be positive')
            """
        ),
        code(
            """\
            def check(x):
                assert x > 0, 'x must be positive'
                assert (x > 0)
            """
        ),
        2,
        Category.BUG,
        Severity.HIGH,
    ),
    Case(
        "py-finally-exit",
        "app/flow.py",
        code(
            """\
            def fetch(conn):
                try:
                    return conn.get()
                finally:
                    return None
            """
        ),
        code(
            """\
            def fetch(conn):
                try:
                    return conn.get()
                finally:
                    conn.close()
            """
        ),
        5,
        Category.BUG,
        Severity.MEDIUM,
    ),
    Case(
        "py-finally-exit",
        "app/flow.py",
        code(
            """\
            def drain(q):
                while q:
                    try:
                        q.pop()
                    finally:
                        break
            """
        ),
        code(
            """\
            def drain(q):
                try:
                    q.pop()
                finally:
                    for item in q:
                        break

                    def later():
                        return 1
            """
        ),
        6,
        Category.BUG,
        Severity.MEDIUM,
    ),
    Case(
        "py-self-assignment",
        "app/model.py",
        code(
            """\
            class User:
                def __init__(self, name):
                    self.name = self.name
            """
        ),
        code(
            """\
            class User:
                name = name

                def __init__(self, name):
                    self.name = name
            """
        ),
        3,
        Category.BUG,
        Severity.MEDIUM,
    ),
    Case(
        "py-hardcoded-secret",
        "app/settings.py",
        code(
            """\
            API_TOKEN = 'ghp_4f9A1c8B2d7E6a5F'
            """
        ),
        code(
            """\
            API_TOKEN = os.environ['API_TOKEN']
            TOKEN_ENV = 'SERVICE_API_TOKEN'
            password = 'short'
            PASSWORD_URL = 'https://example.org/reset-password'
            """
        ),
        1,
        Category.SECURITY,
        Severity.HIGH,
    ),
    Case(
        "py-hardcoded-secret",
        "app/db.py",
        code(
            """\
            def connect(driver):
                return driver.connect(user='app', password='Pr0d-db-2024!')
            """
        ),
        code(
            """\
            def connect(driver, secret):
                return driver.connect(user='app', password=secret)
            """
        ),
        2,
        Category.SECURITY,
        Severity.HIGH,
    ),
    Case(
        "py-range-len-off-by-one",
        "app/loop.py",
        code(
            """\
            def total(xs):
                s = 0
                for i in range(len(xs) + 1):
                    s += xs[i]
                return s
            """
        ),
        code(
            """\
            def total(xs):
                s = 0
                for i in range(len(xs)):
                    s += xs[i]
                for i in range(len(xs) + 1):
                    s += i
                return s
            """
        ),
        3,
        Category.BUG,
        Severity.HIGH,
    ),
    Case(
        "js-loose-equality",
        "web/cart.js",
        code(
            """\
            export function same(a, b) {
              return a == b;
            }
            """
        ),
        code(
            """\
            export function same(a, b) {
              return a === b || a == null;
            }
            """
        ),
        2,
        Category.BUG,
        Severity.MEDIUM,
    ),
    Case(
        "js-eval",
        "web/calc.js",
        code(
            """\
            export function run(code) {
              return eval(code);
            }
            """
        ),
        code(
            """\
            export function run(code) {
              return JSON.parse(code);
            }
            """
        ),
        2,
        Category.SECURITY,
        Severity.HIGH,
    ),
    Case(
        "js-eval",
        "web/calc.ts",
        code(
            """\
            export function compile(body: string) {
              return new Function('x', body);
            }
            """
        ),
        code(
            """\
            export function compile(body: string) {
              return new Map([['x', body]]);
            }
            """
        ),
        2,
        Category.SECURITY,
        Severity.HIGH,
    ),
    Case(
        "js-assignment-in-condition",
        "web/auth.js",
        code(
            """\
            export function check(user, admin) {
              if (user = admin) {
                return true;
              }
            }
            """
        ),
        code(
            """\
            export function check(user, admin, re, s) {
              let m;
              if (user === admin) return true;
              if ((m = re.exec(s))) return m;
            }
            """
        ),
        2,
        Category.BUG,
        Severity.HIGH,
    ),
    Case(
        "js-parseint-radix",
        "web/form.ts",
        code(
            """\
            export const age = (raw: string) => parseInt(raw);
            """
        ),
        code(
            """\
            export const age = (raw: string) => parseInt(raw, 10);
            """
        ),
        1,
        Category.BUG,
        Severity.LOW,
    ),
    Case(
        "js-inner-html",
        "web/view.js",
        code(
            """\
            export function show(el, comment) {
              el.innerHTML = `<p>${comment}</p>`;
            }
            """
        ),
        code(
            """\
            export function show(el, comment) {
              el.textContent = comment;
              el.innerHTML = '<p>static</p>';
            }
            """
        ),
        2,
        Category.SECURITY,
        Severity.MEDIUM,
    ),
    Case(
        "js-async-foreach",
        "web/sync.ts",
        code(
            """\
            export async function syncAll(items: Item[]) {
              items.forEach(async (item) => {
                await save(item);
              });
            }
            """
        ),
        code(
            """\
            export async function syncAll(items: Item[]) {
              for (const item of items) {
                await save(item);
              }
              items.forEach((item) => save(item));
            }
            """
        ),
        2,
        Category.BUG,
        Severity.HIGH,
    ),
    Case(
        "js-debugger",
        "web/App.tsx",
        code(
            """\
            export const App = () => {
              debugger;
              return <div />;
            };
            """
        ),
        code(
            """\
            export const App = () => {
              const debuggerEnabled = false;
              return <div />;
            };
            """
        ),
        2,
        Category.MAINTAINABILITY,
        Severity.MEDIUM,
    ),
]


def _change(make_change: MakeChange, path: str, snippet: str) -> tuple[ChangedFile, set[int], int]:
    prefix = PY_PREFIX if path.endswith(".py") else JS_PREFIX
    file, lines = make_change(path, prefix + snippet, prefix)
    return file, lines, prefix.count("\n")


@pytest.mark.parametrize("case", CASES, ids=[f"{c.rule}-{i}" for i, c in enumerate(CASES)])
def test_rule_fires_on_positive_example(case: Case, make_change: MakeChange) -> None:
    file, lines, offset = _change(make_change, case.path, case.positive)
    findings = [s for s in review_file(file, lines) if s.rule == case.rule]
    assert [s.start_line for s in findings] == [offset + case.line]
    finding = findings[0]
    assert (finding.category, finding.severity, finding.source) == (
        case.category,
        case.severity,
        "offline",
    )
    assert finding.path == case.path
    assert len(finding.message) > 40


@pytest.mark.parametrize("case", CASES, ids=[f"{c.rule}-{i}" for i, c in enumerate(CASES)])
def test_rule_is_silent_on_close_negative_example(case: Case, make_change: MakeChange) -> None:
    file, lines, _ = _change(make_change, case.path, case.negative)
    assert [s for s in review_file(file, lines) if s.rule == case.rule] == []


@pytest.mark.parametrize("case", CASES, ids=[f"{c.rule}-{i}" for i, c in enumerate(CASES)])
def test_findings_stay_on_changed_lines(case: Case, make_change: MakeChange) -> None:
    # the bad code is already in the base; the change only adds a comment line below it
    prefix = PY_PREFIX if case.path.endswith(".py") else JS_PREFIX
    comment = "# unrelated\n" if case.path.endswith(".py") else "// unrelated\n"
    before = prefix + case.positive
    file, lines = make_change(case.path, before + comment, before)
    assert lines == {before.count("\n") + 1}
    assert review_file(file, lines) == []


def test_every_finding_is_anchored_on_one_changed_line(make_change: MakeChange) -> None:
    snippet = "".join(case.positive + "\n" for case in CASES if case.path.endswith(".py"))
    file, lines = make_change("app/all.py", PY_PREFIX + snippet, PY_PREFIX)
    findings = review_file(file, lines)
    assert {s.rule for s in findings} == {c.rule for c in CASES if c.path.endswith(".py")}
    for finding in findings:
        assert finding.start_line == finding.end_line
        assert finding.start_line in lines


def test_only_the_changed_part_of_a_function_is_reviewed(make_change: MakeChange) -> None:
    before = PY_PREFIX + "def f(items=[]):\n    return items\n"
    after = PY_PREFIX + "def f(items=[]):\n    return eval(items)\n"
    file, lines = make_change("app/x.py", after, before)
    assert [s.rule for s in review_file(file, lines)] == ["py-eval"]


@pytest.mark.parametrize(
    ("path", "text", "line", "replacement"),
    [
        ("a.py", "def f(value):\n    if value == None:\n        pass\n", 2,
         "    if value is None:"),
        ("a.py", "ok = value != None\n", 1, "ok = value is not None"),
        ("a.py", "same = role is 'admin'\n", 1, "same = role == 'admin'"),
        ("a.py", "import yaml\n\nwith open(p) as fh:\n    data = yaml.load(fh)\n", 4,
         "    data = yaml.safe_load(fh)"),
        ("a.py", "assert (x, 'message')\n", 1, "assert x, 'message'"),
        ("a.js", "if (typeof x == 'string') {}\n", 1, "if (typeof x === 'string') {}"),
    ],
)  # fmt: skip
def test_certain_one_line_fixes_come_with_a_replacement(
    path: str, text: str, line: int, replacement: str, make_change: MakeChange
) -> None:
    file, lines = make_change(path, text)
    assert line in lines
    findings = review_file(file, lines)
    assert [(s.start_line, s.replacement) for s in findings] == [(line, replacement)]


def test_no_replacement_when_the_fix_is_not_certain(make_change: MakeChange) -> None:
    file, lines = make_change("a.js", "export const same = (a, b) => a == b;\n")
    (finding,) = review_file(file, lines)
    assert finding.rule == "js-loose-equality"
    assert finding.replacement is None


def test_two_findings_on_one_line_drop_their_replacements(make_change: MakeChange) -> None:
    file, lines = make_change("a.py", "def f(a, b):\n    return a == None or b == None\n")
    findings = review_file(file, lines)
    assert [(s.rule, s.replacement) for s in findings] == [("py-singleton-equality", None)]


def test_suppression_comment(make_change: MakeChange) -> None:
    file, lines = make_change("a.py", "def f(code):\n    return eval(code)  # reviewflow: ignore\n")
    assert review_file(file, lines) == []


def test_files_that_cannot_be_reviewed_give_no_findings(make_change: MakeChange) -> None:
    ruby, ruby_lines = make_change("a.rb", "eval(params[:code])\n")
    assert review_file(ruby, ruby_lines) == []
    binary = ChangedFile(path="a.py", status=FileStatus.MODIFIED, binary=True)
    assert review_file(binary, {1}) == []
    removed = ChangedFile(path="a.py", status=FileStatus.REMOVED)
    assert review_file(removed, {1}) == []
    python, _ = make_change("a.py", "eval(code)\n")
    assert review_file(python, set()) == []


def test_messages_do_not_repeat_the_secret(make_change: MakeChange) -> None:
    file, lines = make_change("app/s.py", "SECRET_KEY = 'q8Zr2Lx9Wv4T'\n")
    (finding,) = review_file(file, lines)
    assert "q8Zr2Lx9Wv4T" not in finding.message
    assert "SECRET_KEY" in finding.message


def test_secrets_in_test_files_are_not_reported(make_change: MakeChange) -> None:
    file, lines = make_change("tests/test_login.py", "PASSWORD = 'hunter2hunter2'\n")
    assert review_file(file, lines) == []


# ---------------------------------------------------------------------------- PR level


def _source_file(path: str, added: int) -> ChangedFile:
    body = "".join(f"+x{n} = {n}\n" for n in range(added))
    return ChangedFile(
        path=path,
        status=FileStatus.MODIFIED,
        patch=f"@@ -1,0 +1,{added} @@\n{body}",
        content="",
    )


BREAKING = BreakingChange(
    path="pkg/io.py",
    symbol="load",
    old_signature="(path)",
    new_signature="(path, encoding)",
    callers=[
        CallerRef(
            path="pkg/app.py",
            line=6,
            caller="run",
            call="load",
            problem="does not pass the required argument `encoding`",
        ),
        CallerRef(path="cli/main.py", line=12, caller=None, call="io.load"),
    ],
    caller_count=2,
)


def test_pr_breaking_change_names_its_callers() -> None:
    report = AstReport(breaking_changes=[BREAKING])
    findings = review_pr_offline([_source_file("pkg/io.py", 3)], "Add encoding", "Adds it.", report)
    (finding,) = findings
    assert (finding.category, finding.severity, finding.rule) == (
        Category.BREAKING_CHANGE,
        Severity.HIGH,
        "pr-breaking-change",
    )
    assert "`load`" in finding.title
    assert "`pkg/app.py:6` (run: does not pass the required argument `encoding`)" in finding.message
    assert "`cli/main.py:12` (module level)" in finding.message
    assert "`(path)`" in finding.message and "`(path, encoding)`" in finding.message
    assert finding.paths == ("pkg/io.py", "pkg/app.py", "cli/main.py")


def test_pr_removed_symbol_finding() -> None:
    removed = BREAKING.model_copy(update={"change": "removed", "new_signature": None})
    (finding,) = review_pr_offline([], "t", "b", AstReport(breaking_changes=[removed]))
    assert "removed" in finding.title
    assert "removed by this change" in finding.message


def test_pr_missing_tests() -> None:
    files = [_source_file("pkg/io.py", 20), _source_file("pkg/app.py", 11)]
    findings = review_pr_offline(files, "Feature", "Adds a feature.", None)
    assert [(f.rule, f.category, f.severity) for f in findings] == [
        ("pr-missing-tests", Category.MAINTAINABILITY, Severity.LOW)
    ]
    assert "31 lines" in findings[0].message
    assert findings[0].paths == ("pkg/io.py", "pkg/app.py")

    with_tests = [*files, _source_file("tests/unit/test_io.py", 5)]
    assert review_pr_offline(with_tests, "Feature", "Adds a feature.", None) == []
    small = [_source_file("pkg/io.py", 30)]
    assert review_pr_offline(small, "Feature", "Adds a feature.", None) == []
    docs_only = [_source_file("docs/guide.md", 80)]
    assert review_pr_offline(docs_only, "Docs", "More docs.", None) == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", True),
        ("   \n", True),
        ("<!-- describe your change -->\n", True),
        ("Refactor", True),  # the title repeated is no description
        ("Splits the parser into stages so that errors name the stage.", False),
    ],
)
def test_pr_empty_description(body: str, expected: bool) -> None:
    files = [_source_file("docs/a.md", 101)]
    findings = review_pr_offline(files, "Refactor", body, None)
    assert [f.rule for f in findings] == (["pr-empty-description"] if expected else [])


def test_pr_empty_description_on_small_change_is_fine() -> None:
    assert review_pr_offline([_source_file("docs/a.md", 100)], "Docs", "", None) == []


def test_additions_from_the_host_are_used_when_given() -> None:
    file = ChangedFile(path="docs/a.md", status=FileStatus.MODIFIED, additions=150)
    (finding,) = review_pr_offline([file], "Docs", "", None)
    assert finding.rule == "pr-empty-description"
    assert "150 lines" in finding.message


def test_review_file_returns_suggestions() -> None:
    content = "def f(a=[]):\n    return a\n"
    file = ChangedFile(path="m.py", status=FileStatus.ADDED, content=content, additions=2)
    (finding,) = review_file(file, {1, 2})
    assert isinstance(finding, Suggestion)
    assert finding.rule == "py-mutable-default"
