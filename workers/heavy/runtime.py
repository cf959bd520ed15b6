"""The heavy side: a dispatch task is completed at once (with a fresh wait key that the
branch's receive task will be matched on), the work runs in the background, bounded, and its
outcome, success or failure, is correlated as the branch's completion message to its own
instance and attempt. The instance waits in a receive task and holds no worker.

- A duplicate delivery of the dispatch task cannot complete it again (the engine refuses), so
  its work never starts twice. A refused complete whose wait key is the instance's all the same
  was ours (committed, then the answer was lost with a node and the call retried elsewhere):
  its work starts.
- A result that arrives after the branch timed out (or was re-dispatched) matches nothing:
  it is recorded as stale in the run's event log, never retried forever, never lost silently.
- A worker killed mid-work loses only that attempt: the branch's timer re-dispatches it.
"""

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from reviewflow.engine.port import (
    EnginePort,
    EngineRequestError,
    EngineUnavailable,
    ExternalTask,
    MessageNotCorrelated,
    TaskGone,
)
from shared.contract import HeavyBranch, stage_by_job_type
from shared.models import BranchOutcome
from workers.runtime import (
    BASE_VARIABLES,
    Router,
    StageContext,
    TaskSpec,
    Variables,
    current_settings,
    unspill,
)

logger = logging.getLogger("reviewflow.workers.heavy")

Work = Callable[[StageContext, Variables, int], Awaitable[BranchOutcome]]
# called after the branch's own message was delivered (the AST branch hands its context on)
AfterDelivery = Callable[[EnginePort, StageContext, BranchOutcome], Awaitable[None]]

DISPATCH_LOCK_MS = 30_000
CORRELATE_ATTEMPTS = 10


@dataclass(frozen=True)
class BranchRun:
    """One attempt of a heavy branch, handed from its dispatch task to the runtime."""

    engine: EnginePort
    branch: HeavyBranch
    ctx: StageContext
    variables: Variables
    attempt: int
    wait_key: str
    work: Work
    after: AfterDelivery | None = None


class HeavyRuntime:
    def __init__(self, concurrency: int, pool: ProcessPoolExecutor | None = None) -> None:
        self.pool = pool
        self.semaphore = asyncio.Semaphore(concurrency)
        self.tasks: set[asyncio.Task[None]] = set()

    def spawn(self, run: "BranchRun") -> None:
        task = asyncio.get_running_loop().create_task(self._run(run))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    @property
    def in_flight(self) -> int:
        return len(self.tasks)

    async def _run(self, run: "BranchRun") -> None:
        engine, branch, ctx, variables = run.engine, run.branch, run.ctx, run.variables
        attempt, wait_key, work, after = run.attempt, run.wait_key, run.work, run.after
        title = branch_title(branch)
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
        delivered = await deliver(
            engine,
            branch.message_name,
            ctx,
            {branch.outcome_variable: outcome.model_dump(mode="json")},
            {branch.wait_key_variable: wait_key},
            title,
        )
        if delivered and after is not None:
            await after(engine, ctx, outcome)

    async def drain(self) -> None:
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)


def branch_title(branch: HeavyBranch) -> str:
    return stage_by_job_type(branch.job_type).title.replace("Dispatch ", "")


async def deliver(
    engine: EnginePort,
    message: str,
    ctx: StageContext,
    variables: Variables | None,
    keys: dict[str, str | int] | None,
    title: str,
    quiet: bool = False,
) -> bool:
    """Correlate ``message`` to the run's instance. False when nothing waits for it any more
    (recorded as stale) or the engine stayed unreachable (the branch's timer retries)."""
    delay = 0.5
    for _ in range(CORRELATE_ATTEMPTS):
        try:
            await engine.correlate(message, ctx.process_instance_id, variables, keys)
            return True
        except MessageNotCorrelated:
            if not quiet:
                ctx.events.emit(title, "stale", f"{message}: nothing waits for it any more")
            logger.info("%s for %s is stale (the branch moved on)", message, ctx.run_id)
            return False
        except EngineUnavailable as exc:
            logger.warning("delivering %s failed (%s); retrying in %.1f s", message, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
        except EngineRequestError as exc:
            ctx.events.emit(title, "failed", f"{message} refused: {exc}")
            logger.error("the engine refused %s for %s: %s", message, ctx.run_id, exc)
            return False
    logger.error("gave up delivering %s for %s: the branch's timer retries it", message, ctx.run_id)
    return False


async def _completed_by_us(
    engine: EnginePort, task: ExternalTask, branch: HeavyBranch, wait_key: str
) -> bool:
    """Whether the instance holds our fresh wait key, i.e. a complete of ours that was
    refused as "gone" had in fact been committed before (its answer lost with a node)."""
    try:
        state = await engine.instance(task.process_instance_id)
    except (EngineUnavailable, EngineRequestError) as exc:
        logger.warning("could not check who dispatched %s: %s", task.id, exc)
        return False
    return state.variables.get(branch.wait_key_variable) == wait_key


def dispatch_router(
    runtime: HeavyRuntime,
    branch: HeavyBranch,
    work: Work,
    variables: tuple[str, ...],
    after: AfterDelivery | None = None,
) -> Router:
    """A router whose one task completes at once and hands the branch's work to the runtime."""
    router = Router()

    async def dispatch(task: ExternalTask, engine: EnginePort) -> None:
        worker_settings = current_settings()
        ctx = StageContext.from_task(task, worker_settings)
        attempt = int(task.variables.get(branch.attempt_variable) or 1)
        wait_key = f"{ctx.run_id}:{branch.key}:{attempt}:{uuid.uuid4().hex[:12]}"
        title = stage_by_job_type(branch.job_type).title
        try:
            await engine.complete(task, {branch.wait_key_variable: wait_key})
        except TaskGone:
            if not await _completed_by_us(engine, task, branch, wait_key):
                # delivered twice: the other delivery completed it and its work runs
                ctx.events.emit(title, "dispatched", f"attempt {attempt} (duplicate delivery)")
                return None
            # our complete went through but its answer was lost (the node died after
            # committing; the call was retried or failed over and found the task gone)
            ctx.events.emit(title, "dispatched", f"attempt {attempt} (answer lost, confirmed)")
        else:
            ctx.events.emit(title, "dispatched", f"attempt {attempt}")
        values: dict[str, Any] = unspill(ctx.store, dict(task.variables))
        runtime.spawn(BranchRun(engine, branch, ctx, values, attempt, wait_key, work, after))
        return None

    dispatch.__name__ = f"dispatch_{branch.key}"
    router.add(
        TaskSpec(
            topic=branch.job_type,
            variables=tuple(sorted({*BASE_VARIABLES, branch.attempt_variable, *variables})),
            handler=dispatch,
            lock_ms=DISPATCH_LOCK_MS,
            kind="heavy",
        )
    )
    return router
