"""The engine runs a process end to end through the engine port: deploy, an external task
served by a poller, message correlation, completion; a message nothing waits for is refused
(Operaton does not buffer messages), and the instance's history reads back."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from reviewflow.engine.operaton import OperatonEngine
from reviewflow.engine.port import (
    EnginePort,
    ExternalTask,
    InstanceStatus,
    MessageNotCorrelated,
    Variables,
)
from tests.integration.conftest import EngineHandle
from workers.poller import TaskPoller
from workers.runtime import TaskSpec

SMOKE_BPMN = Path(__file__).parent / "bpmn" / "smoke.bpmn"
PROCESS_ID = "reviewflow-smoke"


@pytest.fixture
async def port(engine: EngineHandle) -> AsyncIterator[OperatonEngine]:
    client = engine.port()
    await client.deploy([SMOKE_BPMN], name="reviewflow-smoke")
    yield client
    await client.aclose()


async def wait_until_done(port: OperatonEngine, instance: str, timeout: float) -> None:
    for _ in range(int(timeout / 0.1)):
        if (await port.instance(instance)).status is not InstanceStatus.ACTIVE:
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"instance {instance} did not end in {timeout} s")


async def test_process_runs_to_completion(port: OperatonEngine) -> None:
    key = f"smoke-{uuid.uuid4().hex}"
    handled: list[str] = []
    done = asyncio.Event()

    async def smoke_task(task: ExternalTask, engine: EnginePort) -> Variables:
        handled.append(str(task.variables["key"]))
        assert task.properties.get("retries") == "3"
        done.set()
        return {"handled": True}

    spec = TaskSpec("smoke.task", ("key",), smoke_task, lock_ms=10_000)
    stop = asyncio.Event()
    poller = asyncio.create_task(TaskPoller(port, [spec], 2, 2_000, "smoke").run(stop))
    try:
        instance = await port.start_instance(PROCESS_ID, {"key": key}, business_key=key)
        await asyncio.wait_for(done.wait(), 30)
    finally:
        stop.set()
        await poller
    state = await port.instance(instance)
    assert state.status is InstanceStatus.ACTIVE, "it waits at the receive task"
    await port.correlate("smoke.done", instance, {"answer": 42, "nested": {"a": [1, 2]}})
    await wait_until_done(port, instance, 30)
    state = await port.instance(instance)
    assert handled == [key]
    assert state.business_key == key
    assert state.variables == {
        "key": key,
        "handled": True,
        "answer": 42,
        "nested": {"a": [1, 2]},
    }


async def test_a_message_nothing_waits_for_is_refused(port: OperatonEngine) -> None:
    instance = await port.start_instance(PROCESS_ID, {"key": "nobody"})
    # the instance waits in the external task, not at the receive task: not buffered
    with pytest.raises(MessageNotCorrelated):
        await port.correlate("smoke.done", instance, {"answer": 1})


async def test_rest_api_and_cockpit_answer(engine: EngineHandle) -> None:
    async with httpx.AsyncClient(timeout=10.0) as http:
        response = await http.get(f"{engine.rest_url}/engine")
        cockpit = await http.get(engine.cockpit_url.rstrip("/") + "/", follow_redirects=True)
    assert response.status_code == 200 and {"name": "default"} in response.json()
    assert cockpit.status_code == 200 and "cockpit" in cockpit.text.lower()
