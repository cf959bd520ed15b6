"""bpmn/code_review.bpmn (Operaton / Camunda 7) agrees with shared/contract.py and carries a
complete diagram.

Pure XML checks (no engine): topics and extension properties, one name per stage, the heavy
branches' message/timer/retry wiring and the AST-context wait, the skip and invalid-config
paths, one run per pull request (message start, event subprocess, rerun gateways), BPMNDI
completeness and id uniqueness. The behaviour on a real Operaton engine was probed separately.
"""

import itertools
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter, deque
from pathlib import Path

import pytest

from shared import contract

ROOT = Path(__file__).resolve().parents[2]
BPMN_PATH = ROOT / "bpmn" / "code_review.bpmn"
GENERATOR = ROOT / "bpmn" / "tools" / "generate_code_review.py"

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "camunda": "http://camunda.org/schema/1.0/bpmn",
    "modeler": "http://camunda.org/schema/modeler/1.0",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
CAMUNDA = "{" + NS["camunda"] + "}"
# Stages that post to the PR (and the report tasks) get more retries than the rest.
POSTING_STAGES = {7, 12, 13, 16, 17}
HEAVY_JOIN = frozenset({"Gateway_HeavyJoin"})
WAIT_STATES = {"serviceTask", "receiveTask", "userTask", "intermediateCatchEvent"}
# The only names JUEL may read: scalars (structured values are JSON strings for the workers).
SCALARS = {
    contract.PROCEED_VARIABLE,
    contract.RERUN_VARIABLE,
    contract.REVIEW_ROUND_VARIABLE,
    contract.HEAVY_RETRIES_VARIABLE,
    contract.HEAVY_TIMEOUT_VARIABLE,
    contract.AST_CONTEXT_WAIT_VARIABLE,
    contract.CONFIG_ERROR_VARIABLE,
    *(b.attempt_variable for b in contract.HEAVY_BRANCHES),
}


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
def subprocess_el(process: ET.Element) -> ET.Element:
    found = process.findall("bpmn:subProcess", NS)
    assert len(found) == 1, "exactly one (event) subprocess expected"
    return found[0]


@pytest.fixture(scope="module")
def elements(process: ET.Element) -> dict[str, ET.Element]:
    """Every element with an id inside the process, the event subprocess's content included."""
    return {e.get("id"): e for e in process.iter() if e.get("id") and e is not process}


@pytest.fixture(scope="module")
def flows(elements: dict[str, ET.Element]) -> dict[str, ET.Element]:
    return {i: e for i, e in elements.items() if local(e.tag) == "sequenceFlow"}


FLOW_NODE_TAGS = {
    "startEvent",
    "endEvent",
    "boundaryEvent",
    "serviceTask",
    "receiveTask",
    "scriptTask",
    "exclusiveGateway",
    "parallelGateway",
    "subProcess",
}


@pytest.fixture(scope="module")
def flow_nodes(elements: dict[str, ET.Element]) -> dict[str, ET.Element]:
    return {i: e for i, e in elements.items() if local(e.tag) in FLOW_NODE_TAGS}


def outgoing(flows: dict[str, ET.Element], node_id: str) -> list[ET.Element]:
    return [f for f in flows.values() if f.get("sourceRef") == node_id]


def incoming(flows: dict[str, ET.Element], node_id: str) -> list[ET.Element]:
    return [f for f in flows.values() if f.get("targetRef") == node_id]


def topic(task: ET.Element) -> str | None:
    return task.get(CAMUNDA + "topic")


def ext_properties(task: ET.Element) -> dict[str, str]:
    return {
        p.get("name"): p.get("value")
        for p in task.findall("bpmn:extensionElements/camunda:properties/camunda:property", NS)
    }


def inputs(task: ET.Element) -> dict[str, str]:
    return {
        p.get("name"): (p.text or "")
        for p in task.findall(
            "bpmn:extensionElements/camunda:inputOutput/camunda:inputParameter", NS
        )
    }


def listeners(element: ET.Element) -> list[tuple[str, str]]:
    """(event, expression) of the element's own execution listeners."""
    return [
        (li.get("event"), li.get("expression"))
        for li in element.findall("bpmn:extensionElements/camunda:executionListener", NS)
    ]


def condition(flow: ET.Element) -> str | None:
    c = flow.find("bpmn:conditionExpression", NS)
    return None if c is None else (c.text or "").strip()


def documentation(element: ET.Element) -> str:
    doc = element.find("bpmn:documentation", NS)
    return "" if doc is None else (doc.text or "").strip()


def boundary_events(elements: dict[str, ET.Element], host: str) -> list[ET.Element]:
    return [
        e
        for e in elements.values()
        if local(e.tag) == "boundaryEvent" and e.get("attachedToRef") == host
    ]


def reachable(
    flows: dict[str, ET.Element], start: str, stop: frozenset[str] = frozenset()
) -> set[str]:
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


def next_node(
    flows: dict[str, ET.Element], elements: dict[str, ET.Element], node: str
) -> ET.Element:
    return elements[single(outgoing(flows, node), f"outgoing flow of {node}").get("targetRef")]


def message_name(root: ET.Element, element: ET.Element) -> str:
    ref = element.get("messageRef")
    if ref is None:
        ref = element.find("bpmn:messageEventDefinition", NS).get("messageRef")
    msg = single([m for m in root.findall("bpmn:message", NS) if m.get("id") == ref], ref)
    return msg.get("name")


def timer_duration(boundary: ET.Element) -> str:
    d = boundary.find("bpmn:timerEventDefinition/bpmn:timeDuration", NS)
    assert d is not None, boundary.get("id")
    return (d.text or "").strip()


def set_variable(expression: str) -> tuple[str, str] | None:
    m = re.fullmatch(r"\$\{execution\.setVariable\('(\w+)',\s*(.+)\)\}", expression or "")
    return (m.group(1), m.group(2).strip()) if m else None


# ------------------------------------------------------------------ process and ids


def test_process_header(root: ET.Element, process: ET.Element) -> None:
    assert process.get("id") == contract.PROCESS_ID
    assert process.get("name") == "Code review"
    assert process.get("isExecutable") == "true"
    assert process.get(CAMUNDA + "historyTimeToLive") == "P7D"
    assert root.get(f"{{{NS['modeler']}}}executionPlatform") == "Camunda Platform"
    assert root.get(f"{{{NS['modeler']}}}executionPlatformVersion") == "7.24.0"
    text = BPMN_PATH.read_text(encoding="utf-8")
    assert 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"' in text
    assert "zeebe" not in text.lower()
    assert len(documentation(process)) > 50


def test_generated_files_are_up_to_date() -> None:
    """The diagram and templates are what bpmn/tools/generate_code_review.py writes."""
    result = subprocess.run(
        [sys.executable, str(GENERATOR), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


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
    flows: dict[str, ET.Element], flow_nodes: dict[str, ET.Element], subprocess_el: ET.Element
) -> None:
    starts = [i for i, e in flow_nodes.items() if local(e.tag) == "startEvent"]
    seen: set[str] = {subprocess_el.get("id")}
    for s in starts:
        seen |= reachable(flows, s)
    # boundary events are entered through their host
    for e in flow_nodes.values():
        if local(e.tag) == "boundaryEvent" and e.get("attachedToRef") in seen:
            seen |= reachable(flows, e.get("id"))
    assert seen == set(flow_nodes), f"unreachable: {set(flow_nodes) - seen}"
    for node_id, e in flow_nodes.items():
        if local(e.tag) not in ("endEvent", "subProcess"):
            assert outgoing(flows, node_id), f"{node_id} has no outgoing flow"


def test_juel_reads_only_scalars(elements: dict[str, ET.Element]) -> None:
    """Expressions read only scalar variables (structured values are JSON strings)."""
    text = BPMN_PATH.read_text(encoding="utf-8")
    for expression in re.findall(r"\$\{([^}]*)\}", text):
        names = set(re.findall(r"(?<!['\w.])([A-Za-z_]\w*)(?!\s*\()", expression))
        strings = set(re.findall(r"'(\w+)'", expression))
        names -= strings | {"execution", "null", "true", "false", "le", "lt"}
        assert names <= SCALARS, f"${{{expression}}} reads {names - SCALARS}"
    # an optional variable is read through execution.getVariable() (JUEL throws on unknown ones)
    for optional in (contract.HEAVY_TIMEOUT_VARIABLE, contract.AST_CONTEXT_WAIT_VARIABLE):
        for expression in re.findall(r"\$\{([^}]*)\}", text):
            if optional in expression:
                assert f"execution.getVariable('{optional}') != null" in expression


# ------------------------------------------------------------------ stages and service tasks


def test_contract_one_stage_one_name() -> None:
    names = [s.name for s in contract.STAGES]
    assert [s.number for s in contract.STAGES] == list(range(1, 18))
    assert len(set(names)) == len(names)
    for s in contract.STAGES:
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", s.name), s.name
        assert s.element_id == "Task_" + "".join(p.capitalize() for p in s.name.split("_"))
        assert s.topic == "reviewflow." + s.name.replace("_", "-")
        assert s.job_type == s.topic
        assert contract.stage_by_topic(s.topic) is s is contract.stage_by_name(s.name)
    assert contract.JOB_TYPES == contract.TOPICS
    assert contract.stage_by_name("load_feedback").element_id == "Task_LoadFeedback"


def test_topics_match_the_contract(process: ET.Element) -> None:
    tasks = list(process.iter(f"{{{NS['bpmn']}}}serviceTask"))
    assert {topic(t) for t in tasks} == set(contract.JOB_TYPES)
    for t in tasks:
        assert t.get(CAMUNDA + "type") == "external", t.get("id")


def test_each_stage_has_its_task(elements: dict[str, ET.Element]) -> None:
    for stage in contract.STAGES:
        task = elements.get(stage.element_id)
        assert task is not None, f"no {stage.element_id} for stage {stage.number}"
        assert local(task.tag) == "serviceTask"
        assert topic(task) == stage.topic
        assert task.get("name") == stage.title
        assert len(documentation(task)) > 40, stage.element_id
    feedback = elements["Task_LoadFeedback"]
    assert feedback.get("name") == "Load team feedback"
    assert "KodyFineTuning" in documentation(feedback)
    # seed names are documentation only, never identifiers
    for stage in contract.STAGES:
        if stage.seed_name != stage.element_id.removeprefix("Task_"):
            assert f"Task_{stage.seed_name}" not in elements, stage.seed_name


def test_every_service_task_has_its_properties(process: ET.Element) -> None:
    heavy = {b.topic for b in contract.HEAVY_BRANCHES}
    posting = {s.topic for s in contract.STAGES if s.number in POSTING_STAGES}
    for task in process.iter(f"{{{NS['bpmn']}}}serviceTask"):
        tid, t = task.get("id"), topic(task)
        props = ext_properties(task)
        assert set(props) == {contract.RETRIES_PROPERTY, contract.LOCK_DURATION_PROPERTY}, tid
        assert re.fullmatch(r"[1-9][0-9]*", props["retries"]), tid
        assert re.fullmatch(r"[1-9][0-9]{3,}", props["lockDuration"]), tid
        expected_retries = "5" if t in posting or t == contract.REPORT_SKIP_TOPIC else "3"
        assert props["retries"] == expected_retries, f"{tid}: retries {props['retries']}"
        if t in heavy:
            assert props["lockDuration"] == "10000", tid
        assert (task.get("name") or "").strip(), tid
        assert len(documentation(task)) > 20, tid


def test_every_task_and_gateway_is_documented(flow_nodes: dict[str, ET.Element]) -> None:
    for node_id, e in flow_nodes.items():
        if local(e.tag) in ("serviceTask", "receiveTask", "scriptTask", "subProcess"):
            assert len(documentation(e)) > 20, node_id
            assert (e.get("name") or "").strip(), node_id


# ------------------------------------------------------------------ skip and invalid config


def test_skip_paths(elements: dict[str, ET.Element], flows: dict[str, ET.Element]) -> None:
    """Stages 1, 3 and 4 decide via `proceed`; the default flow goes to Report skip."""
    deciders = {"Task_ValidateNewCommits", "Task_ValidateConfig", "Task_FetchChangedFiles"}
    for decider in deciders:
        gateway = next_node(flows, elements, decider)
        assert local(gateway.tag) == "exclusiveGateway", decider
        assert (gateway.get("name") or "").endswith("?")
        default = gateway.get("default")
        gw_flows = outgoing(flows, gateway.get("id"))
        assert len(gw_flows) == 2
        for f in gw_flows:
            if f.get("id") == default:
                assert condition(f) is None
                assert f.get("name") == "no"
                assert "Task_ReportSkip" in reachable(flows, f.get("targetRef"))
            else:
                assert condition(f) == "${proceed}"
                assert f.get("name") == "yes"
    report = elements["Task_ReportSkip"]
    assert topic(report) == contract.REPORT_SKIP_TOPIC
    assert inputs(report) == {"skipKind": "skip"}


def test_invalid_config_is_caught_and_reported(
    root: ET.Element, elements: dict[str, ET.Element], flows: dict[str, ET.Element]
) -> None:
    error = single(
        [e for e in root.findall("bpmn:error", NS) if e.get("id") == "Error_InvalidConfig"],
        "Error_InvalidConfig",
    )
    assert error.get("errorCode") == contract.ERROR_INVALID_CONFIG == "Err_InvalidConfig"
    boundary = single(
        [
            b
            for b in boundary_events(elements, "Task_ResolveConfig")
            if b.find("bpmn:errorEventDefinition", NS) is not None
        ],
        "error boundary on Task_ResolveConfig",
    )
    definition = boundary.find("bpmn:errorEventDefinition", NS)
    assert definition.get("errorRef") == "Error_InvalidConfig"
    assert definition.get(CAMUNDA + "errorMessageVariable") == contract.CONFIG_ERROR_VARIABLE
    assert boundary.get("cancelActivity", "true") == "true"
    report = next_node(flows, elements, boundary.get("id"))
    assert report.get("id") == "Task_ReportInvalidConfig"
    assert topic(report) == contract.REPORT_SKIP_TOPIC
    assert inputs(report) == {
        "skipKind": "invalid-config",
        "skipReason": "invalid configuration: ${configError}",
    }
    gateway = next_node(flows, elements, report.get("id"))
    assert gateway.get("id") == "Gateway_RerunAfterInvalidConfig"
    end = elements[
        single(
            [
                f
                for f in outgoing(flows, gateway.get("id"))
                if f.get("id") == gateway.get("default")
            ],
            "default flow",
        ).get("targetRef")
    ]
    assert end.get("id") == "EndEvent_InvalidConfig" and local(end.tag) == "endEvent"
    assert end.get("name") == "Invalid config reported"


def test_happy_path_order(flows: dict[str, ET.Element], elements: dict[str, ET.Element]) -> None:
    """Stages 1-8 before the fork, 12-17 after the join, in contract order, then the end."""
    light_before = [s for s in contract.STAGES if s.number <= 8]
    light_after = [s for s in contract.STAGES if s.number >= 12]
    for earlier, later in itertools.pairwise(light_before):
        assert later.element_id in reachable(flows, earlier.element_id)
    assert next_node(flows, elements, light_before[-1].element_id).get("id") == "Gateway_HeavyFork"
    node = "Gateway_HeavyJoin"
    for stage in light_after:
        node = next_node(flows, elements, node).get("id")
        assert node == stage.element_id
    gateway = next_node(flows, elements, node)
    assert gateway.get("id") == "Gateway_RerunAfterReview"
    ends = [elements[f.get("targetRef")] for f in outgoing(flows, gateway.get("id"))]
    assert "EndEvent_ReviewDone" in [e.get("id") for e in ends]


# ------------------------------------------------------------------ heavy branches


def test_heavy_fork_and_join(elements: dict[str, ET.Element], flows: dict[str, ET.Element]) -> None:
    fork, join = elements["Gateway_HeavyFork"], elements["Gateway_HeavyJoin"]
    assert local(fork.tag) == local(join.tag) == "parallelGateway"
    assert fork.get("name") == "Run heavy stages" and join.get("name") == "Heavy stages done"
    n = len(contract.HEAVY_BRANCHES)
    assert len(outgoing(flows, "Gateway_HeavyFork")) == n
    assert len(incoming(flows, "Gateway_HeavyJoin")) == n
    # one token per branch reaches the join: each branch merges its paths before it
    for f in incoming(flows, "Gateway_HeavyJoin"):
        src = elements[f.get("sourceRef")]
        assert local(src.tag) == "exclusiveGateway", f"{src.get('id')} feeds the join directly"


def test_attempts_start_at_one_every_round(
    elements: dict[str, ET.Element], flows: dict[str, ET.Element]
) -> None:
    into_fork = single(incoming(flows, "Gateway_HeavyFork"), "flow into the fork")
    set_vars = dict(
        filter(
            None, (set_variable(expr) for event, expr in listeners(into_fork) if event == "take")
        )
    )
    for branch in contract.HEAVY_BRANCHES:
        assert set_vars.get(branch.attempt_variable) == "1", branch.key


@pytest.mark.parametrize("branch", contract.HEAVY_BRANCHES, ids=lambda b: b.key)
def test_heavy_branch(
    branch: contract.HeavyBranch,
    root: ET.Element,
    process: ET.Element,
    elements: dict[str, ET.Element],
    flows: dict[str, ET.Element],
) -> None:
    att, out = branch.attempt_variable, branch.outcome_variable

    dispatch = single(
        [t for t in process.iter(f"{{{NS['bpmn']}}}serviceTask") if topic(t) == branch.topic],
        f"dispatch task for {branch.topic}",
    )
    did = dispatch.get("id")
    assert did == contract.stage_by_topic(branch.topic).element_id
    assert did in reachable(flows, "Gateway_HeavyFork")
    # the dispatch task is a plain external task: its properties only, no mappings
    assert dispatch.find("bpmn:extensionElements/camunda:inputOutput", NS) is None

    attempt_merge = single(incoming(flows, did), f"flow into {did}").get("sourceRef")
    assert local(elements[attempt_merge].tag) == "exclusiveGateway"

    # dispatch -> receive task with the branch's own message, no output mapping
    receive = next_node(flows, elements, did)
    receive_id = receive.get("id")
    assert local(receive.tag) == "receiveTask"
    assert receive.get("name", "").startswith("Wait for ") and receive.get("name").endswith(
        " result"
    )
    assert message_name(root, receive) == branch.message_name
    assert receive.find("bpmn:extensionElements/camunda:inputOutput", NS) is None
    assert branch.wait_key_variable in documentation(receive)

    # an interrupting timer on the receive task
    timer = single(
        [
            b
            for b in boundary_events(elements, receive_id)
            if b.find("bpmn:timerEventDefinition", NS) is not None
        ],
        f"timer on {receive_id}",
    )
    assert timer.get("name") == "No result in time"
    assert timer.get("cancelActivity", "true") == "true"
    assert timer_duration(timer) == (
        "${execution.getVariable('heavyTimeout') != null ? heavyTimeout : 'PT10M'}"
    )

    # timer -> count the attempt (JUEL script) -> retry gateway
    count = next_node(flows, elements, timer.get("id"))
    assert local(count.tag) == "scriptTask" and count.get("scriptFormat") == "juel"
    assert count.get(CAMUNDA + "resultVariable") == att
    assert count.findtext("bpmn:script", namespaces=NS).strip() == f"${{{att} + 1}}"
    gateway = next_node(flows, elements, count.get("id"))
    assert local(gateway.tag) == "exclusiveGateway"
    assert (gateway.get("name") or "").startswith("Retry ")
    gw_flows = outgoing(flows, gateway.get("id"))
    assert len(gw_flows) == 2
    default = gateway.get("default")
    retry_flow = single([f for f in gw_flows if f.get("id") != default], "retry flow")
    give_up = single([f for f in gw_flows if f.get("id") == default], "default flow")

    # bounded loop back to the attempt merge
    assert condition(retry_flow) == f"${{{att} <= heavyRetries + 1}}"
    assert retry_flow.get("targetRef") == attempt_merge
    # the only way back to the dispatch from the timer goes through the increment
    assert did not in reachable(flows, timer.get("id"), stop=frozenset({count.get("id")})) - {
        count.get("id")
    }

    # give up: record a timeout outcome (a JSON string), then on to the join
    mark = elements[give_up.get("targetRef")]
    assert local(mark.tag) == "scriptTask" and mark.get("scriptFormat") == "juel"
    assert mark.get(CAMUNDA + "resultVariable") == out
    script = mark.findtext("bpmn:script", namespaces=NS).strip()
    as_json = json.loads(re.sub(r"\$\{[^}]*\}", "1", script))
    assert as_json["status"] == contract.TIMEOUT_STATUS
    assert condition(give_up) is None

    # the message path and the timeout path meet in an exclusive merge before the join
    result = next_node(flows, elements, receive_id)
    assert local(result.tag) == "exclusiveGateway"
    assert next_node(flows, elements, mark.get("id")) is result
    assert next_node(flows, elements, result.get("id")).get("id") == "Gateway_HeavyJoin"


@pytest.mark.parametrize("branch", contract.HEAVY_BRANCHES, ids=lambda b: b.key)
def test_llm_branches_wait_briefly_for_the_ast_context(
    branch: contract.HeavyBranch,
    root: ET.Element,
    elements: dict[str, ET.Element],
    flows: dict[str, ET.Element],
) -> None:
    dispatch_id = contract.stage_by_topic(branch.topic).element_id
    first = next(
        elements[f.get("targetRef")]
        for f in outgoing(flows, "Gateway_HeavyFork")
        if dispatch_id in reachable(flows, f.get("targetRef"), stop=HEAVY_JOIN)
    )
    if branch.context_message is None:
        # the AST branch starts with its attempt merge
        assert local(first.tag) == "exclusiveGateway"
        assert next_node(flows, elements, first.get("id")).get("id") == dispatch_id
        return
    assert local(first.tag) == "receiveTask" and first.get("name") == "Wait for AST context"
    assert message_name(root, first) == branch.context_message
    timer = single(boundary_events(elements, first.get("id")), "timer on the context wait")
    assert timer.get("name") == "AST context late"
    assert timer_duration(timer) == (
        "${execution.getVariable('astContextWait') != null ? astContextWait : 'PT5S'}"
    )
    merge = next_node(flows, elements, first.get("id"))
    assert local(merge.tag) == "exclusiveGateway"
    assert next_node(flows, elements, timer.get("id")) is merge
    attempt_merge = next_node(flows, elements, merge.get("id"))
    assert local(attempt_merge.tag) == "exclusiveGateway"
    assert next_node(flows, elements, attempt_merge.get("id")).get("id") == dispatch_id


def test_messages_are_distinct_and_named_by_the_contract(root: ET.Element) -> None:
    names = [m.get("name") for m in root.findall("bpmn:message", NS)]
    assert len(set(names)) == len(names)
    expected = {contract.PR_EVENT_MESSAGE}
    for b in contract.HEAVY_BRANCHES:
        expected.add(b.message_name)
        if b.context_message:
            expected.add(b.context_message)
    assert set(names) == expected
    variables = [
        v
        for b in contract.HEAVY_BRANCHES
        for v in (b.outcome_variable, b.attempt_variable, b.wait_key_variable)
    ]
    assert len(set(variables)) == len(variables)
    assert [b.key for b in contract.HEAVY_BRANCHES] == ["ast", "pr", "file"]


# ------------------------------------------------------------------ one run per pull request


def test_start_events_and_round_start(
    root: ET.Element,
    process: ET.Element,
    elements: dict[str, ET.Element],
    flows: dict[str, ET.Element],
) -> None:
    top_starts = [e for e in process.findall("bpmn:startEvent", NS)]
    assert sorted(e.get("id") for e in top_starts) == [
        "StartEvent_PullRequestEvent",
        "StartEvent_ReviewRequested",
    ]
    none_start = elements["StartEvent_ReviewRequested"]
    assert list(none_start.iter(f"{{{NS['bpmn']}}}messageEventDefinition")) == []
    assert message_name(root, elements["StartEvent_PullRequestEvent"]) == contract.PR_EVENT_MESSAGE
    merges = {next_node(flows, elements, s.get("id")).get("id") for s in top_starts}
    assert len(merges) == 1
    merge = merges.pop()
    assert next_node(flows, elements, merge).get("id") == "Task_ValidateNewCommits"
    # process-level start listeners initialise the rerun flag and the round
    set_vars = dict(
        filter(None, (set_variable(expr) for event, expr in listeners(process) if event == "start"))
    )
    assert set_vars == {"rerun": "false", "reviewRound": "1"}


def test_event_subprocess_marks_a_rerun(
    root: ET.Element, subprocess_el: ET.Element, flows: dict[str, ET.Element]
) -> None:
    assert subprocess_el.get("triggeredByEvent") == "true"
    assert subprocess_el.get("name") == "New push during the review"
    start = single(subprocess_el.findall("bpmn:startEvent", NS), "start in the event subprocess")
    assert start.get("isInterrupting") == "false"
    assert message_name(root, start) == contract.PR_EVENT_MESSAGE
    assert listeners(start) == [("end", "${execution.setVariable('rerun', true)}")]
    # straight to an end event: nothing in there waits
    kinds = sorted(local(e.tag) for e in subprocess_el if local(e.tag) in FLOW_NODE_TAGS)
    assert kinds == ["endEvent", "startEvent"]
    end = single(outgoing(flows, start.get("id")), "flow out of the subprocess start")
    assert end.get("targetRef") == single(subprocess_el.findall("bpmn:endEvent", NS), "end").get(
        "id"
    )


def test_every_end_is_guarded_by_a_rerun_gateway(
    process: ET.Element, elements: dict[str, ET.Element], flows: dict[str, ET.Element]
) -> None:
    ends = process.findall("bpmn:endEvent", NS)
    assert sorted(e.get("id") for e in ends) == [
        "EndEvent_InvalidConfig",
        "EndEvent_ReviewDone",
        "EndEvent_Skipped",
    ]
    loop_targets = set()
    for end in ends:
        gateway = elements[
            single(incoming(flows, end.get("id")), "flow into the end").get("sourceRef")
        ]
        gid = gateway.get("id")
        assert local(gateway.tag) == "exclusiveGateway", gid
        assert gateway.get("name") == "New push during the review?"
        assert gateway.get("default") == single(incoming(flows, end.get("id")), "").get("id")
        loop = single(
            [f for f in outgoing(flows, gid) if f.get("id") != gateway.get("default")], "loop"
        )
        assert condition(loop) == "${rerun}"
        loop_targets.add(loop.get("targetRef"))
        # back to just before Validate new commits, without a wait state on the way
        path = reachable(flows, loop.get("targetRef"), stop=frozenset({"Task_ValidateNewCommits"}))
        assert "Task_ValidateNewCommits" in path
        between = path - {"Task_ValidateNewCommits"}
        assert all(local(elements[n].tag) not in WAIT_STATES for n in between), between
    # one flow carries the take-listeners of every loop
    assert len(loop_targets) == 1
    next_round = loop_targets.pop()
    flow = single(outgoing(flows, next_round), "flow out of the next-round merge")
    set_vars = dict(
        filter(None, (set_variable(expr) for event, expr in listeners(flow) if event == "take"))
    )
    expected = {"rerun": "false", "reviewRound": "reviewRound + 1", "trigger": "'synchronize'"}
    expected |= {b.attempt_variable: "1" for b in contract.HEAVY_BRANCHES}
    assert set_vars == expected
    assert next_node(flows, elements, flow.get("targetRef")).get("id") == "Task_ValidateNewCommits"


# ------------------------------------------------------------------ diagram interchange


def _shapes(root: ET.Element) -> dict[str, tuple[float, ...]]:
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


def test_event_subprocess_is_an_expanded_box_around_its_content(
    root: ET.Element, subprocess_el: ET.Element
) -> None:
    sid = subprocess_el.get("id")
    shape = next(
        s for s in root.iter(f"{{{NS['bpmndi']}}}BPMNShape") if s.get("bpmnElement") == sid
    )
    assert shape.get("isExpanded") == "true"
    shapes = _shapes(root)
    sx, sy, sw, sh = shapes[sid]
    for e in subprocess_el:
        if e.get("id") in shapes:
            x, y, w, h = shapes[e.get("id")]
            assert sx < x and x + w < sx + sw and sy < y and y + h < sy + sh, e.get("id")


def test_every_sequence_flow_has_an_edge(root: ET.Element, flows: dict[str, ET.Element]) -> None:
    edges = {e.get("bpmnElement"): e for e in root.iter(f"{{{NS['bpmndi']}}}BPMNEdge")}
    missing = set(flows) - set(edges)
    assert not missing, f"no BPMNEdge for {sorted(missing)}"
    for fid in flows:
        points = edges[fid].findall("di:waypoint", NS)
        assert len(points) >= 2, fid
        # orthogonal routing: every segment is horizontal or vertical
        for a, b in itertools.pairwise(points):
            assert a.get("x") == b.get("x") or a.get("y") == b.get("y"), fid


def test_shapes_do_not_overlap(
    root: ET.Element, elements: dict[str, ET.Element], subprocess_el: ET.Element
) -> None:
    shapes = _shapes(root)
    hosts = {
        i: e.get("attachedToRef") for i, e in elements.items() if local(e.tag) == "boundaryEvent"
    }
    sid = subprocess_el.get("id")
    inside = {e.get("id") for e in subprocess_el}
    ids = sorted(shapes)
    for n, a in enumerate(ids):
        for b in ids[n + 1 :]:
            if hosts.get(a) == b or hosts.get(b) == a:
                continue
            if sid in (a, b) and ({a, b} - {sid}) <= inside:
                continue
            ax, ay, aw, ah = shapes[a]
            bx, by, bw, bh = shapes[b]
            overlap = ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah
            assert not overlap, f"{a} overlaps {b}"


def test_main_path_is_one_row_left_to_right(root: ET.Element) -> None:
    shapes = _shapes(root)
    main = [s.element_id for s in contract.STAGES if s.number <= 8 or s.number >= 12]
    main += ["Task_AstAnalysis", "Gateway_HeavyFork", "Gateway_HeavyJoin", "EndEvent_ReviewDone"]
    centre_y = {i: shapes[i][1] + shapes[i][3] / 2 for i in main}
    assert len(set(centre_y.values())) == 1, centre_y
    xs = [shapes[s.element_id][0] for s in contract.STAGES]
    assert xs[:8] == sorted(xs[:8]) and xs[11:] == sorted(xs[11:])
    # heavy branches stacked under each other
    ys = [shapes[contract.stage_by_topic(b.topic).element_id][1] for b in contract.HEAVY_BRANCHES]
    assert ys == sorted(ys) and len(set(ys)) == 3
