"""``reviewflow review --format json|sarif`` and ``--fail-on`` (reviewflow/output.py)."""

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from reviewflow.cli import app
from reviewflow.output import (
    SCHEMA_PATH,
    OutputFormat,
    exit_code,
    output_json_schema,
    render,
    sarif_log,
)
from shared.config import ReviewConfig
from shared.models import BranchOutcome, Category, PrFinding, Severity, Suggestion
from shared.stages.ast_stage import ast_stage
from shared.stages.findings import merge_findings
from shared.stages.outcome import ReviewResult, aggregate
from tests.unit.shared.analysis.conftest import build_change

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SARIF_SCHEMA = json.loads((FIXTURES / "sarif-2.1.0-rtm.5.schema.json").read_text())

SQL = Suggestion(
    path="app/users.py",
    start_line=13,
    end_line=13,
    category=Category.SECURITY,
    severity=Severity.HIGH,
    message="SQL built from strings lets input change the query; use query parameters.",
    rule="S608",
    source="analyzer",
    doc_url="https://docs.astral.sh/ruff/rules/hardcoded-sql-expression",
    identity="ruff:S608:cursor.execute(f'...')",
)
FIXED = Suggestion(
    path="app/ship.py",
    start_line=2,
    end_line=2,
    category=Category.BUG,
    severity=Severity.MEDIUM,
    message="`is` compares identity, not value. Use `==`.",
    rule="F632",
    source="analyzer",
    replacement='    if kind == "express":',
)
LLM = Suggestion(
    path="web/a.ts",
    start_line=4,
    end_line=6,
    category=Category.PERFORMANCE,
    severity=Severity.LOW,
    message="This loop refetches the same URL on every pass.",
    source="llm",
)
NOT_POSTED = SQL.model_copy(update={"path": "app/other.py"})
BREAKING = PrFinding(
    category=Category.BREAKING_CHANGE,
    severity=Severity.HIGH,
    title="Signature of `load` changed; 1 call breaks",
    message="`load` now needs `encoding`.",
    paths=("pkg/io.py", "pkg/app.py"),
    rule="pr-breaking-change",
)
NO_PATHS = PrFinding(
    category=Category.DOCS,
    severity=Severity.LOW,
    title="Pull request has no description",
    message="Describe the change.",
    rule="pr-empty-description",
)


def result(*suggestions: Suggestion, posted: tuple[Suggestion, ...] | None = None) -> ReviewResult:
    shown = suggestions if posted is None else posted
    return aggregate(
        suggestions=list(suggestions),
        posted_fingerprints=[s.fingerprint for s in shown],
        pr_findings=[BREAKING, NO_PATHS],
        discarded=[],
        skipped=[],
        files_reviewed=3,
        branches={"ast": BranchOutcome(status="ok")},
        posted=len(shown),
    )


RESULT = result(SQL, FIXED, LLM, NOT_POSTED, posted=(SQL, FIXED, LLM))


def _sarif(text: str) -> dict[str, Any]:
    log: dict[str, Any] = json.loads(text)
    jsonschema.validators.validator_for(SARIF_SCHEMA)(SARIF_SCHEMA).validate(log)
    return log


def test_sarif_validates_against_the_sarif_2_1_0_schema() -> None:
    log = _sarif(render(RESULT, OutputFormat.SARIF, "repo (main..feature)"))
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    results = run["results"]
    assert [r["ruleId"] for r in results] == [
        "S608",
        "F632",
        "reviewflow/performance",
        "pr-breaking-change",
    ]
    sql = results[0]
    assert sql["level"] == "error"
    region = sql["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 13, "endLine": 13}
    assert sql["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "app/users.py"
    assert sql["partialFingerprints"] == {"reviewflow/v1": SQL.fingerprint}
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert rules["S608"]["helpUri"] == SQL.doc_url
    assert rules["S608"]["properties"]["security-severity"] == "8.0"
    assert run["tool"]["driver"]["rules"][sql["ruleIndex"]]["id"] == "S608"
    fix = results[1]["fixes"][0]["artifactChanges"][0]["replacements"][0]
    assert fix == {
        "deletedRegion": {"startLine": 2, "endLine": 2},
        "insertedContent": {"text": '    if kind == "express":'},
    }
    assert results[2]["level"] == "note" and "fixes" not in results[2]


def test_sarif_of_a_skipped_review_is_an_empty_valid_log() -> None:
    log = _sarif(render(None, OutputFormat.SARIF, "repo"))
    assert log["runs"][0]["results"] == []


def test_json_output_follows_its_committed_schema() -> None:
    assert json.loads(SCHEMA_PATH.read_text()) == output_json_schema(), (
        "regenerate: python -c 'from reviewflow.output import write_output_json_schema; "
        "write_output_json_schema()'"
    )
    data = json.loads(render(RESULT, OutputFormat.JSON, "repo (main..feature)", "comment"))
    jsonschema.Draft202012Validator(output_json_schema()).validate(data)
    assert data["target"] == "repo (main..feature)" and data["verdict"] == "comment"
    assert [(f["path"], f["startLine"], f["rule"]) for f in data["findings"]] == [
        ("app/users.py", 13, "S608"),
        ("app/ship.py", 2, "F632"),
        ("web/a.ts", 4, None),
    ]
    assert data["findings"][0]["docUrl"] == SQL.doc_url
    assert [f["rule"] for f in data["prFindings"]] == ["pr-breaking-change", "pr-empty-description"]
    skipped = json.loads(render(None, OutputFormat.JSON, "repo", skipped="nothing new"))
    jsonschema.Draft202012Validator(output_json_schema()).validate(skipped)
    assert skipped["skipped"] == "nothing new" and skipped["findings"] == []


def test_text_is_the_console_output() -> None:
    with pytest.raises(ValueError):
        render(RESULT, OutputFormat.TEXT, "repo")


@pytest.mark.parametrize(
    ("fail_on", "code"),
    [
        (None, 0),
        (Severity.CRITICAL, 0),
        (Severity.HIGH, 1),  # S608 and the breaking change
        (Severity.LOW, 1),
    ],
)
def test_fail_on(fail_on: Severity | None, code: int) -> None:
    assert exit_code(RESULT, fail_on) == code


def test_fail_on_counts_only_reported_findings() -> None:
    only_medium = aggregate([FIXED, NOT_POSTED], [FIXED.fingerprint], [], [], [], 1, {}, 1)
    assert exit_code(only_medium, Severity.HIGH) == 0
    assert exit_code(only_medium, Severity.MEDIUM) == 1
    assert exit_code(None, Severity.LOW) == 0


def test_format_and_fail_on_are_checked_by_the_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(app, ["review", str(tmp_path), "--format", "xml"])
    assert bad.exit_code == 2 and "xml" in bad.output
    bad = runner.invoke(app, ["review", str(tmp_path), "--fail-on", "severe"])
    assert bad.exit_code == 2 and "severe" in bad.output


def test_a_review_of_three_planted_problems_as_sarif() -> None:
    base = "def count(cursor):\n    return cursor.execute('SELECT 1')\n"
    head = (
        "import time\n\nAWS_ACCESS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE'\n\n\n"
        "def find(cursor, name):\n"
        "    return cursor.execute(f\"SELECT * FROM t WHERE n = '{name}'\")\n"
        "\n\nasync def refresh():\n    time.sleep(5)\n"
    )
    file, lines = build_change("app/users.py", head, base)
    report = ast_stage([file], {file.path: lines}, {file.path: base}, {}, {}, ReviewConfig())
    merged = merge_findings(report.analyzer_findings)
    log = _sarif(render(result(*merged), OutputFormat.SARIF, "repo"))
    located = {
        (r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"])
        for r in log["runs"][0]["results"]
        if r["ruleId"] != "pr-breaking-change"
    }
    assert located == {("AWSKeyDetector", 3), ("S608", 7), ("ASYNC251", 11)}
    assert "AKIAIOSFODNN7EXAMPLE" not in json.dumps(log)
    assert sarif_log(result(*merged))["runs"][0]["tool"]["driver"]["name"] == "reviewflow"
