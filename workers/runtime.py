"""What every worker shares: the thin wrapper that turns a stage function into a pyzeebe task,
the retry backoff, the per-job context (git host, artifact store, event log)."""

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

from pyzeebe import Job, JobController, ZeebeTaskRouter
from pyzeebe.errors import BusinessError

from shared.artifacts import ArtifactStore
from shared.config import ReviewConfig
from shared.contract import ERROR_MESSAGE_VARIABLE, REPORT_SKIP_JOB_TYPE, stage_by_job_type
from shared.events import EventLog, Status
from shared.git.base import GitHost
from shared.git.factory import open_host
from shared.models import BranchOutcome, ReviewTarget
from shared.paths import safe_id
from workers.settings import WorkerSettings

logger = logging.getLogger("reviewflow.workers")

Variables = dict[str, Any]
StageFunction = Callable[["StageContext", Variables], Variables]

MAX_BACKOFF_MS = 60_000


@cache
def settings() -> WorkerSettings:
    return WorkerSettings()


@dataclass
class StageContext:
    """Everything a stage body needs about the job it serves."""

    run_id: str
    target: ReviewTarget
    settings: WorkerSettings
    job_key: int
    process_instance_key: int

    @cached_property
    def host(self) -> GitHost:
        return open_host(self.target, self.settings.state_dir)

    @cached_property
    def store(self) -> ArtifactStore:
        return ArtifactStore(self.settings.artifacts_dir)

    @cached_property
    def events(self) -> EventLog:
        return EventLog(self.settings.artifacts_dir, self.run_id)

    @staticmethod
    def from_job(job: Job, worker_settings: WorkerSettings) -> "StageContext":
        variables = job.variables
        try:
            run_id = safe_id(variables["reviewRunId"], "reviewRunId")
            target = ReviewTarget.model_validate(variables["target"])
        except (KeyError, ValueError) as exc:
            raise ValueError(f"job {job.key} lacks a valid reviewRunId/target: {exc}") from exc
        return StageContext(
            run_id=run_id,
            target=target,
            settings=worker_settings,
            job_key=job.key,
            process_instance_key=job.process_instance_key,
        )


def stage_title(job_type: str) -> str:
    if job_type == REPORT_SKIP_JOB_TYPE:
        return "Report why the review ended"
    return stage_by_job_type(job_type).title


def config_of(variables: Variables) -> ReviewConfig:
    return ReviewConfig.model_validate(variables["config"])


def backoff_ms(retries_left: int, base_ms: int) -> int:
    """Exponential backoff from how many retries are left (fewer left: longer wait)."""
    attempt = max(0, 5 - retries_left)
    return int(min(base_ms * 2**attempt, MAX_BACKOFF_MS))


def make_exception_handler(base_ms: int) -> Callable[[Exception, Job, JobController], Any]:
    async def handle(exc: Exception, job: Job, controller: JobController) -> None:
        if isinstance(exc, BusinessError):
            # Zeebe 8.6 gives the catching event only the variables thrown with the error
            await controller.set_error_status(
                str(exc), error_code=exc.error_code, variables={ERROR_MESSAGE_VARIABLE: str(exc)}
            )
            return
        delay = backoff_ms(job.retries, base_ms)
        # the message is what Operate shows on the incident when retries run out
        message = f"{type(exc).__name__}: {exc}"[:2000]
        logger.warning(
            "job %s of type %s failed (%s retries left, next in %d ms): %s",
            job.key,
            job.type,
            job.retries - 1,
            delay,
            message,
        )
        await controller.set_failure_status(message, retry_back_off_ms=delay)

    return handle


def stage_task(
    router: ZeebeTaskRouter,
    job_type: str,
    variables: Iterable[str],
    timeout_ms: int | None = None,
) -> Callable[[StageFunction], StageFunction]:
    """Register ``fn(ctx, variables) -> result variables`` as the task for ``job_type``.

    The body runs in a thread (it does blocking git and file I/O). Progress goes to the run's
    event log; a result key ``_detail`` becomes the event's text and is not a process variable.
    """
    title = stage_title(job_type)
    fetch = sorted({"reviewRunId", "target", *variables})
    worker_settings = settings()

    def decorator(fn: StageFunction) -> StageFunction:
        async def handler(job: Job, **_fetched: Any) -> Variables:
            ctx = StageContext.from_job(job, worker_settings)
            ctx.events.emit(title, "started")
            try:
                result = await asyncio.to_thread(fn, ctx, dict(job.variables))
            except BusinessError as exc:
                ctx.events.emit(title, "failed", str(exc))
                raise
            except Exception as exc:
                ctx.events.emit(title, "failed", f"{type(exc).__name__}: {exc}")
                raise
            detail = str(result.pop("_detail", ""))
            status: Status = "skipped" if result.get("proceed") is False else "completed"
            ctx.events.emit(title, status, detail)
            return result

        handler.__name__ = fn.__name__
        router.task(
            task_type=job_type,
            exception_handler=make_exception_handler(worker_settings.retry_backoff_ms),
            variables_to_fetch=fetch,
            timeout_ms=timeout_ms or worker_settings.light_timeout_ms,
            max_jobs_to_activate=8,
            max_running_jobs=8,
        )(handler)  # type: ignore[arg-type]  # pyzeebe's ParamSpec typing rejects **kwargs
        return fn

    return decorator


def branch_outcome(variables: Variables, name: str) -> "BranchOutcome":
    """A heavy branch's outcome variable; missing means the branch never reported."""
    raw = variables.get(name)
    if raw is None:
        return BranchOutcome(status="failed", error="the branch reported no outcome")
    return BranchOutcome.model_validate(raw)
