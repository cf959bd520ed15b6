"""`npm run lint` passes: bpmnlint (recommended + camunda-compat) on both diagrams (Operaton's
bpmn/code_review.bpmn with camunda-platform-7-24, the optional Camunda 8 adapter's
bpmn/camunda8/code_review.bpmn with camunda-cloud-8-9), both import into bpmn-moddle without
warnings (as in Camunda Modeler), and both element-template sets match their JSON schemas.

Needs the Node dev dependencies: run `npm ci` (or `npm install`) at the repository root. A
missing node_modules fails these tests on purpose: the lint is part of the contract.
"""

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from shared import contract

ROOT = Path(__file__).resolve().parents[2]
BPMN_PATH = ROOT / "bpmn" / "code_review.bpmn"
TEMPLATES_PATH = ROOT / "bpmn" / "element-templates" / "reviewflow-stages.json"
C8_BPMN_PATH = ROOT / "bpmn" / "camunda8" / "code_review.bpmn"
C8_TEMPLATES_PATH = ROOT / "bpmn" / "camunda8" / "element-templates" / "reviewflow-stages.json"
SCHEMA_URL = "https://unpkg.com/@camunda/element-templates-json-schema/resources/schema.json"
NEEDED = (
    "bpmnlint",
    "bpmnlint-plugin-camunda-compat",
    "bpmn-moddle",
    "camunda-bpmn-moddle",
    "zeebe-bpmn-moddle",
    "@camunda/element-templates-json-schema",
    "@camunda/zeebe-element-templates-json-schema",
    "ajv",
)
INSTALL_HINT = "install the Node dev dependencies first: `cd {root} && npm ci` (Node.js >= 18)"
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "camunda": "http://camunda.org/schema/1.0/bpmn",
    "zeebe": "http://camunda.org/schema/zeebe/1.0",
}


def _require_node_tooling() -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("node/npm not found on PATH; " + INSTALL_HINT.format(root=ROOT))
    missing = [p for p in NEEDED if not (ROOT / "node_modules" / p / "package.json").is_file()]
    if missing:
        pytest.fail(f"missing node_modules {missing}; " + INSTALL_HINT.format(root=ROOT))


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180, check=False)


def test_npm_run_lint_passes() -> None:
    _require_node_tooling()
    result = _run("npm", "run", "--silent", "lint")
    output = result.stdout + result.stderr
    print(output)
    assert result.returncode == 0, f"npm run lint failed:\n{output}"
    # bpmnlint lists warnings too (exit code 0) and ends them with "✖ N problem(s)"
    assert "problem" not in output, output


def _templates(path: Path = TEMPLATES_PATH) -> list[dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, list)
    return data


def _binding_value(template: dict[str, Any], kind: str, name: str) -> str | None:
    for p in template["properties"]:
        b = p.get("binding", {})
        if b.get("type") == kind and b.get("name") == name:
            return p.get("value")
    return None


def test_one_template_per_topic() -> None:
    templates = _templates()
    topics = [_binding_value(t, "property", "camunda:topic") for t in templates]
    assert sorted(topics) == sorted(contract.TOPICS)
    ids = [t["id"] for t in templates]
    assert len(set(ids)) == len(ids)
    for t in templates:
        assert t["$schema"] == SCHEMA_URL
        assert t["id"] == "io.reviewflow." + _binding_value(t, "property", "camunda:topic")[11:]
        assert t["version"] == 1
        assert t["appliesTo"] == ["bpmn:ServiceTask"]
        assert t.get("description", "").strip()
        assert _binding_value(t, "property", "camunda:type") == "external"
        for p in t["properties"]:
            if p["binding"]["type"] == "property":
                assert p["type"] == "Hidden", p


def test_template_properties_match_the_diagram() -> None:
    root = ET.parse(BPMN_PATH).getroot()  # noqa: S314 (our own file)
    diagram: dict[str, set[tuple[str | None, str | None]]] = {}
    for task in root.iter(f"{{{NS['bpmn']}}}serviceTask"):
        props = {
            p.get("name"): p.get("value")
            for p in task.findall("bpmn:extensionElements/camunda:properties/camunda:property", NS)
        }
        topic = task.get(f"{{{NS['camunda']}}}topic")
        diagram.setdefault(topic, set()).add((props.get("retries"), props.get("lockDuration")))
    for t in _templates():
        topic = _binding_value(t, "property", "camunda:topic")
        expected = (
            _binding_value(t, "camunda:property", contract.RETRIES_PROPERTY),
            _binding_value(t, "camunda:property", contract.LOCK_DURATION_PROPERTY),
        )
        assert diagram[topic] == {expected}, topic


def test_camunda8_adapter_diagram_keeps_the_same_job_types() -> None:
    """The optional Camunda 8 diagram serves the same workers: same job types as topics."""
    root = ET.parse(C8_BPMN_PATH).getroot()  # noqa: S314 (our own file)
    types = {td.get("type") for td in root.iter(f"{{{NS['zeebe']}}}taskDefinition")}
    assert types == set(contract.TOPICS)
    c8_types = {
        p["value"]
        for t in _templates(C8_TEMPLATES_PATH)
        for p in t["properties"]
        if p.get("binding") == {"type": "zeebe:taskDefinition", "property": "type"}
    }
    assert c8_types == set(contract.TOPICS)
