"""Run worker processes: ``light`` (the light stages), ``heavy`` (the heavy branches), or both.

Each job type is its own router, so a deployment can scale them apart:
``reviewflow worker light --only reviewflow.fetch-changed-files``. A worker serves every
engine node it is given (a cluster has several): one poller per node and group; calls other
than polls fail over to another node (:class:`~reviewflow.engine.operaton.OperatonCluster`).
"""

import asyncio
import logging
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from reviewflow.engine.operaton import clustered
from reviewflow.engine.port import EnginePort
from shared.git.factory import close_connections
from workers.heavy import ROUTER_FACTORIES
from workers.heavy.runtime import HeavyRuntime
from workers.light import ROUTERS
from workers.poller import TaskPoller, worker_id
from workers.runtime import Router, TaskSpec, current_settings

logger = logging.getLogger("reviewflow.workers")


def select(routers: Sequence[Router], only: set[str] | None) -> list[TaskSpec]:
    return [s for r in routers for s in r.specs if only is None or s.topic in only]


async def run_workers(
    engines: Sequence[EnginePort],
    groups: set[str],
    only: set[str] | None = None,
    stop: asyncio.Event | None = None,
    skip_heavy: set[str] | None = None,
    poll_wait_ms: int | None = None,
) -> None:
    """Serve the selected job types until ``stop`` is set (or forever). Several Operaton
    nodes become views of one cluster: each poller polls its node, and completes, failures,
    lock extensions and the heavy branches' results fail over to another node when theirs is
    unreachable. A stop waits for the long polls in flight (at most ``poll_wait_ms``, default
    the settings' ``poll_wait_ms``) and hands back what they bring."""
    engines = clustered(engines)
    worker_settings = current_settings()
    wait_ms = worker_settings.poll_wait_ms if poll_wait_ms is None else poll_wait_ms
    stop = stop or asyncio.Event()
    pollers: list[TaskPoller] = []
    runtime: HeavyRuntime | None = None
    pool: ProcessPoolExecutor | None = None
    if "light" in groups:
        light = select(ROUTERS, only)
        if light:
            wid = worker_id("light")
            pollers.extend(
                TaskPoller(e, light, worker_settings.light_concurrency, wait_ms, wid)
                for e in engines
            )
    if "heavy" in groups:
        # spawn, not fork: a forked child would inherit the event loop's sockets and locks
        pool = ProcessPoolExecutor(
            max_workers=max(1, min(worker_settings.heavy_concurrency, 2)),
            mp_context=multiprocessing.get_context("spawn"),
        )
        runtime = HeavyRuntime(worker_settings.heavy_concurrency, pool)
        heavy_routers = [
            factory(runtime)
            for key, factory in ROUTER_FACTORIES.items()
            if key not in (skip_heavy or set())
        ]
        heavy = select(heavy_routers, only)
        if heavy:
            wid = worker_id("heavy")
            # dispatch tasks complete at once, so a few slots serve many branches
            pollers.extend(TaskPoller(e, heavy, 8, wait_ms, wid) for e in engines)
    if not pollers:
        raise ValueError("no job types selected: check the group and --only")
    topics = sorted({t for p in pollers for t in p.specs})
    logger.info("serving %s on %d engine node(s)", ", ".join(topics), len(engines))
    try:
        await asyncio.gather(*(p.run(stop) for p in pollers))
    finally:
        if runtime is not None:
            await runtime.drain()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        close_connections()
