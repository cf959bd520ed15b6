"""What every worker shares: routers (one per stage module), the thin wrapper that turns a
stage function into a task handler, the per-task context (git host, artifact store, event
log), retries with backoff, and how variables cross the engine port.

Nothing here knows which engine runs the process: tasks arrive as
:class:`reviewflow.engine.port.ExternalTask` and results leave as plain variables.
"""

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from reviewflow.engine.port import EnginePort, ExternalTask
from shared.artifacts import ArtifactStore
from shared.config import ReviewConfig
from shared.contract import REPORT_SKIP_JOB_TYPE, stage_by_job_type
from shared.events import EventLog, Status
from shared.git.base import GitHost
from shared.git.factory import open_host
from shared.models import BranchOutcome, ReviewTarget
from shared.paths import safe_id
from workers.settings import WorkerSettings

logger = logging.getLogger("reviewflow.workers")

Variables = dict[str, Any]
StageFunction = Callable[["StageContext", Variables], Variables]
# a handler returns the variables to complete the task with, or None when it completed the
# task itself (the heavy dispatch tasks do, before their work starts)
Handler = Callable[[ExternalTask, EnginePort], Awaitable[Variables | None]]

MAX_BACKOFF_MS = 60_000
DEFAULT_RETRIES = 3
# a structured variable longer than this goes to the artifact store; the variable holds its id
SPILL_CHARS = 2_000
ARTIFACT_REF = "$artifact"
# variables every handler reads
BASE_VARIABLES = ("reviewRunId", "reviewRound", "target")


class BusinessError(Exception):
    """An expected business outcome that the diagram catches as a BPMN error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def current_settings() -> WorkerSettings:
    """Read from the environment on every call: nothing is frozen at import."""
    return WorkerSettings()


# kept for callers that read the settings once per operation
settings = current_settings


def run_id_of(task_variables: Variables, process_instance_id: str) -> str:
    """One id per review run: the process instance (or the id the starter gave), with the
    round appended when a push during a run made the instance review again."""
    given = task_variables.get("reviewRunId")
    base = safe_id(process_instance_id if given is None else given, "reviewRunId")
    round_ = int(task_variables.get("reviewRound") or 1)
    return base if round_ <= 1 else f"{base}-r{round_}"


@dataclass
class StageContext:
    """Everything a stage body needs about the task it serves."""

    run_id: str
    target: ReviewTarget
    settings: WorkerSettings
    task_id: str
    process_instance_id: str
    review_round: int = 1

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
    def from_task(task: ExternalTask, worker_settings: WorkerSettings) -> "StageContext":
        variables = task.variables
        try:
            target = ReviewTarget.model_validate(variables["target"])
        except (KeyError, ValueError) as exc:
            raise ValueError(f"task {task.id} lacks a valid target: {exc}") from exc
        return StageContext(
            run_id=run_id_of(variables, task.process_instance_id),
            target=target,
            settings=worker_settings,
            task_id=task.id,
            process_instance_id=task.process_instance_id,
            review_round=int(variables.get("reviewRound") or 1),
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


def spill(store: ArtifactStore, run_id: str, variables: Variables) -> Variables:
    """Structured values too big for a process variable go to the artifact store; the
    variable then holds ``{"$artifact": id}``."""
    out: Variables = {}
    for name, value in variables.items():
        if isinstance(value, dict | list):
            text = json.dumps(value, separators=(",", ":"))
            if len(text) > SPILL_CHARS:
                out[name] = {ARTIFACT_REF: store.put(run_id, f"var-{name}", value)}
                continue
        out[name] = value
    return out


def unspill(store: ArtifactStore, variables: Variables) -> Variables:
    out: Variables = {}
    for name, value in variables.items():
        if isinstance(value, dict) and set(value) == {ARTIFACT_REF}:
            out[name] = store.get_raw(str(value[ARTIFACT_REF]))
        else:
            out[name] = value
    return out


@dataclass(frozen=True)
class TaskSpec:
    """One topic a worker serves."""

    topic: str
    variables: tuple[str, ...]
    handler: Handler
    lock_ms: int
    kind: str = "light"


@dataclass
class Router:
    """The tasks of one stage module (pyzeebe-style: one router per module)."""

    specs: list[TaskSpec] = field(default_factory=list)

    def add(self, spec: TaskSpec) -> None:
        self.specs.append(spec)

    @property
    def topics(self) -> set[str]:
        return {s.topic for s in self.specs}


def stage_task(
    router: Router, job_type: str, variables: Iterable[str], lock_ms: int | None = None
) -> Callable[[StageFunction], StageFunction]:
    """Register ``fn(ctx, variables) -> result variables`` as the handler of ``job_type``.

    The body runs in a thread (it does blocking git and file I/O). Progress goes to the run's
    event log; a result key ``_detail`` becomes the event's text and is not a process variable.
    """
    title = stage_title(job_type)
    fetch = tuple(sorted({*BASE_VARIABLES, *variables}))

    def decorator(fn: StageFunction) -> StageFunction:
        async def handler(task: ExternalTask, engine: EnginePort) -> Variables:
            worker_settings = current_settings()
            ctx = StageContext.from_task(task, worker_settings)
            ctx.events.emit(title, "started")
            try:
                result = await asyncio.to_thread(fn, ctx, unspill(ctx.store, dict(task.variables)))
            except BusinessError as exc:
                ctx.events.emit(title, "failed", str(exc))
                raise
            except Exception as exc:
                ctx.events.emit(title, "failed", f"{type(exc).__name__}: {exc}")
                raise
            detail = str(result.pop("_detail", ""))
            status: Status = "skipped" if result.get("proceed") is False else "completed"
            ctx.events.emit(title, status, detail)
            return spill(ctx.store, ctx.run_id, result)

        handler.__name__ = fn.__name__
        router.add(
            TaskSpec(
                topic=job_type,
                variables=fetch,
                handler=handler,
                lock_ms=lock_ms or current_settings().lock_ms,
            )
        )
        return fn

    return decorator


def branch_outcome(variables: Variables, name: str) -> BranchOutcome:
    """A heavy branch's outcome variable; missing means the branch never reported. The
    diagram marks a branch that never answered with ``{"status": "timeout"}``."""
    raw = variables.get(name)
    if raw is None:
        return BranchOutcome(status="failed", error="the branch reported no outcome")
    if isinstance(raw, str):
        raw = json.loads(raw) if raw.startswith("{") else {"status": raw}
    outcome = BranchOutcome.model_validate(raw)
    if outcome.status == "timeout" and not outcome.error:
        attempt_var = name.replace("Outcome", "Attempt")
        attempts = int(variables.get(attempt_var) or 2) - 1
        outcome = outcome.model_copy(
            update={"error": f"no result after {max(1, attempts)} attempt(s)"}
        )
    return outcome
