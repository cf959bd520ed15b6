"""Machine-readable output of a review for CI pipelines: JSON (schema in
``schema/review-output.schema.json``) and SARIF 2.1.0 (what GitHub code scanning reads), and
the exit code for ``--fail-on``. Pure functions: a :class:`ReviewResult` in, text out.

The findings are those the review reported: inline findings it posted (or found already
posted) and the PR-level findings.
"""

import json
from enum import StrEnum
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.models import PrFinding, Severity, Suggestion
from shared.stages.outcome import ReviewResult

INFORMATION_URI = "https://github.com/reviewflow/reviewflow"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema" / "review-output.schema.json"
_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
# GitHub code scanning ranks security results by this (CVSS-like, 0.0-10.0)
_SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}


def _tool_version() -> str:
    try:
        return version("reviewflow")
    except PackageNotFoundError:
        return "0.0.0"


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class JsonFinding(_Out):
    path: str
    start_line: int = Field(ge=1, alias="startLine")
    end_line: int = Field(ge=1, alias="endLine")
    category: str
    severity: Literal["critical", "high", "medium", "low"]
    rule: str | None = Field(description="the rule id (an analyzer's, or ours); null for an LLM's")
    message: str
    doc_url: str | None = Field(alias="docUrl")
    replacement: str | None = Field(description="new text of lines startLine..endLine")
    source: Literal["offline", "llm", "ast", "analyzer"]
    fingerprint: str


class JsonPrFinding(_Out):
    category: str
    severity: Literal["critical", "high", "medium", "low"]
    title: str
    message: str
    paths: list[str]
    rule: str | None
    fingerprint: str


class JsonReport(_Out):
    """What ``reviewflow review --format json`` prints."""

    version: Literal[1] = 1
    target: str
    verdict: str | None = None
    skipped: str | None = Field(None, description="why the review did not run, when it did not")
    partial: bool = False
    errors: list[str] = Field(default_factory=list)
    counts: dict[str, int] = Field(default_factory=dict)
    findings: list[JsonFinding] = Field(default_factory=list)
    pr_findings: list[JsonPrFinding] = Field(default_factory=list, alias="prFindings")


def reported(result: ReviewResult) -> list[Suggestion]:
    """The inline findings the review reported (posted now or already on the PR)."""
    posted = set(result.posted_fingerprints)
    return [s for s in result.suggestions if s.fingerprint in posted]


def _json_finding(s: Suggestion) -> JsonFinding:
    return JsonFinding(
        path=s.path,
        start_line=s.start_line,
        end_line=s.end_line,
        category=s.category.value,
        severity=s.severity.value,
        rule=s.rule or None,
        message=s.message,
        doc_url=s.doc_url,
        replacement=s.replacement,
        source=s.source,
        fingerprint=s.fingerprint,
    )


def _json_pr_finding(f: PrFinding) -> JsonPrFinding:
    return JsonPrFinding(
        category=f.category.value,
        severity=f.severity.value,
        title=f.title,
        message=f.message,
        paths=list(f.paths),
        rule=f.rule or None,
        fingerprint=f.fingerprint,
    )


def json_report(
    result: ReviewResult | None,
    target: str,
    verdict: str | None = None,
    skipped: str | None = None,
) -> JsonReport:
    if result is None:
        return JsonReport(target=target, verdict=verdict, skipped=skipped)
    return JsonReport(
        target=target,
        verdict=verdict,
        skipped=skipped,
        partial=result.partial,
        errors=list(result.errors),
        counts=dict(result.counts),
        findings=[_json_finding(s) for s in reported(result)],
        pr_findings=[_json_pr_finding(f) for f in result.pr_findings],
    )


def render_json(
    result: ReviewResult | None, target: str, verdict: str | None = None, skipped: str | None = None
) -> str:
    report = json_report(result, target, verdict, skipped)
    return json.dumps(report.model_dump(mode="json", by_alias=True), indent=2) + "\n"


# ---------------------------------------------------------------------------- SARIF


def _rule_id(rule: str, category: str) -> str:
    return rule or f"reviewflow/{category}"


def _short(message: str) -> str:
    first = message.split(". ")[0].strip()
    return first if first.endswith(".") else first + "."


def _location(path: str, start: int, end: int) -> dict[str, Any]:
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": path, "uriBaseId": "%SRCROOT%"},
            "region": {"startLine": start, "endLine": end},
        }
    }


def sarif_log(result: ReviewResult | None) -> dict[str, Any]:
    """A SARIF 2.1.0 log of the reported findings: one rule per rule id (with its help link),
    one result per finding with its location, a fingerprint GitHub uses to track it across
    runs, and the suggested fix when there is one."""
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []

    def rule_index(rule: str, category: str, severity: str, message: str, url: str | None) -> int:
        rule_id = _rule_id(rule, category)
        if rule_id not in rules:
            entry: dict[str, Any] = {
                "id": rule_id,
                "shortDescription": {"text": _short(message)},
                "defaultConfiguration": {"level": _LEVEL[severity]},
                "properties": {"tags": [category]},
            }
            if url:
                entry["helpUri"] = url
            if category == "security":
                entry["properties"]["security-severity"] = _SECURITY_SEVERITY[severity]
            rules[rule_id] = entry
        return list(rules).index(rule_id)

    findings = reported(result) if result is not None else []
    for s in findings:
        index = rule_index(s.rule, s.category.value, s.severity.value, s.message, s.doc_url)
        item: dict[str, Any] = {
            "ruleId": _rule_id(s.rule, s.category.value),
            "ruleIndex": index,
            "level": _LEVEL[s.severity.value],
            "message": {"text": s.message},
            "locations": [_location(s.path, s.start_line, s.end_line)],
            "partialFingerprints": {"reviewflow/v1": s.fingerprint},
            "properties": {
                "category": s.category.value,
                "severity": s.severity.value,
                "source": s.source,
            },
        }
        if s.replacement is not None:
            item["fixes"] = [
                {
                    "description": {"text": "Suggested change"},
                    "artifactChanges": [
                        {
                            "artifactLocation": {"uri": s.path, "uriBaseId": "%SRCROOT%"},
                            "replacements": [
                                {
                                    "deletedRegion": {
                                        "startLine": s.start_line,
                                        "endLine": s.end_line,
                                    },
                                    "insertedContent": {"text": s.replacement},
                                }
                            ],
                        }
                    ],
                }
            ]
        results.append(item)
    for f in result.pr_findings if result is not None else ():
        if not f.paths:
            continue  # code scanning needs a location; the JSON output has every PR finding
        index = rule_index(f.rule, f.category.value, f.severity.value, f.title, None)
        results.append(
            {
                "ruleId": _rule_id(f.rule, f.category.value),
                "ruleIndex": index,
                "level": _LEVEL[f.severity.value],
                "message": {"text": f"{f.title}: {f.message}"},
                "locations": [_location(f.paths[0], 1, 1)],
                "partialFingerprints": {"reviewflow/v1": f.fingerprint},
                "properties": {"category": f.category.value, "severity": f.severity.value},
            }
        )
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "reviewflow",
                        "version": _tool_version(),
                        "informationUri": INFORMATION_URI,
                        "rules": list(rules.values()),
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "repository root"}}},
                "results": results,
            }
        ],
    }


def render_sarif(result: ReviewResult | None) -> str:
    return json.dumps(sarif_log(result), indent=2) + "\n"


def render(
    result: ReviewResult | None,
    fmt: OutputFormat,
    target: str,
    verdict: str | None = None,
    skipped: str | None = None,
) -> str:
    """JSON or SARIF text of a review (``text`` is the console output of the command)."""
    if fmt is OutputFormat.SARIF:
        return render_sarif(result)
    if fmt is OutputFormat.JSON:
        return render_json(result, target, verdict, skipped)
    raise ValueError("the text format is the command's console output")


def exit_code(result: ReviewResult | None, fail_on: Severity | None) -> int:
    """1 when a reported finding is at least ``fail_on`` severe, else 0."""
    if fail_on is None or result is None:
        return 0
    severities = [s.severity for s in reported(result)] + [f.severity for f in result.pr_findings]
    return 1 if any(sev.rank >= fail_on.rank for sev in severities) else 0


def output_json_schema() -> dict[str, Any]:
    schema = JsonReport.model_json_schema(by_alias=True, mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "reviewflow review --format json"
    return schema


def write_output_json_schema(path: Path = SCHEMA_PATH) -> None:
    path.write_text(json.dumps(output_json_schema(), indent=2, sort_keys=True) + "\n")
