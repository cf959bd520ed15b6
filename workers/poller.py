"""The external-task loop: fetch and lock tasks from one engine node, run their handlers with
bounded concurrency, keep their locks alive while they run, and report the outcome.

- Tasks arrive at least once (a lock can expire, a worker can die): handlers are idempotent.
- A handler's exception fails the task with exponential backoff (the engine's
  ``retryTimeout``); the retries come from the task's ``retries`` extension property in the
  diagram on the first failure, and count down from there; at 0 the engine raises an incident.
- :class:`~workers.runtime.BusinessError` becomes a BPMN error the diagram catches.
- A complete that races with the engine (a push correlated at the same moment) surfaces as a
  5xx that was rolled back: the adapter retries it.
- One long poll per engine node is in flight at a time. (A second, immediate fetch after each
  completion was measured slower: bench/pipeline.py's no-op review, hop p50 16 ms against
  9 ms with the long poll alone, which the engine wakes within about a millisecond of the
  completion's commit.)
"""

import asyncio
import contextlib
import logging
import socket
import traceback
import uuid
from collections.abc import Awaitable, Sequence

from reviewflow.engine.port import (
    EnginePort,
    EngineRequestError,
    EngineUnavailable,
    ExternalTask,
    TaskGone,
    TopicSubscription,
)
from workers.runtime import DEFAULT_RETRIES, BusinessError, TaskSpec, backoff_ms, current_settings

logger = logging.getLogger("reviewflow.workers")


def worker_id(group: str) -> str:
    return f"reviewflow-{group}-{socket.gethostname()}-{uuid.uuid4().hex[:8]}"


class TaskPoller:
    """Serves ``specs`` from one engine node until :meth:`run`'s stop event is set."""

    def __init__(
        self,
        engine: EnginePort,
        specs: Sequence[TaskSpec],
        concurrency: int,
        wait_ms: int,
        worker: str,
    ) -> None:
        if not specs:
            raise ValueError("a poller needs at least one topic")
        self.engine = engine
        self.specs = {s.topic: s for s in specs}
        cap = lock_cap_ms()
        self.subscriptions = [
            TopicSubscription(s.topic, s.variables or None, min(s.lock_ms, cap)) for s in specs
        ]
        self.slots = asyncio.Semaphore(concurrency)
        self.concurrency = concurrency
        self.wait_ms = wait_ms
        self.worker = worker
        self.running: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        error_pause = 0.5
        while not stop.is_set():
            free = self.concurrency - len(self.running)
            if free <= 0:
                await asyncio.wait(self.running, return_when=asyncio.FIRST_COMPLETED)
                continue
            fetch = asyncio.ensure_future(
                self.engine.fetch_and_lock(self.worker, self.subscriptions, free, self.wait_ms)
            )
            stopper = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({fetch, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if fetch not in done:
                # stopping: let the long poll in flight end by itself (at most wait_ms) and
                # hand back what it brings. Cancelled here, it would stay pending in the
                # engine and lock the next task it finds for a worker that is gone: that
                # task would wait a whole lockDuration (a ghost lock).
                await self._release_from(fetch)
                break
            stopper.cancel()
            try:
                tasks = fetch.result()
            except (EngineUnavailable, EngineRequestError) as exc:
                logger.warning("fetching tasks failed: %s; retrying in %.1f s", exc, error_pause)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), error_pause)
                error_pause = min(error_pause * 2, 10.0)
                continue
            error_pause = 0.5
            self._spawn(tasks)
        if self.running:
            await asyncio.gather(*self.running, return_exceptions=True)

    async def _release_from(self, fetch: "asyncio.Future[list[ExternalTask]]") -> None:
        try:
            tasks = await asyncio.wait_for(fetch, self.wait_ms / 1000 + 5)
        except (TimeoutError, EngineUnavailable, EngineRequestError) as exc:
            logger.warning("the last fetch did not end cleanly while stopping: %s", exc)
            return
        for task in tasks:
            try:
                await self.engine.release(task)
            except (EngineUnavailable, EngineRequestError) as exc:
                logger.warning("handing back task %s (%s) failed: %s", task.id, task.topic, exc)

    def _spawn(self, tasks: Sequence[ExternalTask]) -> None:
        for task in tasks:
            job = asyncio.create_task(self._execute(task))
            self.running.add(job)
            job.add_done_callback(self.running.discard)

    async def _keep_locked(self, task: ExternalTask, first_ms: int, lock_ms: int) -> None:
        """Extend the lock a third of the way through, again and again while the handler
        runs: a worker that dies loses its task for at most one lock."""
        await asyncio.sleep(first_ms / 3000)
        while True:
            try:
                await self.engine.extend_lock(task, lock_ms)
            except TaskGone:
                logger.warning("task %s (%s) is no longer ours", task.id, task.topic)
                return
            except (EngineUnavailable, EngineRequestError) as exc:
                logger.warning("extending the lock of task %s failed: %s", task.id, exc)
            await asyncio.sleep(lock_ms / 3000)

    async def _execute(self, task: ExternalTask) -> None:
        spec = self.specs[task.topic]
        # the diagram's lockDuration: how long a worker that died keeps its task from others;
        # REVIEWFLOW_LOCK_MS caps it (tests and the fault suite use short locks)
        cap = lock_cap_ms()
        lock_ms = min(_int(task.properties.get("lockDuration"), spec.lock_ms), cap)
        keeper = asyncio.create_task(self._keep_locked(task, min(spec.lock_ms, cap), lock_ms))
        try:
            result = await spec.handler(task, self.engine)
        except BusinessError as exc:
            keeper.cancel()
            await self._report(self.engine.bpmn_error(task, exc.code, str(exc)), task, "error")
            return
        except Exception as exc:
            keeper.cancel()
            await self._fail(task, exc)
            return
        finally:
            keeper.cancel()
        if result is not None:
            await self._report(self.engine.complete(task, result), task, "complete")

    async def _fail(self, task: ExternalTask, exc: Exception) -> None:
        configured = _int(task.properties.get("retries"), DEFAULT_RETRIES)
        left = (configured if task.retries is None else task.retries) - 1
        delay = backoff_ms(left, current_settings().retry_backoff_ms)
        message = f"{type(exc).__name__}: {exc}"
        details = "".join(traceback.format_exception(exc))
        logger.warning(
            "task %s (%s) failed (%d retries left, next in %d ms): %s",
            task.id,
            task.topic,
            max(left, 0),
            delay,
            message[:500],
        )
        await self._report(
            self.engine.fail(task, message, details, max(left, 0), delay), task, "failure"
        )

    async def _report(self, call: Awaitable[None], task: ExternalTask, what: str) -> None:
        try:
            await call
        except TaskGone as exc:
            # the lock expired and another worker took it, or it was already reported
            logger.warning("%s of task %s (%s) refused: %s", what, task.id, task.topic, exc)
        except (EngineUnavailable, EngineRequestError) as exc:
            # the lock expires and the task is handed out again: nothing is lost
            logger.error("%s of task %s (%s) failed: %s", what, task.id, task.topic, exc)


def lock_cap_ms() -> int:
    """REVIEWFLOW_LOCK_MS, when set, caps every lock (the diagram's lockDuration and a topic's
    own): a killed worker's task comes back within it. Unset: no cap."""
    worker_settings = current_settings()
    return worker_settings.lock_ms if "lock_ms" in worker_settings.model_fields_set else 2**31 - 1


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default
