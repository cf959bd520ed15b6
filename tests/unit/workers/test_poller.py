"""The external-task loop against an in-memory engine: completion, retries with backoff,
BPMN errors, bounded concurrency, lock extension and a clean stop."""

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from reviewflow.engine.port import EnginePort, ExternalTask
from tests.support.fake_engine import FakeEngine, make_task
from workers.poller import TaskPoller
from workers.runtime import BusinessError, TaskSpec, Variables

HandlerFn = Callable[[ExternalTask, EnginePort], Awaitable[Variables | None]]


async def serve(
    engine: FakeEngine,
    handler: HandlerFn,
    until: Callable[[], bool],
    concurrency: int = 4,
    lock_ms: int = 20_000,
) -> None:
    spec = TaskSpec(topic="t", variables=("a",), handler=handler, lock_ms=lock_ms)
    poller = TaskPoller(engine, [spec], concurrency, wait_ms=50, worker="w")
    stop = asyncio.Event()
    run = asyncio.create_task(poller.run(stop))
    for _ in range(300):
        if until():
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(run, 5)


async def test_a_handler_result_completes_the_task() -> None:
    engine = FakeEngine()
    engine.add(make_task("t", variables={"a": 1}))

    async def handler(task: ExternalTask, port: EnginePort) -> Variables:
        return {"b": task.variables["a"] + 1}

    await serve(engine, handler, lambda: bool(engine.of("complete")))
    (complete,) = engine.of("complete")
    assert complete.args["variables"] == {"b": 2}


async def test_failures_count_down_from_the_diagrams_retries_with_growing_backoff() -> None:
    engine = FakeEngine()
    engine.add(make_task("t", "first", properties={"retries": "5"}))
    engine.add(make_task("t", "later", retries=2))

    async def handler(task: ExternalTask, port: EnginePort) -> Variables:
        raise RuntimeError("the host is down")

    await serve(engine, handler, lambda: len(engine.of("fail")) == 2)
    fails = {c.task_id: c.args for c in engine.of("fail")}
    assert fails["first"]["retries"] == 4 and fails["later"]["retries"] == 1
    assert fails["later"]["timeout"] > fails["first"]["timeout"] > 0
    assert "RuntimeError: the host is down" in fails["first"]["message"]
    assert not engine.of("complete")


async def test_the_last_failure_leaves_no_retries_so_the_engine_raises_an_incident() -> None:
    engine = FakeEngine()
    engine.add(make_task("t", retries=1))

    async def handler(task: ExternalTask, port: EnginePort) -> Variables:
        raise ValueError("still broken")

    await serve(engine, handler, lambda: bool(engine.of("fail")))
    assert engine.of("fail")[0].args["retries"] == 0


async def test_a_business_error_is_thrown_as_a_bpmn_error() -> None:
    engine = FakeEngine()
    engine.add(make_task("t"))

    async def handler(task: ExternalTask, port: EnginePort) -> Variables:
        raise BusinessError("Err_InvalidConfig", "`maxFilez`: unknown key")

    await serve(engine, handler, lambda: bool(engine.of("error")))
    (error,) = engine.of("error")
    assert error.args == {"code": "Err_InvalidConfig", "message": "`maxFilez`: unknown key"}
    assert not engine.of("fail")


async def test_concurrency_is_bounded() -> None:
    engine = FakeEngine()
    for i in range(6):
        engine.add(make_task("t", f"t{i}"))
    running = 0
    peak = 0

    async def handler(task: ExternalTask, port: EnginePort) -> Variables:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.05)
        running -= 1
        return {}

    await serve(engine, handler, lambda: len(engine.of("complete")) == 6, concurrency=2)
    assert peak == 2
    assert all(c.args["max"] <= 2 for c in engine.of("fetch"))


async def test_a_long_handler_keeps_its_task_locked() -> None:
    engine = FakeEngine()
    engine.add(make_task("t"))

    async def handler(task: ExternalTask, port: EnginePort) -> Variables:
        await asyncio.sleep(0.35)
        return {}

    await serve(engine, handler, lambda: bool(engine.of("complete")), lock_ms=300)
    extends = engine.of("extend")
    assert len(extends) >= 2 and extends[0].args == {"duration": 300}


async def test_a_refused_complete_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    engine = FakeEngine()
    engine.add(make_task("t", "taken"))
    engine.gone.add("taken")

    async def handler(task: ExternalTask, port: EnginePort) -> Variables:
        return {}

    await serve(engine, handler, lambda: bool(engine.of("complete")))
    assert "refused" in caplog.text


async def test_stop_waits_for_running_handlers() -> None:
    engine = FakeEngine()
    engine.add(make_task("t"))
    started = asyncio.Event()

    async def handler(task: ExternalTask, port: EnginePort) -> Variables:
        started.set()
        await asyncio.sleep(0.1)
        return {"done": True}

    spec = TaskSpec(topic="t", variables=(), handler=handler, lock_ms=20_000)
    poller = TaskPoller(engine, [spec], 2, wait_ms=50, worker="w")
    stop = asyncio.Event()
    run = asyncio.create_task(poller.run(stop))
    await asyncio.wait_for(started.wait(), 2)
    stop.set()
    await asyncio.wait_for(run, 2)
    assert engine.of("complete")[0].args["variables"] == {"done": True}


async def test_a_stop_lets_the_long_poll_end_and_hands_back_what_it_brings() -> None:
    """Cancelling a long poll would leave it pending in the engine, which would lock the next
    task for a worker that is gone; the poller waits for it and hands its tasks back."""
    engine = FakeEngine()
    ran: list[str] = []

    async def handler(task: ExternalTask, port: EnginePort) -> Variables:
        ran.append(task.id)
        return {}

    spec = TaskSpec(topic="t", variables=(), handler=handler, lock_ms=20_000)
    poller = TaskPoller(engine, [spec], 2, wait_ms=300, worker="w")
    stop = asyncio.Event()
    run = asyncio.create_task(poller.run(stop))
    await asyncio.sleep(0.05)  # the long poll waits
    stop.set()
    await asyncio.sleep(0.01)
    engine.add(make_task("t", "late"))  # arrives while the poller stops
    await asyncio.wait_for(run, 2)
    assert ran == []
    assert [c.task_id for c in engine.of("release")] == ["late"]


async def test_reviewflow_lock_ms_caps_the_diagrams_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    # the diagram says 20 s; the fault suite sets REVIEWFLOW_LOCK_MS so a killed worker's task
    # comes back within it
    monkeypatch.setenv("REVIEWFLOW_LOCK_MS", "300")
    engine = FakeEngine()
    engine.add(make_task("t", properties={"lockDuration": "20000"}))

    async def handler(task: ExternalTask, port: EnginePort) -> Variables:
        await asyncio.sleep(0.35)
        return {}

    await serve(engine, handler, lambda: bool(engine.of("complete")), lock_ms=20_000)
    extends = engine.of("extend")
    assert extends and all(e.args == {"duration": 300} for e in extends)


async def test_without_reviewflow_lock_ms_the_diagrams_lock_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REVIEWFLOW_LOCK_MS", raising=False)
    engine = FakeEngine()
    engine.add(make_task("t", properties={"lockDuration": "300"}))

    async def handler(task: ExternalTask, port: EnginePort) -> Variables:
        await asyncio.sleep(0.35)
        return {}

    await serve(engine, handler, lambda: bool(engine.of("complete")), lock_ms=900)
    assert engine.of("extend")[0].args == {"duration": 300}
