"""The heavy side's runtime: a dispatch job is completed at once, the work runs in the
background (bounded), and its outcome, success or failure, is published as the branch's
completion message. The process instance waits in a receive task and holds no worker."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from pyzeebe import Job, ZeebeClient, ZeebeTaskRouter
from pyzeebe.errors import ZeebeBackPressureError, ZeebeGatewayUnavailableError

from reviewflow.engine.messages import publish_idempotent
from shared.contract import MESSAGE_TTL_MS, HeavyBranch, correlation_key, stage_by_job_type
from shared.models import BranchOutcome
from workers.runtime import StageContext, Variables, make_exception_handler, settings

logger = logging.getLogger("reviewflow.workers.heavy")

Work = Callable[[StageContext, Variables, int], Awaitable[BranchOutcome]]


class HeavyRuntime:
    def __init__(
        self, client: ZeebeClient, concurrency: int, pool: ProcessPoolExecutor | None = None
    ) -> None:
        self.client = client
        self.pool = pool
        self.semaphore = asyncio.Semaphore(concurrency)
        self.tasks: set[asyncio.Task[None]] = set()
        self.started: set[str] = set()

    def spawn(
        self, branch: HeavyBranch, ctx: StageContext, variables: Variables, attempt: int, work: Work
    ) -> bool:
        key = correlation_key(ctx.run_id, branch.key, attempt)
        if key in self.started:
            return False  # the same job delivered twice: the work already runs
        self.started.add(key)
        task = asyncio.get_running_loop().create_task(
            self._run(branch, ctx, variables, attempt, work, key)
        )
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return True

    async def _run(
        self,
        branch: HeavyBranch,
        ctx: StageContext,
        variables: Variables,
        attempt: int,
        work: Work,
        key: str,
    ) -> None:
        title = stage_by_job_type(branch.job_type).title.replace("Dispatch ", "")
        async with self.semaphore:
            started = time.monotonic()
            ctx.events.emit(title, "started", f"attempt {attempt}")
            try:
                outcome = await work(ctx, variables, attempt)
            except Exception as exc:  # a failure travels in the payload; it is never lost
                logger.exception("heavy branch %s of run %s failed", branch.key, ctx.run_id)
                outcome = BranchOutcome(
                    status="failed", error=f"{type(exc).__name__}: {exc}"[:1000]
                )
            outcome = outcome.model_copy(update={"seconds": round(time.monotonic() - started, 3)})
        ctx.events.emit(
            title,
            "completed" if outcome.status == "ok" else "failed",
            outcome.error or f"{outcome.items} item(s) in {outcome.seconds:.1f} s",
        )
        await self._publish(branch, key, outcome)

    async def _publish(self, branch: HeavyBranch, key: str, outcome: BranchOutcome) -> None:
        delay = 0.5
        for _ in range(12):
            try:
                await publish_idempotent(
                    self.client,
                    branch.message_name,
                    key,
                    {"outcome": outcome.model_dump(mode="json")},
                    MESSAGE_TTL_MS,
                    key,
                )
                return
            except (ZeebeBackPressureError, ZeebeGatewayUnavailableError) as exc:
                logger.warning(
                    "publishing %s for %s failed (%s); retrying in %.1f s",
                    branch.message_name,
                    key,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        logger.error(
            "gave up publishing %s for %s: the branch's timer will retry it",
            branch.message_name,
            key,
        )

    async def drain(self) -> None:
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)


def dispatch_router(runtime: HeavyRuntime, branch: HeavyBranch, work: Work) -> ZeebeTaskRouter:
    """A router whose one task hands the branch's work to the runtime and completes at once."""
    router = ZeebeTaskRouter()
    worker_settings = settings()

    async def dispatch(job: Job, **_fetched: Any) -> Variables:
        ctx = StageContext.from_job(job, worker_settings)
        attempt = int(str(job.variables.get(branch.attempt_variable) or 1))
        title = stage_by_job_type(branch.job_type).title
        fresh = runtime.spawn(branch, ctx, dict(job.variables), attempt, work)
        ctx.events.emit(
            title, "dispatched", f"attempt {attempt}" + ("" if fresh else " (duplicate job)")
        )
        return {}

    dispatch.__name__ = f"dispatch_{branch.key}"
    router.task(
        task_type=branch.job_type,
        exception_handler=make_exception_handler(worker_settings.retry_backoff_ms),
        timeout_ms=30_000,
    )(dispatch)  # type: ignore[arg-type]  # pyzeebe's ParamSpec typing rejects **kwargs
    return router
