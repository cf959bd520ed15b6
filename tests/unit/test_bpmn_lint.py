"""bpmnlint (recommended + camunda-compat) passes on the diagram, and the element templates are
valid against @camunda/zeebe-element-templates-json-schema.

Needs the Node dev dependencies: run `npm ci` (or `npm install`) at the repository root. A
missing node_modules fails these tests on purpose: the lint is part of the contract.
"""

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from shared import contract

ROOT = Path(__file__).resolve().parents[2]
BPMN_PATH = ROOT / "bpmn" / "code_review.bpmn"
TEMPLATES_PATH = ROOT / "bpmn" / "element-templates" / "reviewflow-stages.json"
VALIDATOR = ROOT / "bpmn" / "validate-element-templates.cjs"
SCHEMA_URL = "https://unpkg.com/@camunda/zeebe-element-templates-json-schema/resources/schema.json"
NEEDED = (
    "bpmnlint",
    "bpmnlint-plugin-camunda-compat",
    "zeebe-bpmn-moddle",
    "@camunda/zeebe-element-templates-json-schema",
    "ajv",
)
INSTALL_HINT = "install the Node dev dependencies first: `cd {root} && npm ci` (Node.js >= 18)"


def _require_node_tooling() -> None:
    if shutil.which("node") is None or shutil.which("npx") is None:
        pytest.fail("node/npx not found on PATH; " + INSTALL_HINT.format(root=ROOT))
    missing = [p for p in NEEDED if not (ROOT / "node_modules" / p / "package.json").is_file()]
    if missing:
        pytest.fail(f"missing node_modules {missing}; " + INSTALL_HINT.format(root=ROOT))


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180, check=False)


def test_bpmnlint_passes() -> None:
    _require_node_tooling()
    result = _run("npx", "--no-install", "bpmnlint", str(BPMN_PATH.relative_to(ROOT)))
    output = result.stdout + result.stderr
    print(output)
    assert result.returncode == 0, f"bpmnlint reported errors:\n{output}"
    assert " error " not in output, output


def test_element_templates_match_the_json_schema() -> None:
    _require_node_tooling()
    result = _run("node", str(VALIDATOR.relative_to(ROOT)), str(TEMPLATES_PATH.relative_to(ROOT)))
    print(result.stdout + result.stderr)
    assert result.returncode == 0, f"invalid element templates:\n{result.stdout}{result.stderr}"


def _templates() -> list[dict]:
    data = json.loads(TEMPLATES_PATH.read_text(encoding="utf-8"))
    assert isinstance(data, list)
    return data


def _binding_value(template: dict, prop: str) -> str | None:
    for p in template["properties"]:
        b = p.get("binding", {})
        if b.get("type") == "zeebe:taskDefinition" and b.get("property") == prop:
            return p.get("value")
    return None


def test_one_template_per_job_type() -> None:
    templates = _templates()
    types = [_binding_value(t, "type") for t in templates]
    assert sorted(types) == sorted(contract.JOB_TYPES)
    ids = [t["id"] for t in templates]
    assert len(set(ids)) == len(ids)
    for t in templates:
        assert t["$schema"] == SCHEMA_URL
        assert t["id"].startswith("io.reviewflow.")
        assert t["version"] == 1
        assert t["appliesTo"] == ["bpmn:ServiceTask"]
        assert t["elementType"] == {"value": "bpmn:ServiceTask"}
        assert t.get("description", "").strip()
        type_prop = next(
            p
            for p in t["properties"]
            if p.get("binding") == {"type": "zeebe:taskDefinition", "property": "type"}
        )
        assert type_prop["type"] == "Hidden"


def test_template_retries_match_the_diagram() -> None:
    ns = {
        "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
        "zeebe": "http://camunda.org/schema/zeebe/1.0",
    }
    diagram: dict[str, set[str]] = {}
    root = ET.parse(BPMN_PATH).getroot()  # noqa: S314 (our own file)
    path = "bpmn:process/bpmn:serviceTask/bpmn:extensionElements/zeebe:taskDefinition"
    for td in root.iterfind(path, ns):
        diagram.setdefault(td.get("type"), set()).add(td.get("retries"))
    for t in _templates():
        job_type = _binding_value(t, "type")
        assert diagram[job_type] == {_binding_value(t, "retries")}, job_type
