"""The Camunda 8 adapter (reviewflow.engine.zeebe) against an in-memory Zeebe gateway
(tests/support/zeebe_gateway.py) over real gRPC on 127.0.0.1: no broker, no Camunda artifact."""

import asyncio
import hashlib
import json
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from reviewflow.engine.port import (
    EngineRequestError,
    EngineUnavailable,
    ExternalTask,
    Incident,
    StartKind,
    TaskGone,
    TopicSubscription,
)
from reviewflow.engine.zeebe import MESSAGE_TTL_MS, ZeebeEngine, camunda8_form, zeebe_engine
from tests.support.zeebe_gateway import FakeGateway
from workers.poller import TaskPoller
from workers.runtime import BusinessError, TaskSpec

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="{process_id}" isExecutable="true"><bpmn:startEvent id="s"/></bpmn:process>
</bpmn:definitions>
"""


RETRIES = 3


@pytest.fixture
async def gateway() -> AsyncIterator[FakeGateway]:
    fake = FakeGateway(default_poll_ms=500)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def engine(gateway: FakeGateway) -> AsyncIterator[ZeebeEngine]:
    adapter = ZeebeEngine(
        lambda: grpc.aio.insecure_channel(gateway.address),
        address=gateway.address,
        attempts=RETRIES,
        retry_pause_s=0.01,
    )
    try:
        yield adapter
    finally:
        await adapter.aclose()


def sub(topic: str, variables: tuple[str, ...] | None = ("n",), lock: int = 30_000) -> Any:
    return TopicSubscription(topic, variables, lock)


async def one_task(engine: ZeebeEngine, topic: str) -> ExternalTask:
    [task] = await engine.fetch_and_lock("w1", [sub(topic, None)], 1, 0)
    return task


async def activated(gateway: FakeGateway, engine: ZeebeEngine, topic: str = "t") -> ExternalTask:
    await gateway.enqueue_job(topic, {"n": 1})
    return await one_task(engine, topic)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- deployment and starts -----------------------------------------------------------------------


async def test_deploy_sends_the_files(
    gateway: FakeGateway, engine: ZeebeEngine, tmp_path: Path
) -> None:
    first = tmp_path / "review.bpmn"
    first.write_text(BPMN.format(process_id="review"))
    second = tmp_path / "other.bpmn"
    second.write_text(BPMN.format(process_id="other"))

    await engine.deploy([first, second])

    [request] = gateway.requests("DeployResource")
    assert [r.name for r in request.resources] == ["review.bpmn", "other.bpmn"]
    assert request.resources[0].content == first.read_bytes()
    assert sorted(gateway.deployed) == ["other", "review"]


async def test_deploy_takes_the_camunda8_form_of_a_diagram(
    gateway: FakeGateway, engine: ZeebeEngine, tmp_path: Path
) -> None:
    operaton = tmp_path / "review.bpmn"
    operaton.write_text("<not for zeebe/>")
    (tmp_path / "camunda8").mkdir()
    zeebe_form = tmp_path / "camunda8" / "review.bpmn"
    zeebe_form.write_text(BPMN.format(process_id="review"))

    await engine.deploy([operaton])

    [request] = gateway.requests("DeployResource")
    assert request.resources[0].content == zeebe_form.read_bytes()
    assert list(gateway.deployed) == ["review"]


def test_the_repository_diagram_has_its_camunda8_form() -> None:
    operaton = Path(__file__).resolve().parents[3] / "bpmn" / "code_review.bpmn"
    assert camunda8_form(operaton) == operaton.parent / "camunda8" / "code_review.bpmn"


async def test_start_instance_keeps_the_business_key_in_a_variable(
    gateway: FakeGateway, engine: ZeebeEngine, tmp_path: Path
) -> None:
    path = tmp_path / "review.bpmn"
    path.write_text(BPMN.format(process_id="review"))
    await engine.deploy([path])

    target = {"provider": "local", "path": "/repo", "nested": [1, {"a": True}]}
    instance_id = await engine.start_instance("review", {"target": target}, business_key="o/r#1")

    [request] = gateway.requests("CreateProcessInstance")
    assert request.bpmnProcessId == "review"
    assert json.loads(request.variables) == {"target": target, "businessKey": "o/r#1"}
    assert int(instance_id) in gateway.instances


async def test_start_instance_of_an_unknown_process_is_a_request_error(
    engine: ZeebeEngine,
) -> None:
    with pytest.raises(EngineRequestError) as caught:
        await engine.start_instance("missing", {})
    assert not isinstance(caught.value, TaskGone)
    assert caught.value.kind == "NOT_FOUND"


async def test_start_or_correlate_publishes_on_the_business_key(
    gateway: FakeGateway, engine: ZeebeEngine
) -> None:
    variables = {"target": {"repository": "o/r", "pr": 7}, "deliveryId": "d-123"}

    result = await engine.start_or_correlate("reviewflow.pr-event", "o/r#7", variables)

    assert result.kind is StartKind.PUBLISHED
    assert result.process_instance_id is None
    [request] = gateway.requests("PublishMessage")
    assert request.name == "reviewflow.pr-event"
    assert request.correlationKey == "o/r#7"
    assert request.timeToLive == MESSAGE_TTL_MS == 3_600_000
    assert request.messageId == hashlib.sha256(b"d-123").hexdigest()[:32]
    assert json.loads(request.variables) == {**variables, "businessKey": "o/r#7"}


async def test_a_redelivered_start_is_success_and_publishes_once(
    gateway: FakeGateway, engine: ZeebeEngine
) -> None:
    variables = {"deliveryId": "d-1"}
    first = await engine.start_or_correlate("m", "o/r#1", variables)
    again = await engine.start_or_correlate("m", "o/r#1", variables)

    assert first == again
    assert len(gateway.requests("PublishMessage")) == 2  # the second was refused...
    assert len(gateway.messages) == 1  # ...as ALREADY_EXISTS: one message is buffered


async def test_a_start_without_delivery_id_has_no_message_id(
    gateway: FakeGateway, engine: ZeebeEngine
) -> None:
    await engine.start_or_correlate("m", "o/r#1", {"trigger": "cli"})
    await engine.start_or_correlate("m", "o/r#1", {"trigger": "cli"})

    assert [r.messageId for r in gateway.requests("PublishMessage")] == ["", ""]
    assert len(gateway.messages) == 2


# --- messages to a running instance --------------------------------------------------------------


async def test_correlate_publishes_on_the_wait_key(
    gateway: FakeGateway, engine: ZeebeEngine
) -> None:
    outcome = {"status": "ok", "items": 3}
    await engine.correlate(
        "reviewflow.ast.done",
        "2251799813685300",
        {"astOutcome": outcome},
        {"astWaitKey": "run:ast:1:abc"},
    )

    [request] = gateway.requests("PublishMessage")
    assert request.name == "reviewflow.ast.done"
    assert request.correlationKey == "run:ast:1:abc"
    assert request.timeToLive == MESSAGE_TTL_MS
    assert json.loads(request.variables) == {"astOutcome": outcome}


async def test_a_number_key_falls_back_to_the_instance_key(
    gateway: FakeGateway, engine: ZeebeEngine
) -> None:
    # the AST context is keyed on the review round for Operaton; in Zeebe's global key space a
    # round number would reach another pull request's instance, so the instance key is used
    await engine.correlate("m", "2251799813685300", None, {"reviewRound": 2})

    [request] = gateway.requests("PublishMessage")
    assert request.correlationKey == "2251799813685300"


async def test_correlate_without_keys_uses_the_instance_key(
    gateway: FakeGateway, engine: ZeebeEngine
) -> None:
    await engine.correlate("reviewflow.context", "2251799813685300")

    [request] = gateway.requests("PublishMessage")
    assert request.correlationKey == "2251799813685300"
    assert json.loads(request.variables) == {}


async def test_correlate_refuses_two_keys(engine: ZeebeEngine) -> None:
    with pytest.raises(EngineRequestError, match="one correlation key"):
        await engine.correlate("m", "1", None, {"a": "1", "b": "2"})


async def test_correlate_treats_already_exists_as_success(
    gateway: FakeGateway, engine: ZeebeEngine
) -> None:
    gateway.fail_next("PublishMessage", grpc.StatusCode.ALREADY_EXISTS, "duplicate")
    await engine.correlate("m", "1", {"x": 1}, {"k": "key-1"})
    assert len(gateway.requests("PublishMessage")) == 1


# --- jobs ----------------------------------------------------------------------------------------


async def test_fetch_and_lock_maps_jobs_to_tasks(gateway: FakeGateway, engine: ZeebeEngine) -> None:
    key = await gateway.enqueue_job(
        "reviewflow.fetch",
        {"n": 5, "target": {"path": "/r", "list": [1, 2]}, "other": "x", "businessKey": "o/r#2"},
        retries=2,
        custom_headers={"retries": "5", "lockDuration": "PT1M"},
        process_instance_key=4242,
        element_id="Task_FetchChangedFiles",
    )

    tasks = await engine.fetch_and_lock(
        "worker-a", [sub("reviewflow.fetch", ("n", "target"), lock=12_345)], 4, 0
    )

    [request] = gateway.requests("ActivateJobs")
    assert request.type == "reviewflow.fetch"
    assert request.worker == "worker-a"
    assert request.timeout == 12_345
    assert request.maxJobsToActivate == 4
    assert request.requestTimeout == -1  # the first pass does not wait
    assert sorted(request.fetchVariable) == ["businessKey", "n", "target"]
    assert tasks == [
        ExternalTask(
            id=str(key),
            topic="reviewflow.fetch",
            worker_id="worker-a",
            process_instance_id="4242",
            activity_id="Task_FetchChangedFiles",
            business_key="o/r#2",
            variables={"n": 5, "target": {"path": "/r", "list": [1, 2]}},
            retries=2,
            properties={"retries": "5", "lockDuration": "PT1M"},
            node=gateway.address,
        )
    ]


async def test_fetch_and_lock_without_a_variable_list_fetches_all(
    gateway: FakeGateway, engine: ZeebeEngine
) -> None:
    await gateway.enqueue_job("t", {"a": 1, "b": [2]})
    [task] = await engine.fetch_and_lock("w", [sub("t", None)], 1, 0)
    assert list(gateway.requests("ActivateJobs")[0].fetchVariable) == []
    assert task.variables == {"a": 1, "b": [2]}
    assert task.business_key is None


async def test_fetch_and_lock_honours_max_tasks(gateway: FakeGateway, engine: ZeebeEngine) -> None:
    for n in range(3):
        await gateway.enqueue_job("t", {"n": n})

    first = await engine.fetch_and_lock("w", [sub("t")], 2, 0)
    second = await engine.fetch_and_lock("w", [sub("t")], 2, 0)

    assert [t.variables["n"] for t in first] == [0, 1]
    assert [t.variables["n"] for t in second] == [2]
    assert await engine.fetch_and_lock("w", [sub("t")], 2, 0) == []


async def test_fetch_and_lock_takes_the_topics_in_turn(
    gateway: FakeGateway, engine: ZeebeEngine
) -> None:
    for topic in ("a", "a", "b", "b"):
        await gateway.enqueue_job(topic, {"n": 0})
    subscriptions = [sub("a"), sub("b")]

    topics = [(await engine.fetch_and_lock("w", subscriptions, 1, 0))[0].topic for _ in range(4)]

    assert topics == ["a", "b", "a", "b"]


async def test_fetch_and_lock_long_polls_all_topics(
    gateway: FakeGateway, engine: ZeebeEngine
) -> None:
    async def later() -> int:
        await asyncio.sleep(0.3)
        return await gateway.enqueue_job("b", {"n": 1})

    started = time.monotonic()
    enqueue = asyncio.create_task(later())
    tasks = await engine.fetch_and_lock("w", [sub("a"), sub("b")], 3, 5_000)
    elapsed = time.monotonic() - started

    assert [t.id for t in tasks] == [str(await enqueue)]
    assert 0.25 < elapsed < 3
    waits = sorted((r.type, r.requestTimeout) for r in gateway.requests("ActivateJobs"))
    assert waits == [("a", -1), ("a", 5_000), ("b", -1), ("b", 5_000)]


async def test_fetch_and_lock_returns_nothing_when_the_wait_ends(
    gateway: FakeGateway, engine: ZeebeEngine
) -> None:
    started = time.monotonic()
    assert await engine.fetch_and_lock("w", [sub("a"), sub("b")], 1, 300) == []
    assert 0.25 < time.monotonic() - started < 3


async def test_a_job_whose_lock_expired_is_handed_out_again(
    gateway: FakeGateway, engine: ZeebeEngine
) -> None:
    key = await gateway.enqueue_job("t", {"n": 1})
    [first] = await engine.fetch_and_lock("w1", [sub("t", lock=100)], 1, 0)
    assert await engine.fetch_and_lock("w2", [sub("t", lock=100)], 1, 0) == []
    await asyncio.sleep(0.15)
    [second] = await engine.fetch_and_lock("w2", [sub("t", lock=100)], 1, 0)
    assert first.id == second.id == str(key)
    assert second.worker_id == "w2"


async def test_complete_sends_the_variables(gateway: FakeGateway, engine: ZeebeEngine) -> None:
    task = await activated(gateway, engine)
    result = {"files": {"count": 2, "names": ["a.py", "b.py"]}, "proceed": True}

    await engine.complete(task, result)

    how, request = await gateway.wait_finished(int(task.id))
    assert how == "completed"
    assert request.jobKey == int(task.id)
    # plus the instance key, which the Camunda 8 diagram's AST context messages correlate on
    assert json.loads(request.variables) == {
        **result,
        "processInstanceKey": task.process_instance_id,
    }


async def test_completing_twice_means_the_task_is_gone(
    gateway: FakeGateway, engine: ZeebeEngine
) -> None:
    task = await activated(gateway, engine)
    await engine.complete(task, {})
    with pytest.raises(TaskGone) as caught:
        await engine.complete(task, {})
    assert caught.value.kind == "NOT_FOUND"


async def test_a_job_call_on_a_job_that_is_not_activated_means_gone(
    gateway: FakeGateway, engine: ZeebeEngine
) -> None:
    task = await activated(gateway, engine)
    await engine.fail(task, "boom", "", retries=2, retry_timeout_ms=60_000)
    with pytest.raises(TaskGone) as caught:
        await engine.complete(task, {})
    assert caught.value.kind == "FAILED_PRECONDITION"


async def test_fail_sends_retries_backoff_and_the_error(
    gateway: FakeGateway, engine: ZeebeEngine
) -> None:
    task = await activated(gateway, engine)
    details = "Traceback (most recent call last):\n" + "  frame\n" * 5_000 + "ValueError: bad"

    await engine.fail(task, "ValueError: bad", details, retries=2, retry_timeout_ms=250)

    [request] = gateway.requests("FailJob")
    assert request.jobKey == int(task.id)
    assert request.retries == 2
    assert request.retryBackOff == 250
    assert request.errorMessage.startswith("ValueError: bad\n\n")
    assert request.errorMessage.endswith("ValueError: bad")  # the end of the traceback
    assert len(request.errorMessage) <= 8_000
    # the job comes back after its backoff, with the retries the failure left
    assert await engine.fetch_and_lock("w1", [sub("t", None)], 1, 0) == []
    await asyncio.sleep(0.3)
    [again] = await engine.fetch_and_lock("w1", [sub("t", None)], 1, 0)
    assert again.id == task.id and again.retries == 2


async def test_fail_without_retries_raises_an_incident(
    gateway: FakeGateway, engine: ZeebeEngine
) -> None:
    task = await activated(gateway, engine)
    await engine.fail(task, "RuntimeError: out of retries", "", retries=-1, retry_timeout_ms=-5)
    [request] = gateway.requests("FailJob")
    assert (request.retries, request.retryBackOff) == (0, 0)
    assert gateway.incidents == [(int(task.id), "RuntimeError: out of retries")]


async def test_bpmn_error_throws_the_code(gateway: FakeGateway, engine: ZeebeEngine) -> None:
    task = await activated(gateway, engine)

    await engine.bpmn_error(task, "Err_InvalidConfig", "bad key: foo", {"configError": "foo"})

    how, request = await gateway.wait_finished(int(task.id))
    assert how == "error"
    assert request.errorCode == "Err_InvalidConfig"
    assert request.errorMessage == "bad key: foo"
    # the message also as a variable: the error boundary's output mapping reads it
    assert json.loads(request.variables) == {"errorMessage": "bad key: foo", "configError": "foo"}


async def test_extend_lock_updates_the_job_timeout(
    gateway: FakeGateway, engine: ZeebeEngine
) -> None:
    task = await activated(gateway, engine)

    await engine.extend_lock(task, 45_000)

    [request] = gateway.requests("UpdateJobTimeout")
    assert (request.jobKey, request.timeout) == (int(task.id), 45_000)


@pytest.mark.parametrize("action", ["complete", "fail", "bpmn_error", "extend_lock"])
async def test_job_calls_on_an_unknown_job_mean_gone(engine: ZeebeEngine, action: str) -> None:
    task = ExternalTask("12345", "t", "w", "1", "Task", None, {}, 3)
    calls = {
        "complete": lambda: engine.complete(task, {}),
        "fail": lambda: engine.fail(task, "m", "d", 1, 10),
        "bpmn_error": lambda: engine.bpmn_error(task, "Err", "m"),
        "extend_lock": lambda: engine.extend_lock(task, 1000),
    }
    with pytest.raises(TaskGone):
        await calls[action]()


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED])
async def test_unavailable_and_back_pressure_are_worth_retrying(
    gateway: FakeGateway, engine: ZeebeEngine, code: grpc.StatusCode
) -> None:
    task = await activated(gateway, engine)
    for method in ("CompleteJob", "PublishMessage", "CreateProcessInstance"):
        for _ in range(RETRIES):
            gateway.fail_next(method, code, "try later")
    gateway.fail_next("ActivateJobs", code, "try later")  # the poller retries a fetch

    with pytest.raises(EngineUnavailable, match=code.name):
        await engine.complete(task, {})
    with pytest.raises(EngineUnavailable, match=code.name):
        await engine.start_or_correlate("m", "k", {})
    with pytest.raises(EngineUnavailable, match=code.name):
        await engine.fetch_and_lock("w", [sub("t")], 1, 0)
    with pytest.raises(EngineUnavailable, match=code.name):
        await engine.start_instance("p", {})
    # each call tried as often as it may: a start only on back pressure (after an UNAVAILABLE
    # it may have started an instance)
    starts = RETRIES if code is grpc.StatusCode.RESOURCE_EXHAUSTED else 1
    assert len(gateway.requests("CreateProcessInstance")) == starts
    assert len(gateway.requests("CompleteJob")) == RETRIES
    assert len(gateway.requests("PublishMessage")) == RETRIES
    # the channel stays usable afterwards
    gateway.faults.clear()
    await engine.complete(task, {})


@pytest.mark.parametrize(
    "code",
    [grpc.StatusCode.INTERNAL, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED],
)
async def test_other_server_side_statuses_are_unavailable_without_retry(
    gateway: FakeGateway, engine: ZeebeEngine, code: grpc.StatusCode
) -> None:
    task = await activated(gateway, engine)
    gateway.fail_next("CompleteJob", code, "broker trouble")
    with pytest.raises(EngineUnavailable, match=code.name):
        await engine.complete(task, {})
    assert len(gateway.requests("CompleteJob")) == 1


async def test_a_passing_refusal_is_retried(gateway: FakeGateway, engine: ZeebeEngine) -> None:
    task = await activated(gateway, engine)
    gateway.fail_next("CompleteJob", grpc.StatusCode.RESOURCE_EXHAUSTED, "back pressure")
    gateway.fail_next("CompleteJob", grpc.StatusCode.UNAVAILABLE, "reconnecting")
    gateway.fail_next("PublishMessage", grpc.StatusCode.UNAVAILABLE, "reconnecting")

    await engine.complete(task, {"ok": True})
    await engine.correlate("m", "1", {"x": 1}, {"k": "v"})

    assert len(gateway.requests("CompleteJob")) == 3
    assert (await gateway.wait_finished(int(task.id)))[0] == "completed"
    assert len(gateway.messages) == 1


async def test_a_gateway_that_is_not_there_is_unavailable() -> None:
    address = f"127.0.0.1:{free_port()}"
    engine = ZeebeEngine(
        lambda: grpc.aio.insecure_channel(address), address=address, retry_pause_s=0.01
    )
    try:
        with pytest.raises(EngineUnavailable, match=address):
            await engine.fetch_and_lock("w", [sub("t")], 1, 0)
        with pytest.raises(EngineUnavailable):
            await engine.start_or_correlate("m", "k", {})
    finally:
        await engine.aclose()


async def test_other_statuses_are_request_errors(gateway: FakeGateway, engine: ZeebeEngine) -> None:
    gateway.fail_next("PublishMessage", grpc.StatusCode.INVALID_ARGUMENT, "variables too big")
    with pytest.raises(EngineRequestError, match="variables too big") as caught:
        await engine.correlate("m", "1", {"x": 1}, {"k": "v"})
    assert not isinstance(caught.value, EngineUnavailable | TaskGone)
    assert caught.value.kind == "INVALID_ARGUMENT"
    gateway.fail_next("PublishMessage", grpc.StatusCode.PERMISSION_DENIED, "no")
    with pytest.raises(EngineRequestError):
        await engine.start_or_correlate("m", "k", {})


# --- what needs Operate --------------------------------------------------------------------------


async def test_incidents_and_instances_need_operate(engine: ZeebeEngine) -> None:
    incident = Incident("1", "2", "Task", "failedJob", "boom", "now", task_id="3")
    with pytest.raises(EngineRequestError, match="not available without Operate"):
        await engine.incidents()
    with pytest.raises(EngineRequestError, match="not available without Operate"):
        await engine.incidents("2")
    with pytest.raises(EngineRequestError, match="not available without Operate"):
        await engine.retry_incident(incident)
    with pytest.raises(EngineRequestError, match="not available without Operate") as caught:
        await engine.instance("2")
    assert "REVIEWFLOW_OPERATE_URL" in str(caught.value)


@pytest.fixture
def zeebe_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (
        "ZEEBE_CLIENT_ID",
        "ZEEBE_CLIENT_SECRET",
        "ZEEBE_AUTHORIZATION_SERVER_URL",
        "ZEEBE_TOKEN_AUDIENCE",
        "ZEEBE_SECURE",
        "REVIEWFLOW_OPERATE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


async def test_operator_url_links_to_operate_when_configured(
    zeebe_env: pytest.MonkeyPatch, gateway: FakeGateway
) -> None:
    zeebe_env.setenv("ZEEBE_ADDRESS", gateway.address)
    zeebe_env.setenv("REVIEWFLOW_OPERATE_URL", "https://camunda.example/operate/")
    engine = zeebe_engine()
    try:
        assert engine.operator_url("2251799813685301") == (
            "https://camunda.example/operate/processes/2251799813685301"
        )
        with pytest.raises(EngineRequestError, match=r"camunda\.example/operate/processes/7"):
            await engine.instance("7")
        # the adapter from the environment talks to the gateway
        await engine.start_or_correlate("m", "k", {})
        assert len(gateway.requests("PublishMessage")) == 1
    finally:
        await engine.aclose()


async def test_operator_url_is_none_without_operate(
    zeebe_env: pytest.MonkeyPatch, gateway: FakeGateway
) -> None:
    zeebe_env.setenv("ZEEBE_ADDRESS", gateway.address)
    zeebe_env.setenv("REVIEWFLOW_OPERATE_URL", "  ")
    engine = zeebe_engine()
    try:
        assert engine.operator_url("2251799813685301") is None
    finally:
        await engine.aclose()


def test_zeebe_engine_needs_an_address(zeebe_env: pytest.MonkeyPatch) -> None:
    zeebe_env.delenv("ZEEBE_ADDRESS", raising=False)
    with pytest.raises(ValueError, match="ZEEBE_ADDRESS"):
        zeebe_engine()


async def test_open_engines_picks_the_adapter_for_zeebe_address(
    zeebe_env: pytest.MonkeyPatch,
) -> None:
    from reviewflow.engine.connect import open_engines

    zeebe_env.setenv("ZEEBE_ADDRESS", "zeebe.example:26500")

    def never() -> tuple[str, str]:
        raise AssertionError("nothing local starts when ZEEBE_ADDRESS is set")

    [engine] = open_engines(never)
    assert isinstance(engine, ZeebeEngine)
    assert engine.address == "zeebe.example:26500"
    await engine.aclose()  # no channel was opened


# --- the worker loop through the adapter ---------------------------------------------------------


async def test_task_poller_serves_jobs_end_to_end(
    gateway: FakeGateway, engine: ZeebeEngine
) -> None:
    async def double(task: ExternalTask, _engine: Any) -> dict[str, Any]:
        await asyncio.sleep(0.25)  # longer than the lock: the poller extends it
        return {"doubled": task.variables["n"] * 2, "by": task.business_key}

    async def broken(task: ExternalTask, _engine: Any) -> dict[str, Any]:
        raise RuntimeError("the stage failed")

    async def refused(task: ExternalTask, _engine: Any) -> dict[str, Any]:
        raise BusinessError("Err_Closed", "the PR is closed")

    specs = [
        TaskSpec("rf.double", ("n",), double, lock_ms=150),
        TaskSpec("rf.broken", ("n",), broken, lock_ms=30_000),
        TaskSpec("rf.refused", ("n",), refused, lock_ms=30_000),
    ]
    poller = TaskPoller(engine, specs, concurrency=4, wait_ms=300, worker="poller-test")
    stop = asyncio.Event()
    running = asyncio.create_task(poller.run(stop))
    try:
        ok = await gateway.enqueue_job("rf.double", {"n": 21, "businessKey": "o/r#9"})
        bad = await gateway.enqueue_job("rf.broken", {"n": 1}, retries=3)
        no = await gateway.enqueue_job("rf.refused", {"n": 1})

        how, request = await gateway.wait_finished(ok)
        assert how == "completed"
        variables = json.loads(request.variables)
        assert variables.pop("processInstanceKey")  # added by the adapter on every completion
        assert variables == {"doubled": 42, "by": "o/r#9"}
        assert [r.jobKey for r in gateway.requests("UpdateJobTimeout")][:1] == [ok]

        how, request = await gateway.wait_finished(no)
        assert (how, request.errorCode, request.errorMessage) == (
            "error",
            "Err_Closed",
            "the PR is closed",
        )

        deadline = time.monotonic() + 5
        while not gateway.requests("FailJob"):
            assert time.monotonic() < deadline, "the failing job was never failed"
            await asyncio.sleep(0.01)
        [failure] = gateway.requests("FailJob")
        assert failure.jobKey == bad
        assert failure.retries == 2  # one fewer than the job had
        assert failure.retryBackOff > 0
        assert failure.errorMessage.startswith("RuntimeError: the stage failed")
    finally:
        stop.set()
        await asyncio.wait_for(running, 5)
