"""The Operaton adapter against scripted REST answers (the real engine is covered by the
integration tests): request shapes, variable encoding, and how answers map to port errors."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from reviewflow.engine.operaton import (
    MAX_STRING,
    OperatonEngine,
    decode_value,
    encode_value,
    encode_variables,
)
from reviewflow.engine.port import (
    EngineRequestError,
    EngineUnavailable,
    ExternalTask,
    InstanceStatus,
    MessageNotCorrelated,
    StartKind,
    TaskGone,
    TopicSubscription,
)

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


def engine_with(handler: Handler, **kwargs: Any) -> tuple[OperatonEngine, Recorder]:
    recorder = Recorder(handler)
    engine = OperatonEngine(
        "http://engine.test/engine-rest",
        cockpit_url="http://engine.test/operaton/app/cockpit/default",
        transport=httpx.MockTransport(recorder),
        **kwargs,
    )
    return engine, recorder


def task(**overrides: Any) -> ExternalTask:
    values: dict[str, Any] = {
        "id": "t1",
        "topic": "reviewflow.verdict",
        "worker_id": "w1",
        "process_instance_id": "p1",
        "activity_id": "Task_Verdict",
        "business_key": None,
        "variables": {},
        "retries": None,
    }
    values.update(overrides)
    return ExternalTask(**values)


def test_values_are_typed_and_structured_ones_travel_as_json_text() -> None:
    assert encode_value("a", True) == {"value": True, "type": "Boolean"}
    assert encode_value("a", 3) == {"value": 3, "type": "Integer"}
    assert encode_value("a", 2**40) == {"value": 2**40, "type": "Long"}
    assert encode_value("a", 1.5) == {"value": 1.5, "type": "Double"}
    assert encode_value("a", None) == {"value": None, "type": "Null"}
    encoded = encode_value("a", {"k": [1, "é"]})
    assert encoded["type"] == "String" and json.loads(encoded["value"]) == {"k": [1, "é"]}
    assert decode_value(encoded) == {"k": [1, "é"]}
    # plain text stays text, even when it merely looks like JSON
    assert decode_value({"type": "String", "value": "[not json"}) == "[not json"
    assert decode_value({"type": "String", "value": "plain"}) == "plain"
    assert decode_value({"type": "Long", "value": 7}) == 7


def test_a_value_too_big_for_the_engine_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"'pr' is 4001 characters.*artifact store"):
        encode_value("pr", "x" * (MAX_STRING + 1))
    with pytest.raises(TypeError, match="'x': object"):
        encode_variables({"x": object()})


async def test_start_or_correlate_starts_or_reaches_the_running_instance(tmp_path: Path) -> None:
    answers = iter(
        [
            [{"resultType": "ProcessDefinition", "processInstance": {"id": "p-new"}}],
            [{"resultType": "Execution", "execution": {"processInstanceId": "p-run"}}],
        ]
    )
    engine, rec = engine_with(
        lambda r: httpx.Response(200, json=next(answers)), lock_dir=tmp_path / "locks"
    )
    first = await engine.start_or_correlate("reviewflow.pr-event", "o/r#1", {"trigger": "opened"})
    second = await engine.start_or_correlate("reviewflow.pr-event", "o/r#1", {"trigger": "sync"})
    assert (first.kind, first.process_instance_id) == (StartKind.STARTED, "p-new")
    assert (second.kind, second.process_instance_id) == (StartKind.CORRELATED, "p-run")
    body = rec.body(0)
    assert body["businessKey"] == "o/r#1" and body["resultEnabled"] is True
    assert body["processVariablesLocal"]["trigger"] == {"value": "opened", "type": "String"}
    # never the keys that would start a second instance without a business key
    assert not {"processInstanceId", "correlationKeys", "all"} & set(body)
    assert list((tmp_path / "locks").iterdir()), "the start lock file was used"
    await engine.aclose()


async def test_a_start_race_rolled_back_as_500_is_retried() -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] < 3:
            return httpx.Response(500, json={"type": "ProcessEnginePersistenceException"})
        return httpx.Response(
            200, json=[{"resultType": "ProcessDefinition", "processInstance": {"id": "p"}}]
        )

    engine, _ = engine_with(handler)
    result = await engine.start_or_correlate("m", "o/r#2", {})
    assert result.process_instance_id == "p" and calls["n"] == 3
    await engine.aclose()


async def test_correlate_maps_a_mismatch_to_message_not_correlated() -> None:
    refusal = {
        "type": "RestException",
        "message": "org.operaton.bpm.engine.MismatchingMessageCorrelationException: "
        "Cannot correlate message 'm': No process definition or execution matches",
    }
    engine, rec = engine_with(lambda r: httpx.Response(400, json=refusal))
    with pytest.raises(MessageNotCorrelated):
        await engine.correlate("m", "p1", {"astOutcome": {"status": "ok"}}, {"astWaitKey": "k"})
    body = rec.body()
    assert body["processInstanceId"] == "p1"
    assert body["correlationKeys"] == {"astWaitKey": {"value": "k", "type": "String"}}
    assert json.loads(body["processVariables"]["astOutcome"]["value"]) == {"status": "ok"}
    await engine.aclose()


async def test_fetch_and_lock_asks_for_properties_and_decodes_variables() -> None:
    raw = [
        {
            "id": "t9",
            "topicName": "reviewflow.verdict",
            "processInstanceId": "p9",
            "activityId": "Task_Verdict",
            "businessKey": "o/r#3",
            "retries": 2,
            "variables": {
                "target": {"type": "String", "value": '{"provider":"local"}'},
                "proceed": {"type": "Boolean", "value": True},
            },
            "extensionProperties": {"retries": "5"},
        }
    ]
    engine, rec = engine_with(lambda r: httpx.Response(200, json=raw))
    tasks = await engine.fetch_and_lock(
        "w1", [TopicSubscription("reviewflow.verdict", ["target"], 20_000)], 4, 1_000
    )
    (got,) = tasks
    assert got.id == "t9" and got.retries == 2 and got.business_key == "o/r#3"
    assert got.variables == {"target": {"provider": "local"}, "proceed": True}
    assert got.properties == {"retries": "5"}
    body = rec.body()
    assert body["maxTasks"] == 4 and body["asyncResponseTimeout"] == 1_000
    assert body["topics"] == [
        {
            "topicName": "reviewflow.verdict",
            "lockDuration": 20_000,
            "includeExtensionProperties": True,
            "variables": ["target"],
        }
    ]
    await engine.aclose()


@pytest.mark.parametrize(
    ("status", "message", "error"),
    [
        (404, "External task with id t1 does not exist", TaskGone),
        (
            400,
            "External Task t1 cannot be completed by worker 'w1'. It is locked by worker 'w2'.",
            TaskGone,
        ),
        (400, "something else", EngineRequestError),
    ],
)
async def test_task_calls_map_refusals(status: int, message: str, error: type[Exception]) -> None:
    engine, _ = engine_with(lambda r: httpx.Response(status, json={"message": message}))
    with pytest.raises(error):
        await engine.complete(task(), {"verdict": "comment"})
    await engine.aclose()


async def test_failure_error_and_lock_calls_carry_the_worker_and_fields() -> None:
    engine, rec = engine_with(lambda r: httpx.Response(204))
    await engine.fail(task(), "boom", "trace", retries=2, retry_timeout_ms=800)
    await engine.bpmn_error(task(), "Err_InvalidConfig", "bad key `x`", {"a": 1})
    await engine.extend_lock(task(), 30_000)
    paths = [r.url.path for r in rec.requests]
    assert paths == [
        "/engine-rest/external-task/t1/failure",
        "/engine-rest/external-task/t1/bpmnError",
        "/engine-rest/external-task/t1/extendLock",
    ]
    assert rec.body(0) == {
        "workerId": "w1",
        "errorMessage": "boom",
        "errorDetails": "trace",
        "retries": 2,
        "retryTimeout": 800,
    }
    assert rec.body(1)["errorCode"] == "Err_InvalidConfig"
    assert rec.body(2) == {"workerId": "w1", "newDuration": 30_000}
    await engine.aclose()


async def test_an_unreachable_engine_is_engine_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    engine, rec = engine_with(refuse)
    with pytest.raises(EngineUnavailable, match="did not answer"):
        await engine.start_instance("reviewflow_code_review", {})
    assert len(rec.requests) > 1, "transport errors are retried"
    await engine.aclose()


async def test_instance_state_prefers_the_instance_scope_and_counts_incidents() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/history/process-instance/p1"):
            return httpx.Response(
                200, json={"id": "p1", "businessKey": "o/r#1", "state": "COMPLETED"}
            )
        if path.endswith("/history/variable-instance"):
            return httpx.Response(
                200,
                json=[
                    {
                        "name": "verdict",
                        "type": "String",
                        "value": "comment",
                        "activityInstanceId": "p1",
                    },
                    {
                        "name": "skipKind",
                        "type": "String",
                        "value": "local",
                        "activityInstanceId": "Task:1",
                    },
                    {
                        "name": "skipKind",
                        "type": "String",
                        "value": "top",
                        "activityInstanceId": "p1",
                    },
                ],
            )
        if path.endswith("/incident/count"):
            return httpx.Response(200, json={"count": 2})
        return httpx.Response(404, json={"message": path})

    engine, _ = engine_with(handler)
    state = await engine.instance("p1")
    assert state.status is InstanceStatus.COMPLETED and state.business_key == "o/r#1"
    assert state.variables == {"verdict": "comment", "skipKind": "top"}
    assert state.incidents == 2
    assert engine.operator_url("p1") == (
        "http://engine.test/operaton/app/cockpit/default/#/review/p1"
    )
    await engine.aclose()


async def test_incidents_and_their_retry() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(
                200,
                json=[
                    {
                        "id": "i1",
                        "processInstanceId": "p1",
                        "activityId": "Task_Verdict",
                        "incidentType": "failedExternalTask",
                        "incidentMessage": "RuntimeError: boom",
                        "incidentTimestamp": "2026-11-30T00:00:00.000+0000",
                        "configuration": "t1",
                    }
                ],
            )
        return httpx.Response(204)

    engine, rec = engine_with(handler)
    (incident,) = await engine.incidents("p1")
    assert incident.task_id == "t1" and incident.message == "RuntimeError: boom"
    await engine.retry_incident(incident, retries=2)
    assert rec.requests[-1].method == "PUT"
    assert rec.requests[-1].url.path == "/engine-rest/external-task/t1/retries"
    assert rec.body() == {"retries": 2}
    await engine.aclose()
