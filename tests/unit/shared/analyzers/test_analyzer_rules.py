"""The analyzer path: what the offline reviewer's hand-written rules used to report (mutable
defaults, bare and swallowed excepts, `is` with a literal, eval, shell injection, unsafe YAML
and pickle, asserted tuples, jumps out of `finally`, hard-coded secrets, `==`, eval and
`new Function`, assignments in conditions, parseInt without radix, `debugger`) now comes from
the pinned Ruff, oxlint and detect-secrets, run for real on the changed lines."""

import textwrap
from dataclasses import dataclass

import pytest

from shared.analyzers.runner import run_analyzers
from shared.config import ReviewConfig
from shared.models import Category, Severity, Suggestion
from tests.unit.shared.analysis.conftest import build_change

PY_PREFIX = "import os\nimport pickle\nimport subprocess\nimport yaml\n\n\n"
JS_PREFIX = "import { save } from './store';\n\n"


def code(text: str) -> str:
    return textwrap.dedent(text)


@dataclass(frozen=True)
class Case:
    rule: str
    path: str
    positive: str
    negative: str
    line: int  # 1-based line inside ``positive``
    category: Category
    severity: Severity


CASES = [
    Case("B006", "app/jobs.py", "def enqueue(job, queue=[]):\n    queue.append(job)\n",
         "def enqueue(job, queue=None):\n    queue = queue or []\n", 1, Category.BUG,
         Severity.HIGH),
    Case("E722", "app/io.py",
         code("""\
              def read(path):
                  try:
                      return open(path).read()
                  except:
                      return None
              """),
         code("""\
              def read(path):
                  try:
                      return open(path).read()
                  except OSError:
                      return None
              """), 4, Category.BUG, Severity.MEDIUM),
    Case("S110", "app/io.py",
         "def close(conn):\n    try:\n        conn.close()\n    except Exception:\n        pass\n",
         "def close(conn, log):\n    try:\n        conn.close()\n    except OSError as exc:\n"
         "        log.warning('close failed: %s', exc)\n", 4, Category.BUG, Severity.MEDIUM),
    Case("F632", "app/check.py", "def express(kind):\n    return kind is 'express'\n",
         "def express(kind):\n    return kind == 'express'\n", 2, Category.BUG, Severity.HIGH),
    Case("S307", "app/calc.py", "def calc(expr):\n    return eval(expr)\n",
         "import ast\n\n\ndef calc(expr):\n    return ast.literal_eval(expr)\n", 2,
         Category.SECURITY, Severity.HIGH),
    Case("S602", "app/shell.py",
         "def convert(name):\n    subprocess.run(f'convert {name} out.png', shell=True)\n",
         "def convert(name):\n    subprocess.run(['convert', name, 'out.png'])\n", 2,
         Category.SECURITY, Severity.HIGH),
    Case("S506", "app/conf.py", "def load(text):\n    return yaml.load(text, Loader=yaml.Loader)\n",
         "def load(text):\n    return yaml.safe_load(text)\n", 2, Category.SECURITY,
         Severity.HIGH),
    Case("S301", "app/cache.py", "def restore(blob):\n    return pickle.loads(blob)\n",
         "import json\n\n\ndef restore(blob):\n    return json.loads(blob)\n", 2,
         Category.SECURITY, Severity.HIGH),
    Case("F631", "app/check.py", "def check(x):\n    assert (x, 'x must be set')\n",
         "def check(x):\n    assert x, 'x must be set'\n", 2, Category.BUG, Severity.HIGH),
    Case("B012", "app/flow.py",
         "def f(g):\n    try:\n        return g()\n    finally:\n        return None\n",
         "def f(g):\n    try:\n        return g()\n    finally:\n        print('done')\n", 5,
         Category.BUG, Severity.MEDIUM),
    Case("S105", "app/settings.py", "DB_PASSWORD = 'Pr0d-db-2024!'\n",
         "DB_PASSWORD = os.environ['DB_PASSWORD']\nTOKEN_ENV = 'SERVICE_API_TOKEN'\n"
         "password = 'short'\nPASSWORD_URL = 'https://example.org/reset-password'\n", 1,
         Category.SECURITY, Severity.HIGH),
    Case("AWSKeyDetector", "app/aws.py", "ACCESS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE'\n",
         "ACCESS_KEY_ID = os.environ['AWS_ACCESS_KEY_ID']\n", 1, Category.SECURITY,
         Severity.CRITICAL),
    Case("eslint/eqeqeq", "web/cart.js", "export function same(a, b) {\n  return a == b;\n}\n",
         "export function same(a, b) {\n  return a === b || a == null;\n}\n", 2, Category.BUG,
         Severity.MEDIUM),
    Case("eslint/no-eval", "web/calc.js", "export function calc(e) {\n  return eval(e);\n}\n",
         "export function calc(e) {\n  return JSON.parse(e);\n}\n", 2, Category.SECURITY,
         Severity.HIGH),
    Case("eslint/no-new-func", "web/calc.ts",
         "export function compile(body: string) {\n  return new Function('x', body);\n}\n",
         "export function compile(body: string) {\n  return (x: number) => x + body.length;\n}\n",
         2, Category.SECURITY, Severity.HIGH),
    Case("eslint/no-cond-assign", "web/auth.js",
         "export function admin(user) {\n  if (user.role = 'admin') {\n    return true;\n  }\n"
         "  return false;\n}\n",
         "export function admin(user) {\n  if (user.role === 'admin') {\n    return true;\n  }\n"
         "  return false;\n}\n", 2, Category.BUG, Severity.HIGH),
    Case("eslint/no-empty", "web/store.ts",
         "export function load() {\n  try {\n    return JSON.parse(localStorage.x);\n"
         "  } catch (e) {}\n  return null;\n}\n",
         "export function load() {\n  try {\n    return JSON.parse(localStorage.x);\n"
         "  } catch (e) {\n    console.warn(e);\n  }\n  return null;\n}\n", 4, Category.BUG,
         Severity.MEDIUM),
    Case("eslint/no-debugger", "web/App.tsx",
         "export const App = () => {\n  debugger;\n  return <div />;\n};\n",
         "export const App = () => {\n  const debuggerOn = false;\n  return <div />;\n};\n",
         2, Category.MAINTAINABILITY, Severity.MEDIUM),
]  # fmt: skip


def _review(
    path: str, after: str, before: str = "", config: ReviewConfig | None = None
) -> list[Suggestion]:
    file, lines = build_change(path, after, before)
    report = run_analyzers([file], {path: lines}, {}, config or ReviewConfig())
    assert all(run.status == "ok" for run in report.runs), report.runs
    return report.findings


def _prefix(path: str) -> str:
    return PY_PREFIX if path.endswith(".py") else JS_PREFIX


@pytest.mark.parametrize("case", CASES, ids=[c.rule for c in CASES])
def test_analyzer_reports_the_positive_example(case: Case) -> None:
    prefix = _prefix(case.path)
    found = _review(case.path, prefix + case.positive, prefix)
    findings = [s for s in found if s.rule == case.rule]
    assert [s.start_line for s in findings] == [prefix.count("\n") + case.line]
    (finding,) = findings
    assert (finding.category, finding.severity, finding.source) == (
        case.category,
        case.severity,
        "analyzer",
    )
    assert finding.doc_url is not None and finding.doc_url.startswith("https://")
    assert len(finding.message) > 30


@pytest.mark.parametrize("case", CASES, ids=[c.rule for c in CASES])
def test_analyzer_is_silent_on_the_close_negative_example(case: Case) -> None:
    prefix = _prefix(case.path)
    findings = _review(case.path, prefix + case.negative, prefix)
    assert [s for s in findings if s.rule == case.rule] == []


@pytest.mark.parametrize("case", CASES, ids=[c.rule for c in CASES])
def test_unchanged_lines_give_no_findings(case: Case) -> None:
    prefix = _prefix(case.path)
    before = prefix + case.positive
    comment = "# unrelated\n" if case.path.endswith(".py") else "// unrelated\n"
    assert _review(case.path, before + comment, before) == []


def test_secrets_never_reach_the_finding() -> None:
    secret_line = "AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq8xLpQ2Vb'\n"
    text = "ACCESS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE'\n" + secret_line
    findings = _review("app/settings.py", text)
    assert findings
    for finding in findings:
        dumped = finding.model_dump_json()
        assert "AKIAIOSFODNN7EXAMPLE" not in dumped
        assert "wJalrXUtnFEMI" not in dumped


def test_secrets_in_test_files_by_name_only_are_not_reported() -> None:
    assert _review("tests/test_login.py", "PASSWORD = 'hunter2hunter2'\n") == []
    # a key in a real format is reported everywhere
    (finding,) = _review("tests/test_aws.py", "KEY = 'AKIAIOSFODNN7EXAMPLE'\n")
    assert finding.rule == "AWSKeyDetector"


def test_autofix_inside_the_changed_lines_becomes_a_replacement() -> None:
    (finding,) = _review("app/check.py", "def express(kind):\n    return kind is 'express'\n")
    assert (finding.rule, finding.start_line, finding.end_line) == ("F632", 2, 2)
    assert finding.replacement == "    return kind == 'express'"


def test_autofix_reaching_unchanged_lines_is_not_offered() -> None:
    before = "def enqueue(job, queue=[]):\n    queue.append(job)\n"
    after = "def enqueue(job, queue=[1]):\n    queue.append(job)\n"
    (finding,) = _review("app/jobs.py", after, before)
    assert finding.rule == "B006"
    # the fix also inserts a line before line 2, which the change did not touch
    assert finding.replacement is None
    assert (finding.start_line, finding.end_line) == (1, 1)


def test_unquoted_secrets_in_config_files_are_reported_without_their_value() -> None:
    text = "aws:\n  access_key_id: AKIAIOSFODNN7EXAMPLE\ndatabase:\n  password: Sup3r-S3cret-2024\n"
    findings = _review("deploy/config.yml", text)
    assert {(s.start_line, s.rule) for s in findings} >= {(2, "AWSKeyDetector")}
    assert any(s.start_line == 4 for s in findings)
    for finding in findings:
        dumped = finding.model_dump_json()
        assert "AKIAIOSFODNN7EXAMPLE" not in dumped and "Sup3r-S3cret" not in dumped
    assert {s.identity.rsplit(":", 1)[1] for s in findings} <= {"access_key_id", "password"}
