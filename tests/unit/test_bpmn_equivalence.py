"""bpmn/code_review.bpmn (Operaton) and bpmn/camunda8/code_review.bpmn (Zeebe 8.9, for the
optional Camunda 8 adapter) describe the same process.

Both are generated from one model (bpmn/tools/generate_code_review.py); these checks read the
two files as they are, so a hand edit of either one (or a generator change that touches one
side only) fails here: same elements (ids and types), names, documentation, flows (ids, source,
target, which ones carry a condition, the gateways' defaults), job types/topics with their
retries and lock durations, messages (ids, names, who waits for them), timers and error codes,
script results and task inputs, and the same layout. Pure XML, no engine.
"""

import ast
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shared import contract

ROOT = Path(__file__).resolve().parents[2]
C7_PATH = ROOT / "bpmn" / "code_review.bpmn"
C8_PATH = ROOT / "bpmn" / "camunda8" / "code_review.bpmn"
VALIDATE_WORKER = ROOT / "workers" / "light" / "validate_new_commits.py"

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
NS = {
    "bpmn": BPMN,
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "camunda": "http://camunda.org/schema/1.0/bpmn",
    "zeebe": "http://camunda.org/schema/zeebe/1.0",
    "modeler": "http://camunda.org/schema/modeler/1.0",
}
CAMUNDA = "{" + NS["camunda"] + "}"
ZEEBE = "{" + NS["zeebe"] + "}"
MODELER = "{" + NS["modeler"] + "}"
# BPMN children that are not elements of the process graph
NOT_ELEMENTS = {
    "documentation",
    "extensionElements",
    "incoming",
    "outgoing",
    "conditionExpression",
    "script",
    "timeDuration",
}


def local(tag: str) -> str:
    return tag.split("}", 1)[1]


def parse(path: Path) -> ET.Element:
    return ET.parse(path).getroot()  # noqa: S314 (our own files)


@pytest.fixture(scope="module")
def c7() -> ET.Element:
    return parse(C7_PATH)


@pytest.fixture(scope="module")
def c8() -> ET.Element:
    return parse(C8_PATH)


def process_of(root: ET.Element) -> ET.Element:
    found = root.findall("bpmn:process", NS)
    assert len(found) == 1
    return found[0]


def elements(root: ET.Element) -> dict[str, ET.Element]:
    """Every BPMN element with an id in the process (event subprocess content and event
    definitions included), by id."""
    out: dict[str, ET.Element] = {}
    process = process_of(root)
    for e in process.iter():
        if e is process or not e.tag.startswith("{" + BPMN + "}") or local(e.tag) in NOT_ELEMENTS:
            continue
        eid = e.get("id")
        assert eid, f"a {local(e.tag)} without an id"
        assert eid not in out, f"duplicate id {eid}"
        out[eid] = e
    return out


def by_type(root: ET.Element, tag: str) -> dict[str, ET.Element]:
    return {i: e for i, e in elements(root).items() if local(e.tag) == tag}


def doc(e: ET.Element) -> str | None:
    d = e.find("bpmn:documentation", NS)
    return None if d is None else d.text


def parent_ids(root: ET.Element) -> dict[str, str]:
    """Element id -> id of the element that contains it (process, subprocess, event)."""
    out: dict[str, str] = {}
    for parent in process_of(root).iter():
        for child in parent:
            if child.get("id") and parent.get("id"):
                out[child.get("id", "")] = parent.get("id", "")
    return out


def same(c7: ET.Element, c8: ET.Element, what: Callable[[ET.Element], Any]) -> None:
    left, right = what(c7), what(c8)
    assert left, "nothing to compare: the check reads nothing"
    only_c7 = {k: v for k, v in left.items() if right.get(k) != v}
    only_c8 = {k: v for k, v in right.items() if left.get(k) != v}
    assert left == right, f"Operaton has {only_c7}, Camunda 8 has {only_c8}"


# --- the two files are what they say they are ----------------------------------------------


def test_each_diagram_targets_its_platform(c7: ET.Element, c8: ET.Element) -> None:
    assert c7.get(MODELER + "executionPlatform") == "Camunda Platform"
    assert c8.get(MODELER + "executionPlatform") == "Camunda Cloud"
    assert c8.get(MODELER + "executionPlatformVersion") == "8.9.0"
    assert not any(e.tag.startswith(ZEEBE) for e in c7.iter())
    assert not any(e.tag.startswith(CAMUNDA) for e in c8.iter())
    assert not any(k.startswith(CAMUNDA) for e in c8.iter() for k in e.attrib)


def test_same_process(c7: ET.Element, c8: ET.Element) -> None:
    p7, p8 = process_of(c7), process_of(c8)
    assert p7.get("id") == p8.get("id") == contract.PROCESS_ID
    assert (p7.get("name"), p7.get("isExecutable")) == (p8.get("name"), p8.get("isExecutable"))
    assert doc(p7) == doc(p8)


# --- the graph ------------------------------------------------------------------------------


def test_same_elements_ids_and_types(c7: ET.Element, c8: ET.Element) -> None:
    same(c7, c8, lambda r: {i: local(e.tag) for i, e in elements(r).items()})


def test_same_names_documentation_and_nesting(c7: ET.Element, c8: ET.Element) -> None:
    same(c7, c8, lambda r: {i: e.get("name") for i, e in elements(r).items()})
    same(c7, c8, lambda r: {i: doc(e) for i, e in elements(r).items()})
    same(c7, c8, parent_ids)


def test_same_flows(c7: ET.Element, c8: ET.Element) -> None:
    def flows(r: ET.Element) -> dict[str, tuple[str | None, ...]]:
        return {
            i: (e.get("sourceRef"), e.get("targetRef"), e.get("name"))
            for i, e in by_type(r, "sequenceFlow").items()
        }

    same(c7, c8, flows)


def test_same_incoming_and_outgoing(c7: ET.Element, c8: ET.Element) -> None:
    def wiring(r: ET.Element) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
        return {
            i: (
                tuple(x.text or "" for x in e.findall("bpmn:incoming", NS)),
                tuple(x.text or "" for x in e.findall("bpmn:outgoing", NS)),
            )
            for i, e in elements(r).items()
            if e.find("bpmn:incoming", NS) is not None or e.find("bpmn:outgoing", NS) is not None
        }

    same(c7, c8, wiring)


def test_same_conditions_defaults_and_boundaries(c7: ET.Element, c8: ET.Element) -> None:
    def conditional(r: ET.Element) -> dict[str, bool]:
        return {
            i: e.find("bpmn:conditionExpression", NS) is not None
            for i, e in by_type(r, "sequenceFlow").items()
        }

    same(c7, c8, conditional)
    same(c7, c8, lambda r: {i: e.get("default") for i, e in elements(r).items()})
    same(
        c7,
        c8,
        lambda r: {
            i: (e.get("attachedToRef"), e.get("cancelActivity"))
            for i, e in by_type(r, "boundaryEvent").items()
        },
    )
    same(
        c7,
        c8,
        lambda r: {
            i: (e.get("isInterrupting"), e.get("triggeredByEvent"))
            for i, e in elements(r).items()
            if local(e.tag) in ("startEvent", "subProcess")
        },
    )


def test_conditions_say_the_same_in_feel(c8: ET.Element, c7: ET.Element) -> None:
    """JUEL ${x} / ${a <= b + 1} and FEEL =x = true / =a <= b + 1 read the same variables."""

    def condition(r: ET.Element) -> dict[str, str]:
        out = {}
        for i, e in by_type(r, "sequenceFlow").items():
            c = e.find("bpmn:conditionExpression", NS)
            if c is not None:
                text = (c.text or "").strip()
                if text.startswith("${"):
                    text = text[2:-1]
                else:
                    assert text.startswith("="), f"{i}: not FEEL: {text}"
                    text = text[1:].removesuffix(" = true")
                out[i] = text
        return out

    same(c7, c8, condition)


# --- jobs -----------------------------------------------------------------------------------


def jobs(r: ET.Element) -> dict[str, tuple[str | None, str | None, str | None]]:
    """Service task -> (topic/job type, retries, lockDuration)."""
    out = {}
    for i, e in by_type(r, "serviceTask").items():
        if e.get(CAMUNDA + "type") == "external":
            props = {p.get("name"): p.get("value") for p in e.iter(CAMUNDA + "property")}
            out[i] = (
                e.get(CAMUNDA + "topic"),
                props.get(contract.RETRIES_PROPERTY),
                props.get(contract.LOCK_DURATION_PROPERTY),
            )
        else:
            td = e.find(f".//{ZEEBE}taskDefinition")
            assert td is not None, f"{i}: no zeebe:taskDefinition"
            headers = {h.get("key"): h.get("value") for h in e.iter(ZEEBE + "header")}
            out[i] = (
                td.get("type"),
                td.get("retries"),
                headers.get(contract.LOCK_DURATION_PROPERTY),
            )
    return out


def test_same_job_types_retries_and_locks(c7: ET.Element, c8: ET.Element) -> None:
    same(c7, c8, jobs)
    assert {t for t, _, _ in jobs(c8).values()} == contract.JOB_TYPES


def task_inputs(r: ET.Element) -> dict[str, tuple[str, ...]]:
    out = {}
    for i, e in elements(r).items():
        names = [p.get("name", "") for p in e.iter(CAMUNDA + "inputParameter")]
        names += [p.get("target", "") for p in e.iter(ZEEBE + "input")]
        if names and i not in ("Task_ValidateNewCommits",):
            out[i] = tuple(sorted(names))
    return out


def test_same_task_inputs(c7: ET.Element, c8: ET.Element) -> None:
    same(c7, c8, task_inputs)


def test_same_script_results(c7: ET.Element, c8: ET.Element) -> None:
    def results(r: ET.Element) -> dict[str, str | None]:
        out = {}
        for i, e in by_type(r, "scriptTask").items():
            z = e.find(f".//{ZEEBE}script")
            out[i] = e.get(CAMUNDA + "resultVariable") if z is None else z.get("resultVariable")
        return out

    same(c7, c8, results)


# --- messages, timers, errors ---------------------------------------------------------------


def messages(r: ET.Element) -> dict[str, str | None]:
    return {m.get("id", ""): m.get("name") for m in r.findall("bpmn:message", NS)}


def message_refs(r: ET.Element) -> dict[str, str | None]:
    """Who waits for which message: receive tasks and message event definitions."""
    out = {}
    for i, e in elements(r).items():
        if local(e.tag) in ("receiveTask", "messageEventDefinition"):
            out[i] = e.get("messageRef")
    return out


def test_same_messages(c7: ET.Element, c8: ET.Element) -> None:
    same(c7, c8, messages)
    same(c7, c8, message_refs)
    names = set(messages(c8).values())
    assert contract.PR_EVENT_MESSAGE in names
    for br in contract.HEAVY_BRANCHES:
        assert br.message_name in names
        assert br.context_message is None or br.context_message in names


def test_same_timers(c7: ET.Element, c8: ET.Element) -> None:
    def timers(r: ET.Element) -> dict[str, str]:
        return {
            i: parent_ids(r)[i]
            for i, e in elements(r).items()
            if local(e.tag) == "timerEventDefinition"
        }

    same(c7, c8, timers)


def test_timers_read_the_same_variable_and_default(c7: ET.Element, c8: ET.Element) -> None:
    def durations(r: ET.Element) -> dict[str, tuple[str, str]]:
        out = {}
        for i, e in elements(r).items():
            if local(e.tag) != "timerEventDefinition":
                continue
            text = e.findtext("bpmn:timeDuration", "", NS)
            variable = [
                v
                for v in (contract.HEAVY_TIMEOUT_VARIABLE, contract.AST_CONTEXT_WAIT_VARIABLE)
                if v in text
            ]
            default = [
                d
                for d in (contract.DEFAULT_HEAVY_TIMEOUT, contract.DEFAULT_AST_CONTEXT_WAIT)
                if d in text
            ]
            assert len(variable) == len(default) == 1, f"{i}: {text}"
            out[i] = (variable[0], default[0])
        return out

    same(c7, c8, durations)


def test_same_errors(c7: ET.Element, c8: ET.Element) -> None:
    def errors(r: ET.Element) -> dict[str, str | None]:
        return {e.get("id", ""): e.get("errorCode") for e in r.findall("bpmn:error", NS)}

    def catchers(r: ET.Element) -> dict[str, str | None]:
        return {
            parent_ids(r)[i]: e.get("errorRef")
            for i, e in elements(r).items()
            if local(e.tag) == "errorEventDefinition"
        }

    same(c7, c8, errors)
    same(c7, c8, catchers)
    assert contract.ERROR_INVALID_CONFIG in errors(c8).values()


# --- layout ---------------------------------------------------------------------------------


def test_same_layout(c7: ET.Element, c8: ET.Element) -> None:
    def layout(r: ET.Element) -> dict[str, tuple[tuple[str | None, ...], ...]]:
        out: dict[str, tuple[tuple[str | None, ...], ...]] = {}
        for d in r.iter():
            if local(d.tag) in ("BPMNShape", "BPMNEdge"):
                points = tuple(
                    (p.get("x"), p.get("y"), p.get("width"), p.get("height"))
                    for p in d.iter()
                    if local(p.tag) in ("Bounds", "waypoint")
                )
                out[d.get("bpmnElement", "")] = points
        return out

    same(c7, c8, layout)


# --- what only the Camunda 8 side needs ------------------------------------------------------


def test_camunda8_subscriptions_match_what_the_adapter_publishes(c8: ET.Element) -> None:
    """reviewflow/engine/zeebe.py publishes the PR event on the business key, a branch result
    on the wait key's value and a keyless message (the AST context) on the instance key."""
    keys = {}
    for m in c8.findall("bpmn:message", NS):
        sub = m.find(f".//{ZEEBE}subscription")
        assert sub is not None, f"{m.get('name')}: no zeebe:subscription"
        keys[m.get("name")] = sub.get("correlationKey")
    expected = {contract.PR_EVENT_MESSAGE: "=" + contract.BUSINESS_KEY_VARIABLE}
    for br in contract.HEAVY_BRANCHES:
        expected[br.message_name] = "=" + br.wait_key_variable
        if br.context_message:
            expected[br.context_message] = "=" + contract.INSTANCE_KEY_VARIABLE
    assert keys == expected


def test_camunda8_error_boundary_keeps_the_message(c8: ET.Element) -> None:
    boundary = elements(c8)["BoundaryEvent_InvalidConfig"]
    outputs = {o.get("target"): o.get("source") for o in boundary.iter(ZEEBE + "output")}
    assert outputs == {contract.CONFIG_ERROR_VARIABLE: "=" + contract.ERROR_MESSAGE_VARIABLE}


def test_camunda8_new_push_sets_rerun(c8: ET.Element) -> None:
    start = elements(c8)["StartEvent_NewPush"]
    outputs = {o.get("target"): o.get("source") for o in start.iter(ZEEBE + "output")}
    assert outputs[contract.RERUN_VARIABLE] == "=true"


def returned_keys(path: Path) -> set[str]:
    """The keys of the dict literal the stage function returns."""
    tree = ast.parse(path.read_text("utf-8"))
    keys: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Dict):
            keys |= {
                k.value
                for k in node.value.keys
                if isinstance(k, ast.Constant) and isinstance(k.value, str)
            }
    assert keys, f"no returned dict literal found in {path}"
    return keys


def test_camunda8_validate_new_commits_passes_on_every_result(c8: ET.Element) -> None:
    """Its output mappings (the round bookkeeping) keep back every job variable they do not
    map: they must map everything the worker returns (``_detail`` never becomes a variable)."""
    task = elements(c8)["Task_ValidateNewCommits"]
    mapped = {o.get("target") for o in task.iter(ZEEBE + "output")}
    missing = returned_keys(VALIDATE_WORKER) - {"_detail"} - mapped
    assert not missing, f"map these in the generator's VALIDATE_OUTPUTS: {sorted(missing)}"
    for name in (
        contract.REVIEW_ROUND_VARIABLE,
        contract.TRIGGER_VARIABLE,
        contract.RERUN_VARIABLE,
        *(br.attempt_variable for br in contract.HEAVY_BRANCHES),
    ):
        assert name in mapped


def test_only_validate_new_commits_has_job_output_mappings(c8: ET.Element) -> None:
    """Elsewhere a service task's output mapping would silently drop the worker's results."""
    with_outputs = {
        i for i, e in by_type(c8, "serviceTask").items() if e.find(f".//{ZEEBE}output") is not None
    }
    assert with_outputs == {"Task_ValidateNewCommits"}
