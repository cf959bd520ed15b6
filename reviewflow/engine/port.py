"""The engine port: everything reviewflow asks of a BPMN engine, in one small interface.

The workers, ``reviewflow review``, the webhook ingress and the bench talk to an engine only
through :class:`EnginePort`. Two adapters implement it:

- :mod:`reviewflow.engine.operaton` (the default): Operaton's REST API (external tasks, message
  correlation, history, incidents) over an async httpx client of our own;
- :mod:`reviewflow.engine.zeebe`: a Camunda 8 cluster that a user runs under their own licence,
  through pyzeebe (chosen by ``ZEEBE_ADDRESS``).

Stage code never imports an engine client: a stage is a pure function, its worker a thin
wrapper that receives an :class:`ExternalTask` and returns variables.

Variables cross the port as plain JSON values (``None``, bool, int, float, str, list, dict).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

Variables = dict[str, Any]


class EngineUnavailable(RuntimeError):
    """The engine could not be reached or answered a server error (worth retrying)."""


class EngineRequestError(RuntimeError):
    """The engine refused a request (a client error that a retry will not fix)."""

    def __init__(self, message: str, status: int = 0, kind: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind


class MessageNotCorrelated(EngineRequestError):
    """Nothing waits for this message (for a branch result: the branch already timed out or
    was re-dispatched, so the result is stale)."""


class TaskGone(EngineRequestError):
    """The task no longer exists or is locked by another worker (its lock expired and it was
    handed out again, or it was already completed)."""


@dataclass(frozen=True)
class TopicSubscription:
    """One topic a worker serves: which variables it reads and how long it locks a task."""

    topic: str
    variables: Sequence[str] | None
    lock_duration_ms: int


@dataclass(frozen=True)
class ExternalTask:
    """A unit of work handed to a worker, locked for it until ``lock_duration_ms`` passes."""

    id: str
    topic: str
    worker_id: str
    process_instance_id: str
    activity_id: str
    business_key: str | None
    variables: Variables
    # retries left, as the last failure set them; None on the first delivery
    retries: int | None
    # extension properties of the task in the diagram (e.g. "retries", "lockDuration")
    properties: Mapping[str, str] = field(default_factory=dict)
    # the engine node that handed the task out (a cluster has several)
    node: str = ""


class StartKind(StrEnum):
    STARTED = "started"  # a new instance
    CORRELATED = "correlated"  # delivered to the instance already running for the key
    PUBLISHED = "published"  # buffered by the engine (Zeebe); which one is not known yet


@dataclass(frozen=True)
class StartResult:
    kind: StartKind
    process_instance_id: str | None


@dataclass(frozen=True)
class Incident:
    id: str
    process_instance_id: str
    activity_id: str
    type: str
    message: str
    created: str
    # the failed external task (or job) the incident is about, when there is one
    task_id: str | None = None


class InstanceStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    TERMINATED = "terminated"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class InstanceState:
    id: str
    business_key: str | None
    status: InstanceStatus
    variables: Variables
    incidents: int = 0
    ended_at: str | None = None


class EnginePort(Protocol):
    """What reviewflow needs from an engine. Every method may raise
    :class:`EngineUnavailable`; request errors raise :class:`EngineRequestError` subclasses."""

    async def deploy(self, paths: Sequence[Path], name: str = "reviewflow") -> None:
        """Deploy the diagrams (a redeploy of unchanged files creates no new version)."""

    async def start_instance(
        self, process_key: str, variables: Variables, business_key: str | None = None
    ) -> str:
        """Start an instance at the process's none start event; returns its id."""

    async def start_or_correlate(
        self, message_name: str, business_key: str, variables: Variables
    ) -> StartResult:
        """Start an instance by its message start event, or deliver the message to the
        instance running for ``business_key``. The variables are local to what the message
        starts (the new instance, or the event subprocess it triggers)."""

    async def correlate(
        self,
        message_name: str,
        process_instance_id: str,
        variables: Variables | None = None,
        correlation_keys: Mapping[str, str | int] | None = None,
    ) -> None:
        """Deliver a message to one instance, to what waits there with process variables equal
        to ``correlation_keys``. Raises :class:`MessageNotCorrelated` when nothing waits for
        it (messages are not buffered)."""

    async def fetch_and_lock(
        self,
        worker_id: str,
        subscriptions: Sequence[TopicSubscription],
        max_tasks: int,
        wait_ms: int,
    ) -> list[ExternalTask]:
        """Up to ``max_tasks`` tasks of the topics, waiting up to ``wait_ms`` for one."""

    async def complete(self, task: ExternalTask, variables: Variables) -> None:
        """Complete a task; :class:`TaskGone` when it is no longer this worker's."""

    async def fail(
        self, task: ExternalTask, message: str, details: str, retries: int, retry_timeout_ms: int
    ) -> None:
        """Record a failure; with ``retries`` 0 the engine raises an incident."""

    async def bpmn_error(
        self, task: ExternalTask, code: str, message: str, variables: Variables | None = None
    ) -> None:
        """Throw a BPMN error (an expected business outcome the diagram catches)."""

    async def extend_lock(self, task: ExternalTask, duration_ms: int) -> None:
        """Keep the task locked for ``duration_ms`` more (long work)."""

    async def release(self, task: ExternalTask) -> None:
        """Hand an unstarted task back at once (fetched while the worker was stopping), so
        another worker gets it now rather than when its lock expires."""

    async def incidents(self, process_instance_id: str | None = None) -> list[Incident]:
        """Open incidents, of one instance or all."""

    async def retry_incident(self, incident: Incident, retries: int = 1) -> None:
        """Give the failed task retries again, which resolves the incident."""

    async def instance(self, process_instance_id: str) -> InstanceState:
        """An instance's state and its (latest) variables, running or ended."""

    def operator_url(self, process_instance_id: str) -> str | None:
        """The dashboard page of an instance, when the engine has a dashboard."""

    async def aclose(self) -> None:
        """Release connections."""
