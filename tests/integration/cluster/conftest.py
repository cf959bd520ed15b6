"""Two Operaton nodes on one PostgreSQL, for the cluster tests.

- PostgreSQL: :class:`tests.support.postgres.PostgresServer` (initdb in a temporary directory
  under /tmp, a free loopback port, trust authentication; removed at the end).
- Two engine nodes: :class:`LocalEngine` with their own state dirs (``/tmp/rf-cluster-node*``)
  on ports 8096 and 8098 (``REVIEWFLOW_CLUSTER_PORTS`` overrides them), the same JDBC URL and
  admin password. ``LocalEngine`` sets ``OPERATON_BPM_DATABASE_TYPE=postgres`` for a PostgreSQL
  URL; the engine module runs its job executor with ``deployment-aware: false`` (models are
  deployed over REST) and creates the one-run-per-key index. The first node creates the
  schema; the second starts once it is ready (two nodes creating one schema at once collide).
- Workers: every light and heavy worker in the test's process, polling both nodes (one poller
  per node and group) through one :class:`OperatonCluster`, for the whole module.

Nothing here skips: without PostgreSQL or Java/Maven the tests fail and say what is missing.
"""

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from reviewflow.engine.java import JavaNotFoundError
from reviewflow.engine.local import EngineError, EngineStartError, LocalEngine, pid_alive
from reviewflow.engine.operaton import OperatonCluster, OperatonEngine
from reviewflow.review import deploy
from tests.support.postgres import PostgresServer, PostgresUnavailable
from workers.main import run_workers

DEFAULT_PORTS = (8096, 8098)


def cluster_ports() -> tuple[int, ...]:
    raw = os.environ.get("REVIEWFLOW_CLUSTER_PORTS", "").strip()
    if not raw:
        return DEFAULT_PORTS
    return tuple(int(p) for p in raw.split(","))


@dataclass
class Cluster:
    postgres: PostgresServer
    nodes: list[LocalEngine]
    killed: set[int] = field(default_factory=set)

    def ports(self) -> list[OperatonCluster]:
        """One client view per node of one cluster (create them inside the test's loop)."""
        engines = [OperatonEngine(n.rest_url, cockpit_url=n.cockpit_url) for n in self.nodes]
        return OperatonCluster(engines).views()

    def index_of(self, rest_url: str) -> int:
        return next(i for i, n in enumerate(self.nodes) if n.rest_url == rest_url)

    def kill(self, index: int) -> None:
        """SIGKILL the node: no shutdown hook, no goodbye to the database."""
        record = self.nodes[index].read_pid_record()
        assert record is not None and self.nodes[index].owns_process(record)
        os.kill(record.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while pid_alive(record.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pid_alive(record.pid)
        self.killed.add(index)

    def revive(self) -> None:
        """Start the nodes a test killed again (same state dir, port and database)."""
        for index in sorted(self.killed):
            _up(self.nodes[index])
        self.killed.clear()

    def psql(self, sql: str, **params: str) -> list[list[str]]:
        return self.postgres.psql(sql, **params)


def _up(node: LocalEngine) -> None:
    try:
        node.up()
    except EngineStartError as exc:
        pytest.fail(
            f"cluster node on port {node.port} did not start: {exc.reason}\n{exc.log_tail}",
            pytrace=False,
        )
    except (EngineError, JavaNotFoundError) as exc:
        pytest.fail(f"cluster node on port {node.port}: {exc}", pytrace=False)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    previous = None
    if threading.current_thread() is threading.main_thread():
        # `timeout` and CI stop pytest with SIGTERM: tear the nodes and PostgreSQL down anyway
        previous = signal.signal(signal.SIGTERM, _interrupt)
    state_dirs: list[Path] = []
    nodes: list[LocalEngine] = []
    postgres: PostgresServer | None = None
    try:
        try:
            postgres = PostgresServer()
            postgres.start()
        except PostgresUnavailable as exc:
            pytest.fail(f"no PostgreSQL for the cluster tests: {exc}", pytrace=False)
        env = {k: v for k, v in os.environ.items() if not k.startswith("REVIEWFLOW_ENGINE_")}
        env.update(
            {
                "REVIEWFLOW_ENGINE_JDBC_URL": postgres.jdbc_url,
                "REVIEWFLOW_ENGINE_DB_USER": "reviewflow",
                "REVIEWFLOW_ENGINE_DB_PASSWORD": "",
                "REVIEWFLOW_ENGINE_ADMIN_PASSWORD": secrets.token_urlsafe(18),
                "REVIEWFLOW_ENGINE_JAVA_OPTS": "-Xms128m -Xmx768m",
            }
        )
        for number, port in enumerate(cluster_ports(), start=1):
            state = Path(tempfile.mkdtemp(prefix=f"rf-cluster-node{number}-", dir="/tmp"))
            state_dirs.append(state)
            nodes.append(LocalEngine(state_dir=state, port=port, env=env))
        for node in nodes:  # one at a time: the first creates the schema
            _up(node)
        yield Cluster(postgres, nodes)
    finally:
        for node in nodes:
            with contextlib.suppress(EngineError):
                node.down()
        if postgres is not None:
            postgres.stop()
        for state in state_dirs:
            shutil.rmtree(state, ignore_errors=True)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="module")
async def nodes(cluster: Cluster) -> AsyncIterator[list[OperatonCluster]]:
    """Client views of both nodes (up: a node an earlier module killed is started again),
    with bpmn/code_review.bpmn deployed."""
    if cluster.killed:
        await asyncio.to_thread(cluster.revive)
    views = cluster.ports()
    await deploy(views[0])
    yield views
    for view in views:
        await view.aclose()


class ClusterWorkers:
    """Every light and heavy worker, polling every node, in this process, until closed."""

    def __init__(self, engines: Sequence[OperatonCluster]) -> None:
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(
            run_workers(list(engines), {"light", "heavy"}, stop=self.stop)
        )

    async def close(self) -> None:
        self.stop.set()
        await self.task


@pytest.fixture(scope="module")
async def workers(nodes: list[OperatonCluster]) -> AsyncIterator[ClusterWorkers]:
    """One set of workers for the module: a worker that stops leaves its long polls pending in
    the engine, and a task created meanwhile is locked for that gone worker until its lock
    expires (a ghost lock), which would delay the next test by a lock duration."""
    running = ClusterWorkers(nodes)
    yield running
    await running.close()
