"""Integration tests run against a real Operaton engine. Every test here is marked
``integration``.

The session fixture ``engine`` uses, in this order:

1. the engine named by ``REVIEWFLOW_ENGINE_URL`` (its REST API), when set;
2. the local engine the state directory already runs (``reviewflow engine up``);
3. otherwise it builds (first time) and starts the local engine with :class:`LocalEngine`,
   and stops it at the end of the session.

If no engine can be had the session fails with the engine log: it never skips (in CI,
``CI=true``, the engine is mandatory; locally the message says how to fix it).
"""

import asyncio
import os
import signal
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

from reviewflow.engine.connect import EngineSettings, cockpit_for, operaton_engines
from reviewflow.engine.java import JavaNotFoundError
from reviewflow.engine.local import EngineError, EngineStartError, LocalEngine
from reviewflow.engine.operaton import OperatonEngine
from reviewflow.review import deploy
from workers.main import run_workers

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.integration)


@dataclass(frozen=True)
class EngineHandle:
    rest_url: str
    cockpit_url: str
    source: str  # "external", "state-dir" or "started"
    local: LocalEngine | None = None

    def port(self) -> OperatonEngine:
        """A new client of the engine (create it inside the test's event loop)."""
        (engine,) = operaton_engines([self.rest_url], cockpit_url=self.cockpit_url)
        assert isinstance(engine, OperatonEngine)
        return engine


def _fail(reason: str, log_tail: str) -> NoReturn:
    in_ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    advice = (
        "The engine is mandatory in CI (CI=true): fix the engine, do not skip these tests."
        if in_ci
        else "Start it yourself with `reviewflow engine up` (needs Java 17+ and Maven; builds "
        "the engine/ module once), see `reviewflow engine logs`, choose a free port with "
        "REVIEWFLOW_ENGINE_PORT, or point REVIEWFLOW_ENGINE_URL at a running engine."
    )
    pytest.fail(
        f"no Operaton engine for the integration tests: {reason}\n{advice}\n"
        f"--- engine log (tail) ---\n{log_tail or '(empty)'}",
        pytrace=False,
    )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def engine() -> Iterator[EngineHandle]:
    settings = EngineSettings()
    if settings.rest_urls:
        url = settings.rest_urls[0]
        yield EngineHandle(url, settings.cockpit_url or cockpit_for(url), "external")
        return
    local = LocalEngine()
    if local.status().healthy:
        yield EngineHandle(local.rest_url, local.cockpit_url, "state-dir", local)
        return
    failure: tuple[str, str] | None = None
    try:
        result = local.up()
    except EngineStartError as exc:
        failure = (exc.reason, exc.log_tail)
    except (EngineError, JavaNotFoundError) as exc:
        earlier = local.logs(30)
        failure = (
            str(exc),
            f"(not started; log of an earlier run follows)\n{earlier}" if earlier else "",
        )
    if failure is not None:
        _fail(*failure)
    # `timeout` and CI runners stop pytest with SIGTERM, which skips fixture teardown and would
    # leave the engine running: turn it into KeyboardInterrupt, after which pytest tears down.
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield EngineHandle(local.rest_url, local.cockpit_url, "started", local)
    finally:
        if result.started:
            local.down()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="module")
async def client(engine: EngineHandle) -> AsyncIterator[OperatonEngine]:
    """A client of the engine with bpmn/code_review.bpmn deployed."""
    port = engine.port()
    await deploy(port)
    yield port
    await port.aclose()


class Workers:
    """Every light and heavy worker, in this process, until closed."""

    def __init__(self, engine: OperatonEngine, skip_heavy: set[str] | None = None) -> None:
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(
            run_workers([engine], {"light", "heavy"}, stop=self.stop, skip_heavy=skip_heavy)
        )

    async def close(self) -> None:
        self.stop.set()
        await self.task


@pytest.fixture(scope="module")
async def workers(client: OperatonEngine) -> AsyncIterator[Workers]:
    running = Workers(client)
    yield running
    await running.close()
