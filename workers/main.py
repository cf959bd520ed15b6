"""Run worker processes: ``light`` (the light stages), ``heavy`` (the heavy branches), or both.

Each job type is its own router, so a deployment can scale them apart:
``reviewflow worker light --only reviewflow.fetch-changed-files``.
"""

import asyncio
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import grpc
from pyzeebe import ZeebeClient, ZeebeTaskRouter, ZeebeWorker

from workers.heavy import ROUTER_FACTORIES
from workers.heavy.runtime import HeavyRuntime
from workers.light import ROUTERS
from workers.runtime import settings

logger = logging.getLogger("reviewflow.workers")


def _task_types(router: ZeebeTaskRouter) -> set[str]:
    return {task.type for task in router.tasks}


async def run_workers(
    channel: grpc.aio.Channel,
    groups: set[str],
    only: set[str] | None = None,
    stop: asyncio.Event | None = None,
    skip_heavy: set[str] | None = None,
) -> None:
    """Serve the selected job types until ``stop`` is set (or forever)."""
    worker_settings = settings()
    worker = ZeebeWorker(channel, name="reviewflow", max_connection_retries=-1, poll_retry_delay=1)
    routers: list[ZeebeTaskRouter] = []
    runtime: HeavyRuntime | None = None
    pool: ProcessPoolExecutor | None = None
    if "light" in groups:
        routers.extend(ROUTERS)
    if "heavy" in groups:
        # spawn, not fork: a forked child would inherit the gRPC channel's threads and locks
        pool = ProcessPoolExecutor(
            max_workers=max(1, min(worker_settings.heavy_concurrency, 4)),
            mp_context=multiprocessing.get_context("spawn"),
        )
        runtime = HeavyRuntime(ZeebeClient(channel), worker_settings.heavy_concurrency, pool)
        routers.extend(
            factory(runtime)
            for key, factory in ROUTER_FACTORIES.items()
            if key not in (skip_heavy or set())
        )
    for router in routers:
        if only is None or _task_types(router) & only:
            worker.include_router(router)
    logger.info("serving %s", ", ".join(sorted(t.type for t in worker.tasks)))
    work = asyncio.create_task(worker.work())
    try:
        if stop is None:
            await work
        else:
            await stop.wait()
    finally:
        await worker.stop()
        work.cancel()
        await asyncio.gather(work, return_exceptions=True)
        if runtime is not None:
            await runtime.drain()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
