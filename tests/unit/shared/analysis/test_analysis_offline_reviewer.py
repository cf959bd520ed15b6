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


PY_PREFIX = "import asyncio\nimport os\n\nfrom flask import request\n\n\n"
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


# The rules an analyzer does not cover (Ruff, oxlint and detect-secrets cover the rest; their
# examples are in tests/unit/shared/analyzers/test_analyzer_rules.py).
CASES = [
    Case(
        "py-missing-await",
        "app/jobs.py",
        code(
            """\
            async def notify(user):
                await asyncio.sleep(0)


            async def handle(user):
                notify(user)
            """
        ),
        code(
            """\
            async def notify(user):
                await asyncio.sleep(0)


            async def handle(user):
                await notify(user)
                task = asyncio.create_task(notify(user))
                pending = notify(user)
                await asyncio.gather(pending, task)
            """
        ),
        6,
        Category.BUG,
        Severity.HIGH,
    ),
    Case(
        "py-missing-await",
        "app/store.py",
        code(
            """\
            class Store:
                async def load(self, key):
                    return {}

                async def name(self, key):
                    row = self.load(key)
                    return row["name"]
            """
        ),
        code(
            """\
            class Store:
                async def load(self, key):
                    return {}

                async def name(self, key):
                    row = await self.load(key)
                    return row["name"]

                def later(self, key):
                    return self.load(key)
            """
        ),
        6,
        Category.BUG,
        Severity.HIGH,
    ),
    Case(
        "py-path-traversal",
        "app/files.py",
        code(
            """\
            def download():
                name = request.args["file"]
                path = os.path.join("/srv/uploads", name)
                with open(path, "rb") as fh:
                    return fh.read()
            """
        ),
        code(
            """\
            def download():
                name = os.path.basename(request.args["file"])
                path = os.path.join("/srv/uploads", name)
                with open(path, "rb") as fh:
                    return fh.read()
            """
        ),
        4,
        Category.SECURITY,
        Severity.HIGH,
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
                def __init__(self, name):
                    self.name = name
            """
        ),
        3,
        Category.BUG,
        Severity.MEDIUM,
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
        "js-xss-sink",
        "web/view.js",
        code(
            """\
            export function show(el, name) {
              el.innerHTML = `<b>${name}</b>`;
            }
            """
        ),
        code(
            """\
            export function show(el, name) {
              el.textContent = name;
              el.innerHTML = '<p>static</p>';
            }
            """
        ),
        2,
        Category.SECURITY,
        Severity.HIGH,
    ),
    Case(
        "js-xss-sink",
        "web/legacy.js",
        code(
            """\
            export function banner(params) {
              document.write('<h1>' + params.get('title') + '</h1>');
            }
            """
        ),
        code(
            """\
            export function banner(params, out) {
              document.write('<h1>Welcome</h1>');
              out.write(params.get('title'));
            }
            """
        ),
        2,
        Category.SECURITY,
        Severity.HIGH,
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
        "js-missing-await",
        "web/user.ts",
        code(
            """\
            async function loadUser(id: string): Promise<User> {
              return (await fetch(`/users/${id}`)).json();
            }

            export async function greet(id: string) {
              const user = loadUser(id);
              return `Hello ${user.name}`;
            }
            """
        ),
        code(
            """\
            async function loadUser(id: string): Promise<User> {
              return (await fetch(`/users/${id}`)).json();
            }

            export async function greet(id: string) {
              const user = await loadUser(id);
              const later = loadUser(id);
              await Promise.all([later]);
              return `Hello ${user.name}`;
            }
            """
        ),
        6,
        Category.BUG,
        Severity.HIGH,
    ),
    Case(
        "js-sql-injection",
        "server/users.js",
        code(
            """\
            export async function find(db, req) {
              return db.query(`SELECT * FROM users WHERE id = ${req.params.id}`);
            }
            """
        ),
        code(
            """\
            export async function find(db, req) {
              const label = `user ${req.params.id}`;
              return db.query('SELECT * FROM users WHERE id = $1', [req.params.id]);
            }
            """
        ),
        2,
        Category.SECURITY,
        Severity.HIGH,
    ),
    Case(
        "js-command-injection",
        "server/git.js",
        code(
            """\
            import { exec } from 'child_process';

            export function log(branch, done) {
              exec(`git log --oneline ${branch}`, done);
            }
            """
        ),
        code(
            """\
            import { execFile } from 'child_process';

            export function log(branch, done) {
              execFile('git', ['log', '--oneline', branch], done);
              /v(\\d+)/.exec(`v${branch}`);
            }
            """
        ),
        4,
        Category.SECURITY,
        Severity.HIGH,
    ),
    Case(
        "js-path-traversal",
        "server/files.js",
        code(
            """\
            export function download(req, res) {
              const file = path.join(UPLOADS, req.query.name);
              res.sendFile(file);
            }
            """
        ),
        code(
            """\
            export function download(req, res) {
              const file = path.join(UPLOADS, path.basename(req.query.name));
              res.sendFile(file);
            }
            """
        ),
        3,
        Category.SECURITY,
        Severity.HIGH,
    ),
    Case(
        "js-loop-off-by-one",
        "web/sum.ts",
        code(
            """\
            export function sum(values: number[]): number {
              let total = 0;
              for (let i = 0; i <= values.length; i++) {
                total += values[i];
              }
              return total;
            }
            """
        ),
        code(
            """\
            export function sum(values: number[]): number {
              let total = 0;
              for (let i = 0; i < values.length; i++) {
                total += values[i];
              }
              for (let n = 0; n <= values.length; n++) {
                total += n;
              }
              return total;
            }
            """
        ),
        3,
        Category.BUG,
        Severity.HIGH,
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
    functions = "async def f(user):\n    notify(user)\n\n\nasync def notify(u):\n    pass\n"
    before = PY_PREFIX + functions
    after = before.replace("async def f(user):\n", "async def f(user):\n    f(user)\n")
    file, lines = make_change("app/x.py", after, before)
    findings = review_file(file, lines)
    assert [(s.rule, s.start_line) for s in findings] == [("py-missing-await", 8)]


@pytest.mark.parametrize(
    ("path", "text", "line", "replacement"),
    [
        ("a.py", "async def f():\n    g()\n\n\nasync def g():\n    pass\n", 2, "    await g()"),
        ("a.py", "import asyncio\n\n\nasync def f():\n    asyncio.sleep(1)\n", 5,
         "    await asyncio.sleep(1)"),
        ("a.js", "async function f(u) {\n  const r = fetch(u);\n  return r.json();\n}\n", 2,
         "  const r = await fetch(u);"),
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
    file, lines = make_change("a.js", "export function f(el, x) {\n  el.innerHTML = x;\n}\n")
    (finding,) = review_file(file, lines)
    assert finding.rule == "js-xss-sink"
    assert finding.replacement is None


def test_two_findings_on_one_line_drop_their_replacements(make_change: MakeChange) -> None:
    text = "async def f():\n    g(); g()\n\n\nasync def g():\n    pass\n"
    file, lines = make_change("a.py", text)
    findings = review_file(file, lines)
    assert [(s.rule, s.start_line, s.replacement) for s in findings] == [
        ("py-missing-await", 2, None)
    ]


def test_suppression_comment(make_change: MakeChange) -> None:
    text = "async def f():\n    g()  # reviewflow: ignore\n\n\nasync def g():\n    pass\n"
    file, lines = make_change("a.py", text)
    assert review_file(file, lines) == []


def test_files_that_cannot_be_reviewed_give_no_findings(make_change: MakeChange) -> None:
    ruby, ruby_lines = make_change("a.rb", "File.read(params[:name])\n")
    assert review_file(ruby, ruby_lines) == []
    binary = ChangedFile(path="a.py", status=FileStatus.MODIFIED, binary=True)
    assert review_file(binary, {1}) == []
    removed = ChangedFile(path="a.py", status=FileStatus.REMOVED)
    assert review_file(removed, {1}) == []
    python, _ = make_change("a.py", "open(request.args['f'])\n")
    assert review_file(python, set()) == []


def test_rules_an_analyzer_covers_are_gone(make_change: MakeChange) -> None:
    # mutable default, `is` with a literal, eval, `==`: Ruff and oxlint report these now
    file, lines = make_change("a.py", "def f(a=[]):\n    return eval(a) is 'x'\n")
    assert review_file(file, lines) == []
    js, js_lines = make_change("a.js", "export const same = (a, b) => a == b || eval(a);\n")
    assert review_file(js, js_lines) == []


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
    content = "class A:\n    def f(self):\n        self.a = self.a\n"
    file = ChangedFile(path="m.py", status=FileStatus.ADDED, content=content, additions=3)
    (finding,) = review_file(file, {1, 2, 3})
    assert isinstance(finding, Suggestion)
    assert finding.rule == "py-self-assignment"
