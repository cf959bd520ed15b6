"""The engine runs a process end to end: deploy, service task via a pyzeebe worker, message
correlation, completion; its REST API answers; duplicate message ids are harmless."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from pyzeebe import ZeebeClient, ZeebeWorker
from pyzeebe.errors import MessageAlreadyExistsError
from pyzeebe.grpc_internals.types import DeployResourceResponse

from reviewflow.engine.messages import publish_idempotent

if TYPE_CHECKING:
    from tests.integration.conftest import EngineHandle

SMOKE_BPMN = Path(__file__).parent / "bpmn" / "smoke.bpmn"
PROCESS_ID = "reviewflow-smoke"


@pytest.fixture
async def client(engine: "EngineHandle") -> AsyncIterator[ZeebeClient]:
    channel = engine.channel()
    try:
        yield ZeebeClient(channel, max_connection_retries=-1)
    finally:
        await channel.close()


async def _wait_for_event(event: asyncio.Event, timeout: float, what: str) -> None:
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except TimeoutError:
        pytest.fail(f"timed out after {timeout} s waiting for {what}")


async def test_process_runs_to_completion(engine: "EngineHandle", client: ZeebeClient) -> None:
    deployment = await client.deploy_resource(SMOKE_BPMN)
    processes = [
        d for d in deployment.deployments if isinstance(d, DeployResourceResponse.ProcessMetadata)
    ]
    assert [p.bpmn_process_id for p in processes] == [PROCESS_ID]

    key = f"smoke-{uuid.uuid4().hex}"
    handled: list[str] = []
    job_done = asyncio.Event()

    worker_channel = engine.channel()
    worker = ZeebeWorker(worker_channel, name="smoke-test", max_connection_retries=-1)

    @worker.task(task_type="smoke.task", timeout_ms=30_000)  # type: ignore[arg-type]  # pyzeebe's ParamSpec overloads
    async def smoke_task(key: str) -> dict[str, object]:
        handled.append(key)
        job_done.set()
        return {"handled": True}

    worker_run = asyncio.create_task(worker.work())
    try:
        run = asyncio.create_task(
            client.run_process_with_result(
                PROCESS_ID,
                {"key": key},
                timeout=60_000,
                variables_to_fetch=["key", "handled", "answer"],
            )
        )
        await _wait_for_event(job_done, 30, "the worker to complete smoke.task")
        assert not run.done(), "the instance must wait at the receive task for smoke.done"

        published = await publish_idempotent(
            client, "smoke.done", key, {"answer": 42}, ttl_ms=60_000, message_id=f"done-{key}"
        )
        assert published is True

        result = await asyncio.wait_for(run, 90)
    finally:
        await worker.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(worker_run, 15)
        await worker_channel.close()

    assert handled == [key]
    assert result.bpmn_process_id == PROCESS_ID
    assert result.variables == {"key": key, "handled": True, "answer": 42}


async def test_publishing_the_same_message_id_twice_is_success(client: ZeebeClient) -> None:
    key = f"dup-{uuid.uuid4().hex}"  # no instance waits on it: the message stays buffered
    message_id = f"delivery-{uuid.uuid4().hex}"

    first = await publish_idempotent(client, "smoke.unused", key, {}, 60_000, message_id)
    second = await publish_idempotent(client, "smoke.unused", key, {}, 60_000, message_id)
    other = await publish_idempotent(client, "smoke.unused", key, {}, 60_000, message_id + "-b")

    assert (first, second, other) == (True, False, True)
    # the engine really rejects the duplicate: the helper is what turns it into success
    with pytest.raises(MessageAlreadyExistsError):
        await client.publish_message(
            "smoke.unused", key, {}, time_to_live_in_milliseconds=60_000, message_id=message_id
        )


async def test_rest_topology_answers(engine: "EngineHandle") -> None:
    async with httpx.AsyncClient(timeout=10.0) as http:
        response = await http.get(f"{engine.rest_url}/v2/topology")
    assert response.status_code == 200, response.text
    topology = response.json()
    assert topology["clusterSize"] >= 1
    assert topology["brokers"], topology
    partitions = [p for broker in topology["brokers"] for p in broker["partitions"]]
    assert any(p["role"] == "leader" and p["health"] == "healthy" for p in partitions), topology
