"""bpmn/code_review.bpmn agrees with shared/contract.py and carries a complete diagram.

Pure XML checks (no engine): job types, the heavy branches' message/timer/retry wiring, the skip
and invalid-config paths, BPMNDI completeness and id uniqueness.
"""

import itertools
import re
import xml.etree.ElementTree as ET
from collections import Counter, deque
from pathlib import Path

import pytest

from shared import contract
from shared.ingress import (
    REVIEW_ACTIONS,
    REVIEW_COMMAND,
    SECRET_ENV,
    SIGNATURE_HEADER,
    START_MESSAGE,
    TRUSTED_ASSOCIATIONS,
)

BPMN_PATH = Path(__file__).resolve().parents[2] / "bpmn" / "code_review.bpmn"

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "zeebe": "http://camunda.org/schema/zeebe/1.0",
    "modeler": "http://camunda.org/schema/modeler/1.0",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
# Stages that post to the PR (and the report task) get more retries than the rest.
POSTING_STAGES = {7, 12, 13, 16, 17}


def local(tag: str) -> str:
    return tag.split("}", 1)[1]


@pytest.fixture(scope="module")
def root() -> ET.Element:
    return ET.parse(BPMN_PATH).getroot()  # noqa: S314 (our own file)


@pytest.fixture(scope="module")
def process(root: ET.Element) -> ET.Element:
    found = root.findall("bpmn:process", NS)
    assert len(found) == 1, "exactly one process expected"
    return found[0]


@pytest.fixture(scope="module")
def elements(process: ET.Element) -> dict[str, ET.Element]:
    return {e.get("id"): e for e in process if e.get("id")}


@pytest.fixture(scope="module")
def flows(process: ET.Element) -> dict[str, ET.Element]:
    return {f.get("id"): f for f in process.findall("bpmn:sequenceFlow", NS)}


@pytest.fixture(scope="module")
def flow_nodes(elements: dict[str, ET.Element]) -> dict[str, ET.Element]:
    return {i: e for i, e in elements.items() if local(e.tag) != "sequenceFlow"}


def outgoing(flows: dict[str, ET.Element], node_id: str) -> list[ET.Element]:
    return [f for f in flows.values() if f.get("sourceRef") == node_id]


def incoming(flows: dict[str, ET.Element], node_id: str) -> list[ET.Element]:
    return [f for f in flows.values() if f.get("targetRef") == node_id]


def job_type(task: ET.Element) -> str | None:
    td = task.find("bpmn:extensionElements/zeebe:taskDefinition", NS)
    return None if td is None else td.get("type")


def io(task: ET.Element, kind: str) -> dict[str, str]:
    """target -> source of the element's zeebe:input / zeebe:output mappings."""
    return {
        m.get("target"): m.get("source")
        for m in task.findall(f"bpmn:extensionElements/zeebe:ioMapping/zeebe:{kind}", NS)
    }


def boundary_events(elements: dict[str, ET.Element], host: str) -> list[ET.Element]:
    return [
        e
        for e in elements.values()
        if local(e.tag) == "boundaryEvent" and e.get("attachedToRef") == host
    ]


def reachable(flows: dict[str, ET.Element], start: str, stop: set[str] = frozenset()) -> set[str]:
    """Nodes reachable from ``start`` along sequence flows, not walking past ``stop`` nodes."""
    seen = {start}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node in stop and node != start:
            continue
        for f in outgoing(flows, node):
            target = f.get("targetRef")
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


def single(items: list[ET.Element], what: str) -> ET.Element:
    assert len(items) == 1, f"expected exactly one {what}, found {len(items)}"
    return items[0]


# ------------------------------------------------------------------ process and ids


def test_process_header(root: ET.Element, process: ET.Element) -> None:
    assert process.get("id") == contract.PROCESS_ID
    assert process.get("name") == "Code review"
    assert process.get("isExecutable") == "true"
    assert root.get(f"{{{NS['modeler']}}}executionPlatform") == "Camunda Cloud"
    assert root.get(f"{{{NS['modeler']}}}executionPlatformVersion", "").startswith("8.")


def test_no_duplicate_ids(root: ET.Element) -> None:
    ids = Counter(e.get("id") for e in root.iter() if e.get("id"))
    duplicates = {i: n for i, n in ids.items() if n > 1}
    assert not duplicates, f"duplicated element ids: {duplicates}"


def test_sequence_flow_references_are_consistent(
    flows: dict[str, ET.Element], flow_nodes: dict[str, ET.Element]
) -> None:
    for fid, f in flows.items():
        src, tgt = f.get("sourceRef"), f.get("targetRef")
        assert src in flow_nodes and tgt in flow_nodes, f"{fid} points to an unknown node"
        assert fid in [o.text for o in flow_nodes[src].findall("bpmn:outgoing", NS)], (
            f"{src} does not list {fid} as outgoing"
        )
        assert fid in [i.text for i in flow_nodes[tgt].findall("bpmn:incoming", NS)], (
            f"{tgt} does not list {fid} as incoming"
        )


def test_every_node_is_reachable_and_only_end_events_are_dead_ends(
    flows: dict[str, ET.Element], flow_nodes: dict[str, ET.Element]
) -> None:
    starts = [i for i, e in flow_nodes.items() if local(e.tag) == "startEvent"]
    assert sorted(starts) == ["StartEvent_PullRequestWebhook", "StartEvent_ReviewRequested"]
    seen = reachable(flows, starts[0]) | reachable(flows, starts[1])
    # boundary events are entered through their host
    for e in flow_nodes.values():
        if local(e.tag) == "boundaryEvent" and e.get("attachedToRef") in seen:
            seen |= reachable(flows, e.get("id"))
    assert seen == set(flow_nodes), f"unreachable: {set(flow_nodes) - seen}"
    for node_id, e in flow_nodes.items():
        if local(e.tag) != "endEvent":
            assert outgoing(flows, node_id), f"{node_id} has no outgoing flow"


# ------------------------------------------------------------------ service tasks


def test_job_types_match_the_contract(process: ET.Element) -> None:
    types = {job_type(t) for t in process.findall("bpmn:serviceTask", NS)}
    assert types == set(contract.JOB_TYPES)


def test_each_stage_has_its_task(elements: dict[str, ET.Element]) -> None:
    for stage in contract.STAGES:
        task = elements.get(f"Task_{stage.name}")
        assert task is not None, f"no Task_{stage.name} for stage {stage.number}"
        assert local(task.tag) == "serviceTask"
        assert job_type(task) == stage.job_type
        assert task.get("name") == stage.title


def test_every_service_task_has_retries_name_and_documentation(process: ET.Element) -> None:
    for task in process.findall("bpmn:serviceTask", NS):
        tid = task.get("id")
        td = task.find("bpmn:extensionElements/zeebe:taskDefinition", NS)
        assert td is not None, tid
        assert re.fullmatch(r"[1-9][0-9]*", td.get("retries") or ""), f"{tid}: retries"
        assert (task.get("name") or "").strip(), f"{tid}: name"
        doc = task.find("bpmn:documentation", NS)
        assert doc is not None and len((doc.text or "").strip()) > 20, f"{tid}: documentation"


def test_posting_and_report_tasks_retry_more(process: ET.Element) -> None:
    posting = {s.job_type for s in contract.STAGES if s.number in POSTING_STAGES}
    for task in process.findall("bpmn:serviceTask", NS):
        jt = job_type(task)
        retries = task.find("bpmn:extensionElements/zeebe:taskDefinition", NS).get("retries")
        expected = "5" if jt in posting or jt == contract.REPORT_SKIP_JOB_TYPE else "3"
        assert retries == expected, f"{task.get('id')} ({jt}): retries {retries}"


# ------------------------------------------------------------------ heavy branches


def test_heavy_fork_and_join(elements: dict[str, ET.Element], flows: dict[str, ET.Element]) -> None:
    fork, join = elements["Gateway_HeavyFork"], elements["Gateway_HeavyJoin"]
    assert local(fork.tag) == local(join.tag) == "parallelGateway"
    n = len(contract.HEAVY_BRANCHES)
    assert len(outgoing(flows, "Gateway_HeavyFork")) == n
    assert len(incoming(flows, "Gateway_HeavyJoin")) == n
    # one token per branch reaches the join: each branch merges its paths before it
    for f in incoming(flows, "Gateway_HeavyJoin"):
        src = elements[f.get("sourceRef")]
        assert local(src.tag) == "exclusiveGateway", f"{src.get('id')} feeds the join directly"


@pytest.mark.parametrize("branch", contract.HEAVY_BRANCHES, ids=lambda b: b.key)
def test_heavy_branch(
    branch: contract.HeavyBranch,
    root: ET.Element,
    process: ET.Element,
    elements: dict[str, ET.Element],
    flows: dict[str, ET.Element],
) -> None:
    att, out = branch.attempt_variable, branch.outcome_variable

    # dispatch service task, reached from the fork
    dispatch = single(
        [t for t in process.findall("bpmn:serviceTask", NS) if job_type(t) == branch.job_type],
        f"dispatch task for {branch.job_type}",
    )
    did = dispatch.get("id")
    assert did in reachable(flows, "Gateway_HeavyFork")
    # the attempt is defined from the first dispatch on
    outputs = io(dispatch, "output")
    assert att in outputs, f"{did} does not map {att}"
    assert att in outputs[att] and "null" in outputs[att]

    # dispatch -> receive task with the branch's own message and a per-attempt key
    receive_id = single(outgoing(flows, did), f"outgoing flow of {did}").get("targetRef")
    receive = elements[receive_id]
    assert local(receive.tag) == "receiveTask"
    message = single(
        [m for m in root.findall("bpmn:message", NS) if m.get("id") == receive.get("messageRef")],
        f"message of {receive_id}",
    )
    assert message.get("name") == branch.message_name
    sub = message.find("bpmn:extensionElements/zeebe:subscription", NS)
    assert sub is not None
    key_expr = sub.get("correlationKey", "")
    assert key_expr.startswith("=")
    assert "reviewRunId" in key_expr and att in key_expr and f":{branch.key}:" in key_expr
    assert io(receive, "output").get(out) == "=outcome"

    # an interrupting timer on the receive task
    timer = single(
        [
            b
            for b in boundary_events(elements, receive_id)
            if b.find("bpmn:timerEventDefinition", NS) is not None
        ],
        f"timer on {receive_id}",
    )
    assert timer.get("cancelActivity", "true") == "true"
    duration = timer.find("bpmn:timerEventDefinition/bpmn:timeDuration", NS).text or ""
    assert "heavyTimeout" in duration and contract.DEFAULT_HEAVY_TIMEOUT in duration

    # timer -> increment the attempt -> retry gateway
    inc = elements[single(outgoing(flows, timer.get("id")), "timer flow").get("targetRef")]
    assert local(inc.tag) == "scriptTask"
    script = inc.find("bpmn:extensionElements/zeebe:script", NS)
    assert script.get("resultVariable") == att
    assert re.fullmatch(rf"=\s*{att}\s*\+\s*1\s*", script.get("expression"))
    gateway = elements[single(outgoing(flows, inc.get("id")), "increment flow").get("targetRef")]
    assert local(gateway.tag) == "exclusiveGateway"
    gw_flows = outgoing(flows, gateway.get("id"))
    assert len(gw_flows) == 2
    default = gateway.get("default")
    retry_flow = single([f for f in gw_flows if f.get("id") != default], "retry flow")
    give_up = single([f for f in gw_flows if f.get("id") == default], "default flow")

    # bounded loop: the retry condition compares the attempt with the configured retries ...
    cond = retry_flow.find("bpmn:conditionExpression", NS).text or ""
    assert att in cond and "config.heavyRetries" in cond and "<=" in cond
    # ... and leads back to the dispatch without passing the receive task again first
    assert did in reachable(flows, retry_flow.get("targetRef"), stop={receive_id})
    # the only way back to the dispatch from the timer goes through the increment
    assert did not in reachable(flows, timer.get("id"), stop={inc.get("id")}) - {inc.get("id")}

    # give up: record a timeout outcome, then on to the join
    mark = elements[give_up.get("targetRef")]
    assert local(mark.tag) == "scriptTask"
    mark_script = mark.find("bpmn:extensionElements/zeebe:script", NS)
    assert mark_script.get("resultVariable") == out
    assert '"timeout"' in mark_script.get("expression")
    assert give_up.find("bpmn:conditionExpression", NS) is None
    assert "Gateway_HeavyJoin" in reachable(flows, mark.get("id"))

    # a received result goes on to the join
    normal = single(outgoing(flows, receive_id), f"normal flow of {receive_id}")
    assert "Gateway_HeavyJoin" in reachable(flows, normal.get("targetRef"))


def test_heavy_branches_have_distinct_messages_and_variables(root: ET.Element) -> None:
    messages = [m for m in root.findall("bpmn:message", NS) if m.get("name") != START_MESSAGE]
    names = [m.get("name") for m in messages]
    assert sorted(names) == sorted(b.message_name for b in contract.HEAVY_BRANCHES)
    keys = [
        m.find("bpmn:extensionElements/zeebe:subscription", NS).get("correlationKey")
        for m in messages
    ]
    assert len(set(keys)) == len(keys)


# ------------------------------------------------------------------ skip and invalid config


def test_decision_gateways_skip_by_default(
    elements: dict[str, ET.Element], flows: dict[str, ET.Element]
) -> None:
    report = elements["Task_ReportSkip"]
    assert job_type(report) == contract.REPORT_SKIP_JOB_TYPE
    assert io(report, "input").get("skipKind") == '="skip"'
    assert any(
        local(e.tag) == "endEvent"
        for e in elements.values()
        if e.get("id") in reachable(flows, "Task_ReportSkip")
    )
    for after in ("Task_ValidateNewCommits", "Task_ValidateConfig", "Task_FetchChangedFiles"):
        gateway = elements[single(outgoing(flows, after), f"flow after {after}").get("targetRef")]
        assert local(gateway.tag) == "exclusiveGateway"
        assert (gateway.get("name") or "").endswith("?")
        gw_flows = outgoing(flows, gateway.get("id"))
        default = gateway.get("default")
        assert default, f"{gateway.get('id')} has no default flow"
        for f in gw_flows:
            cond = f.find("bpmn:conditionExpression", NS)
            assert (f.get("name") or "").strip(), f"{f.get('id')} has no name"
            if f.get("id") == default:
                assert cond is None
                assert "Task_ReportSkip" in reachable(flows, f.get("targetRef"))
            else:
                assert re.fullmatch(r"=\s*proceed\s*=\s*true\s*", cond.text or "")


def test_invalid_config_is_caught_and_reported(
    root: ET.Element, elements: dict[str, ET.Element], flows: dict[str, ET.Element]
) -> None:
    error = single(
        [e for e in root.findall("bpmn:error", NS) if e.get("id") == "Error_InvalidConfig"],
        "Error_InvalidConfig",
    )
    assert error.get("errorCode") == contract.ERROR_INVALID_CONFIG
    boundary = single(
        [
            b
            for b in boundary_events(elements, "Task_ResolveConfig")
            if b.find("bpmn:errorEventDefinition", NS) is not None
        ],
        "error boundary on Task_ResolveConfig",
    )
    assert boundary.find("bpmn:errorEventDefinition", NS).get("errorRef") == "Error_InvalidConfig"
    assert boundary.get("cancelActivity", "true") == "true"
    assert io(boundary, "output").get("configError") == "=errorMessage"
    report = elements[single(outgoing(flows, boundary.get("id")), "error flow").get("targetRef")]
    assert report.get("id") == "Task_ReportInvalidConfig"
    assert job_type(report) == contract.REPORT_SKIP_JOB_TYPE
    inputs = io(report, "input")
    assert inputs.get("skipKind") == '="invalid-config"'
    assert "configError" in inputs.get("skipReason", "")
    end = elements[single(outgoing(flows, report.get("id")), "report flow").get("targetRef")]
    assert end.get("id") == "EndEvent_InvalidConfig" and local(end.tag) == "endEvent"


def test_happy_path_order(flows: dict[str, ET.Element], elements: dict[str, ET.Element]) -> None:
    """Stages 1-8 before the fork, 12-17 after the join, in contract order."""
    light_before = [s for s in contract.STAGES if s.number <= 8]
    light_after = [s for s in contract.STAGES if s.number >= 12]
    for earlier, later in itertools.pairwise(light_before):
        assert f"Task_{later.name}" in reachable(flows, f"Task_{earlier.name}")
    assert "Gateway_HeavyFork" in reachable(flows, f"Task_{light_before[-1].name}")
    node = "Gateway_HeavyJoin"
    for stage in light_after:
        nxt = single(outgoing(flows, node), f"flow after {node}").get("targetRef")
        assert nxt == f"Task_{stage.name}"
        node = nxt
    end = single(outgoing(flows, node), f"flow after {node}").get("targetRef")
    assert end == "EndEvent_ReviewDone" and local(elements[end].tag) == "endEvent"


# ------------------------------------------------------------------ diagram interchange


def _shapes(root: ET.Element) -> dict[str, tuple[float, float, float, float]]:
    shapes = {}
    for s in root.iter(f"{{{NS['bpmndi']}}}BPMNShape"):
        b = s.find("dc:Bounds", NS)
        shapes[s.get("bpmnElement")] = tuple(float(b.get(k)) for k in ("x", "y", "width", "height"))
    return shapes


def test_every_flow_node_has_a_shape(root: ET.Element, flow_nodes: dict[str, ET.Element]) -> None:
    plane = root.find("bpmndi:BPMNDiagram/bpmndi:BPMNPlane", NS)
    assert plane is not None and plane.get("bpmnElement") == contract.PROCESS_ID
    shapes = _shapes(root)
    missing = set(flow_nodes) - set(shapes)
    assert not missing, f"no BPMNShape for {sorted(missing)}"
    for node_id, (x, y, w, h) in shapes.items():
        assert x >= 0 and y >= 0 and w > 0 and h > 0, node_id


def test_every_sequence_flow_has_an_edge(root: ET.Element, flows: dict[str, ET.Element]) -> None:
    edges = {e.get("bpmnElement"): e for e in root.iter(f"{{{NS['bpmndi']}}}BPMNEdge")}
    missing = set(flows) - set(edges)
    assert not missing, f"no BPMNEdge for {sorted(missing)}"
    for fid in flows:
        assert len(edges[fid].findall("di:waypoint", NS)) >= 2, fid


def test_shapes_do_not_overlap(root: ET.Element, elements: dict[str, ET.Element]) -> None:
    shapes = _shapes(root)
    hosts = {
        i: e.get("attachedToRef") for i, e in elements.items() if local(e.tag) == "boundaryEvent"
    }
    ids = sorted(shapes)
    for n, a in enumerate(ids):
        for b in ids[n + 1 :]:
            if hosts.get(a) == b or hosts.get(b) == a:
                continue
            ax, ay, aw, ah = shapes[a]
            bx, by, bw, bh = shapes[b]
            overlap = ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah
            assert not overlap, f"{a} overlaps {b}"


# ------------------------------------------------------------------ webhook ingress


def _webhook_properties(elements: dict[str, ET.Element]) -> dict[str, str]:
    start = elements["StartEvent_PullRequestWebhook"]
    return {
        p.get("name", ""): p.get("value", "")
        for p in start.findall("bpmn:extensionElements/zeebe:properties/zeebe:property", NS)
    }


def test_webhook_start_event_is_the_connector_contract(
    root: ET.Element, elements: dict[str, ET.Element]
) -> None:
    start = elements["StartEvent_PullRequestWebhook"]
    ref = start.find("bpmn:messageEventDefinition", NS).get("messageRef")
    message = next(m for m in root.findall("bpmn:message", NS) if m.get("id") == ref)
    assert message.get("name") == START_MESSAGE
    props = _webhook_properties(elements)
    assert props["inbound.type"] == "io.camunda:webhook:1"
    assert props["inbound.shouldValidateHmac"] == "enabled"
    assert props["inbound.hmacHeader"] == SIGNATURE_HEADER
    assert props["inbound.hmacAlgorithm"] == "sha_256"
    # the runtime resolves {{secrets.X}} from the env var SECRET_X: the one the CLI reads
    assert props["inbound.hmacSecret"] == "{{secrets." + SECRET_ENV.removeprefix("SECRET_") + "}}"
    assert "x-github-delivery" in props["messageIdExpression"]
    assert "x-github-delivery" in props["resultExpression"]
    assert props["correlationRequired"] == "required"
    assert "full_name" in props["correlationKeyExpression"]


def test_webhook_activation_condition_names_exactly_the_review_actions(
    elements: dict[str, ET.Element],
) -> None:
    condition = _webhook_properties(elements)["activationCondition"]
    listed = set(re.findall(r'"([a-z_]+)"', condition.split("list contains([", 1)[1].split("]")[0]))
    assert listed == set(REVIEW_ACTIONS)
    assert REVIEW_COMMAND in condition
    assert sorted(TRUSTED_ASSOCIATIONS) == sorted(
        re.findall(r'"([A-Z]+)"', condition.rsplit("list contains([", 1)[1].split("]")[0])
    )


def test_webhook_maps_only_what_the_process_needs(elements: dict[str, ET.Element]) -> None:
    result = _webhook_properties(elements)["resultExpression"]
    top_level = re.findall(r"[{,]\s*([A-Za-z]+):", result)
    assert {"reviewRunId", "target", "trigger", "deliveryId"} <= set(top_level)
    assert "request.body}" not in result and "request.headers}" not in result
