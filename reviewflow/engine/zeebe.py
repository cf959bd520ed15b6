"""The optional Camunda 8 adapter of the engine port: a Zeebe gateway over gRPC.

For users who run their own, licensed Camunda 8 cluster (``ZEEBE_ADDRESS``); reviewflow never
downloads, bundles or starts one. pyzeebe's :class:`~pyzeebe.ZeebeClient` deploys, starts
instances and publishes messages; jobs go through the gateway stub directly
(``ActivateJobs``, ``CompleteJob``, ``FailJob``, ``ThrowError``, ``UpdateJobTimeout``), since
pyzeebe's worker owns its own loop and the port hands tasks to ours (:mod:`workers.poller`).

How the port maps onto Zeebe:

- :meth:`ZeebeEngine.deploy` deploys the Camunda 8 form of a diagram, ``camunda8/<name>``
  beside the one it is given (``bpmn/camunda8/code_review.bpmn``, generated with the Operaton
  diagram), when there is one;
- a job is an :class:`ExternalTask`: its key is the task id, its custom headers are the
  task's properties, ``retries`` is what the job has left (Zeebe counts down from the
  diagram's ``retries``; the poller fails it with one less);
- Zeebe has no business key: :meth:`ZeebeEngine.start_instance` and
  :meth:`ZeebeEngine.start_or_correlate` put it in the variable ``businessKey``, and a task
  reads it back from there;
- :meth:`ZeebeEngine.start_or_correlate` publishes the message on the business key (buffered
  for an hour; a redelivery with the same ``deliveryId`` is refused by Zeebe while buffered,
  which counts as success). Which instance it reaches is not known when it returns:
  :attr:`StartKind.PUBLISHED` without an id;
- :meth:`ZeebeEngine.correlate` publishes on the one correlation key it is given (the
  Camunda 8 diagram's branch messages correlate on the attempt's wait key), or without keys on
  the process instance key: FEEL in Zeebe 8.9 cannot read that key, so :meth:`complete` adds it
  to every job's variables as the string ``processInstanceKey`` (the AST context messages
  correlate on it). Messages are
  buffered, so a stale result is never refused (:class:`MessageNotCorrelated` is not raised):
  it lies in the buffer until its TTL and matches nothing, as its wait key is unique;
- a BPMN error carries its message also as the variable ``errorMessage`` (the diagram's error
  boundary maps it to ``configError``, as ``camunda:errorMessageVariable`` does on Operaton);
- incidents, their retry, and an instance's state and variables are not in the gateway API:
  they live in Operate's secondary storage. They raise :class:`EngineRequestError`;
  :meth:`ZeebeEngine.operator_url` links to Operate when ``REVIEWFLOW_OPERATE_URL`` is set.

Errors: UNAVAILABLE, RESOURCE_EXHAUSTED (back pressure) and the other server-side statuses
(INTERNAL, DEADLINE_EXCEEDED, CANCELLED) raise :class:`EngineUnavailable` (worth
retrying); NOT_FOUND or FAILED_PRECONDITION on a job call raise :class:`TaskGone` (completed,
failed, or never activated); everything else raises :class:`EngineRequestError`. Calls that are
harmless to repeat are first retried a few times on UNAVAILABLE and RESOURCE_EXHAUSTED (a start
only on the latter); a fetch is not (the poller has its own backoff).

Zeebe does not tie a job to the worker that activated it: a worker whose job timed out and
was handed out again can still complete it. Handlers are idempotent for that reason too.
"""

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, cast

import grpc  # type: ignore[import-untyped,unused-ignore]  # no stubs unless types-grpcio
from pyzeebe import ZeebeClient
from pyzeebe.errors import MessageAlreadyExistsError, PyZeebeError
from pyzeebe.proto.gateway_pb2 import (
    ActivatedJob,
    ActivateJobsRequest,
    CompleteJobRequest,
    FailJobRequest,
    ThrowErrorRequest,
    UpdateJobTimeoutRequest,
)
from pyzeebe.proto.gateway_pb2_grpc import GatewayStub

from reviewflow.engine.port import (
    EngineRequestError,
    EngineUnavailable,
    ExternalTask,
    Incident,
    InstanceState,
    StartKind,
    StartResult,
    TaskGone,
    TopicSubscription,
    Variables,
)
from shared import contract

logger = logging.getLogger("reviewflow.engine.zeebe")

OPERATE_URL_ENV = "REVIEWFLOW_OPERATE_URL"
BUSINESS_KEY_VARIABLE = contract.BUSINESS_KEY_VARIABLE
INSTANCE_KEY_VARIABLE = contract.INSTANCE_KEY_VARIABLE
ERROR_MESSAGE_VARIABLE = contract.ERROR_MESSAGE_VARIABLE
DELIVERY_ID_VARIABLE = "deliveryId"
# how long a published message waits in the buffer for its catch event (a start message:
# for the PR's running review to end; a branch result: for its receive task to open)
MESSAGE_TTL_MS = 3_600_000
# the gRPC deadline beyond a long poll's own timeout
POLL_MARGIN_S = 10.0
# what Zeebe keeps of a failure (the message shows in Operate's incident view)
MAX_ERROR_MESSAGE = 8_000

_RETRYABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.CANCELLED,
    }
)
# retried a few times: back pressure refuses a request before it is processed, UNAVAILABLE is
# mostly a connection that failed. Only calls that are harmless to repeat get both: job calls
# (a repeat of one that went through answers NOT_FOUND), publishes (by message id, or on a
# wait key that nothing else uses), deployments (an unchanged resource is a no-op)
_BACK_PRESSURE = frozenset({grpc.StatusCode.RESOURCE_EXHAUSTED})
_NOT_PROCESSED = frozenset({grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE})
_JOB_GONE = frozenset({grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION})

NO_OPERATE = (
    "not available without Operate: Zeebe's gateway API has no query for {what}; they are "
    "kept in Operate's secondary storage. Look in Operate"
)

ChannelFactory = Callable[[], Any]


def message_id_for(variables: Mapping[str, Any]) -> str | None:
    """A stable message id from the request's ``deliveryId`` (a webhook delivery published
    twice is one message), or None when the request has none."""
    delivery = variables.get(DELIVERY_ID_VARIABLE)
    if delivery is None or delivery == "":
        return None
    return hashlib.sha256(str(delivery).encode()).hexdigest()[:32]


def camunda8_form(path: Path) -> Path:
    """The Zeebe form of a diagram: ``camunda8/<name>`` beside it when there is one (callers
    name the Operaton diagram, bpmn/code_review.bpmn; its Zeebe twin is generated with it)."""
    twin = path.parent / "camunda8" / path.name
    return twin if path.suffix == ".bpmn" and twin.is_file() else path


def operate_link(operate_url: str | None, process_instance_id: str) -> str | None:
    """Operate's page of one process instance (e.g. ``https://host/operate``)."""
    base = (operate_url or "").strip().rstrip("/")
    if not base or not process_instance_id:
        return None
    return f"{base}/processes/{process_instance_id}"


class ZeebeEngine:
    """One Zeebe gateway. The channel is opened on first use, inside the running loop."""

    def __init__(
        self,
        channel_factory: ChannelFactory,
        *,
        address: str = "",
        operate_url: str | None = None,
        timeout_s: float = 30.0,
        attempts: int = 4,
        retry_pause_s: float = 0.2,
    ) -> None:
        self.address = address
        self.operate_url = operate_url
        self._channel_factory = channel_factory
        self._timeout_s = timeout_s
        self._attempts = max(1, attempts)
        self._retry_pause_s = retry_pause_s
        self._channel: Any = None
        self._client: ZeebeClient | None = None
        self._stub: Any = None
        # where the next fetch starts among the subscriptions (round robin)
        self._next_topic = 0

    @property
    def node(self) -> str:
        return self.address

    # --- plumbing ---------------------------------------------------------------------------

    def _open(self) -> tuple[ZeebeClient, Any]:
        if self._channel is None:
            self._channel = self._channel_factory()
            # -1: pyzeebe must never close the channel after a number of failed calls
            self._client = ZeebeClient(self._channel, max_connection_retries=-1)
            self._stub = cast(Any, GatewayStub(self._channel))
        assert self._client is not None
        return self._client, self._stub

    async def _call(
        self,
        what: str,
        call: Callable[[], Awaitable[Any]],
        *,
        job: bool = False,
        retry_on: frozenset[Any] = _NOT_PROCESSED,
    ) -> Any:
        """Make the call; a status in ``retry_on`` is retried a few times with a growing
        pause before it raises."""
        pause = self._retry_pause_s
        for attempt in range(self._attempts):
            try:
                async with asyncio.timeout(self._timeout_s):
                    return await call()
            except TimeoutError as exc:
                raise EngineUnavailable(
                    f"{what}: the gateway at {self.address or '?'} did not answer in "
                    f"{self._timeout_s:.0f} s"
                ) from exc
            except (grpc.aio.AioRpcError, PyZeebeError) as exc:
                rpc = _rpc_error(exc)
                if rpc is not None and rpc.code() in retry_on and attempt + 1 < self._attempts:
                    logger.info("%s: %s; retrying in %.2f s", what, rpc.code().name, pause)
                    await asyncio.sleep(pause)
                    pause *= 2
                    continue
                _raise_mapped(exc, what, job=job, address=self.address)
        raise AssertionError("unreachable")

    # --- deployment and instances ------------------------------------------------------------

    async def deploy(self, paths: Sequence[Path], name: str = "reviewflow") -> None:
        # Zeebe deployments have no name; a redeploy of unchanged resources is a no-op there
        paths = [camunda8_form(p) for p in paths]
        client, _ = self._open()
        await self._call(
            f"deploying {', '.join(p.name for p in paths)}",
            lambda: client.deploy_resource(*[str(p) for p in paths]),
        )

    async def start_instance(
        self, process_key: str, variables: Variables, business_key: str | None = None
    ) -> str:
        client, _ = self._open()
        values = dict(variables)
        if business_key:
            values[BUSINESS_KEY_VARIABLE] = business_key
        response = await self._call(
            f"starting {process_key}",
            lambda: client.run_process(process_key, variables=values),
            # a start whose answer was lost may have started an instance: only back pressure
            # (refused before it was processed) is retried
            retry_on=_BACK_PRESSURE,
        )
        return str(response.process_instance_key)

    async def start_or_correlate(
        self, message_name: str, business_key: str, variables: Variables
    ) -> StartResult:
        """Publish ``message_name`` on the business key: Zeebe starts an instance when none
        runs for the key, otherwise the message waits for (or reaches) the running one."""
        values = {**variables, BUSINESS_KEY_VARIABLE: business_key}
        await self._publish(
            message_name, business_key, values, message_id_for(variables), f"for {business_key}"
        )
        return StartResult(StartKind.PUBLISHED, None)

    async def correlate(
        self,
        message_name: str,
        process_instance_id: str,
        variables: Variables | None = None,
        correlation_keys: Mapping[str, str | int] | None = None,
    ) -> None:
        """Publish on the one text correlation key's value (a wait key, unique per attempt);
        without one, on the instance key (a diagram correlates such messages on a variable
        holding it). Number keys (the review round, which Operaton matches as a variable) are
        not unique across instances in Zeebe's global key space: they fall back to the
        instance key too."""
        keys = {k: v for k, v in (correlation_keys or {}).items() if isinstance(v, str)}
        if len(keys) > 1:
            raise EngineRequestError(
                f"{message_name}: a Zeebe message has one correlation key, got {sorted(keys)}",
                kind="INVALID_ARGUMENT",
            )
        key = next(iter(keys.values())) if keys else process_instance_id
        await self._publish(
            message_name, key, dict(variables or {}), None, f"to {process_instance_id} on {key}"
        )

    async def _publish(
        self,
        name: str,
        correlation_key: str,
        variables: Variables,
        message_id: str | None,
        where: str,
    ) -> None:
        client, _ = self._open()
        try:
            await self._call(
                f"publishing {name} {where}",
                lambda: client.publish_message(
                    name=name,
                    correlation_key=correlation_key,
                    variables=variables,
                    time_to_live_in_milliseconds=MESSAGE_TTL_MS,
                    message_id=message_id,
                ),
            )
        except EngineRequestError as exc:
            if exc.kind != grpc.StatusCode.ALREADY_EXISTS.name:
                raise
            # the same message (name, key, id) is still buffered: a retry or a redelivery
            logger.info("%s %s (id %s) was already published", name, where, message_id)

    # --- jobs --------------------------------------------------------------------------------

    async def fetch_and_lock(
        self,
        worker_id: str,
        subscriptions: Sequence[TopicSubscription],
        max_tasks: int,
        wait_ms: int,
    ) -> list[ExternalTask]:
        """Jobs of the subscriptions' types, at most ``max_tasks``.

        First one pass over the types without waiting (round robin, starting one type further
        on each call, so a busy type cannot starve the others). When that finds nothing, one
        long poll per type at once; the first to bring jobs ends the wait and the others are
        cancelled (jobs that the gateway activated for a poll in the instant it was cancelled
        come back when their timeout passes). Jobs beyond ``max_tasks`` (two polls answering
        at the same moment) are handed back at once without using a retry."""
        if not subscriptions or max_tasks <= 0:
            return []
        _, stub = self._open()
        count = len(subscriptions)
        start = self._next_topic % count
        self._next_topic = start + 1
        ordered = [subscriptions[(start + i) % count] for i in range(count)]

        jobs: list[tuple[TopicSubscription, ActivatedJob]] = []
        for sub in ordered:
            remaining = max_tasks - len(jobs)
            if remaining <= 0:
                break
            try:
                jobs += await self._activate(stub, worker_id, sub, remaining, -1)
            except (EngineUnavailable, EngineRequestError) as exc:
                if not jobs:
                    raise
                # keep what is already activated; the next fetch tries the rest again
                logger.warning("activating %s jobs failed: %s", sub.topic, exc)
                break
        if not jobs and wait_ms > 0:
            jobs = await self._long_poll(stub, worker_id, ordered, max_tasks, wait_ms)
        if len(jobs) > max_tasks:
            await self._hand_back(jobs[max_tasks:])
            jobs = jobs[:max_tasks]
        return [self._task(worker_id, sub, job) for sub, job in jobs]

    async def _activate(
        self, stub: Any, worker_id: str, sub: TopicSubscription, max_jobs: int, wait_ms: int
    ) -> list[tuple[TopicSubscription, ActivatedJob]]:
        fetch = [] if sub.variables is None else sorted({*sub.variables, BUSINESS_KEY_VARIABLE})
        request = ActivateJobsRequest(
            type=sub.topic,
            worker=worker_id,
            timeout=sub.lock_duration_ms,
            maxJobsToActivate=max_jobs,
            fetchVariable=fetch,
            requestTimeout=wait_ms,
        )
        deadline = max(wait_ms, 0) / 1000 + POLL_MARGIN_S
        found: list[tuple[TopicSubscription, ActivatedJob]] = []
        try:
            async with asyncio.timeout(deadline):
                async for response in stub.ActivateJobs(request, timeout=deadline):
                    found.extend((sub, job) for job in response.jobs)
        except TimeoutError as exc:
            raise EngineUnavailable(
                f"activating {sub.topic} jobs: the gateway at {self.address or '?'} did not "
                f"answer in {deadline:.0f} s"
            ) from exc
        except grpc.aio.AioRpcError as exc:
            _raise_mapped(exc, f"activating {sub.topic} jobs", job=False, address=self.address)
        return found

    async def _long_poll(
        self,
        stub: Any,
        worker_id: str,
        subscriptions: Sequence[TopicSubscription],
        max_tasks: int,
        wait_ms: int,
    ) -> list[tuple[TopicSubscription, ActivatedJob]]:
        polls = {
            asyncio.ensure_future(self._activate(stub, worker_id, sub, max_tasks, wait_ms))
            for sub in subscriptions
        }
        jobs: list[tuple[TopicSubscription, ActivatedJob]] = []
        errors: list[BaseException] = []
        pending = polls
        try:
            while pending and not jobs:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for poll in done:
                    if poll.exception() is not None:
                        errors.append(cast(BaseException, poll.exception()))
                    else:
                        jobs += poll.result()
        finally:
            for poll in pending:
                poll.cancel()
            for poll in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    # a poll that answered while being cancelled still hands over its jobs
                    jobs += await poll
        if not jobs and errors:
            raise errors[0]
        for error in errors:
            logger.warning("a long poll failed: %s", error)
        return jobs

    async def _hand_back(self, jobs: Sequence[tuple[TopicSubscription, ActivatedJob]]) -> None:
        """Make surplus jobs activatable again: a failure that keeps their retries."""
        _, stub = self._open()
        for sub, job in jobs:
            request = FailJobRequest(
                jobKey=job.key,
                retries=job.retries,
                errorMessage="handed back unstarted: the worker was at capacity",
                retryBackOff=0,
            )
            try:
                await self._call(
                    f"handing back job {job.key}",
                    functools.partial(stub.FailJob, request),
                    job=True,
                )
            except (EngineUnavailable, EngineRequestError) as exc:
                # its timeout hands it out again
                logger.warning("handing back job %s (%s) failed: %s", job.key, sub.topic, exc)

    def _task(self, worker_id: str, sub: TopicSubscription, job: ActivatedJob) -> ExternalTask:
        variables: Variables = json.loads(job.variables) if job.variables else {}
        business_key = variables.get(BUSINESS_KEY_VARIABLE)
        if sub.variables is not None and BUSINESS_KEY_VARIABLE not in sub.variables:
            variables.pop(BUSINESS_KEY_VARIABLE, None)
        headers = json.loads(job.customHeaders) if job.customHeaders else {}
        return ExternalTask(
            id=str(job.key),
            topic=job.type,
            worker_id=worker_id,
            process_instance_id=str(job.processInstanceKey),
            activity_id=job.elementId,
            business_key=None if business_key is None else str(business_key),
            variables=variables,
            retries=job.retries,
            properties={str(k): str(v) for k, v in headers.items()},
            node=self.node,
        )

    async def _job_call(self, task: ExternalTask, action: str, call: Callable[[Any], Any]) -> None:
        _, stub = self._open()
        await self._call(f"{action} of job {task.id} ({task.topic})", lambda: call(stub), job=True)

    async def complete(self, task: ExternalTask, variables: Variables) -> None:
        # the instance key as a variable: what messages correlated without keys match on
        values = {**variables, INSTANCE_KEY_VARIABLE: task.process_instance_id}
        request = CompleteJobRequest(jobKey=int(task.id), variables=_json(values))
        await self._job_call(task, "complete", lambda stub: stub.CompleteJob(request))

    async def fail(
        self, task: ExternalTask, message: str, details: str, retries: int, retry_timeout_ms: int
    ) -> None:
        # a job failure has one text: the message first, then the end of the details
        text = message[:600]
        if details:
            text += "\n\n" + details[-(MAX_ERROR_MESSAGE - len(text) - 2) :]
        request = FailJobRequest(
            jobKey=int(task.id),
            retries=max(0, retries),
            errorMessage=text,
            retryBackOff=max(0, retry_timeout_ms),
        )
        await self._job_call(task, "failure", lambda stub: stub.FailJob(request))

    async def bpmn_error(
        self, task: ExternalTask, code: str, message: str, variables: Variables | None = None
    ) -> None:
        request = ThrowErrorRequest(
            jobKey=int(task.id),
            errorCode=code,
            errorMessage=message[:MAX_ERROR_MESSAGE],
            # the catch event's output mapping reads the message from this variable
            variables=_json({ERROR_MESSAGE_VARIABLE: message, **(variables or {})}),
        )
        await self._job_call(task, "BPMN error", lambda stub: stub.ThrowError(request))

    async def extend_lock(self, task: ExternalTask, duration_ms: int) -> None:
        request = UpdateJobTimeoutRequest(jobKey=int(task.id), timeout=duration_ms)
        await self._job_call(task, "timeout update", lambda stub: stub.UpdateJobTimeout(request))

    async def release(self, task: ExternalTask) -> None:
        # Zeebe has no unlock: a failure that keeps the retries, with no backoff
        request = FailJobRequest(
            jobKey=int(task.id),
            retries=task.retries if task.retries is not None else 1,
            errorMessage="handed back unstarted: the worker was stopping",
            retryBackOff=0,
        )
        await self._job_call(task, "hand back", lambda stub: stub.FailJob(request))

    # --- operations (Operate's, not the gateway's) -------------------------------------------

    async def incidents(self, process_instance_id: str | None = None) -> list[Incident]:
        raise EngineRequestError(
            NO_OPERATE.format(what="incidents") + self._operate_hint(process_instance_id),
            kind="UNIMPLEMENTED",
        )

    async def retry_incident(self, incident: Incident, retries: int = 1) -> None:
        raise EngineRequestError(
            NO_OPERATE.format(what="incidents")
            + " and retry the incident there"
            + self._operate_hint(incident.process_instance_id),
            kind="UNIMPLEMENTED",
        )

    async def instance(self, process_instance_id: str) -> InstanceState:
        raise EngineRequestError(
            NO_OPERATE.format(what="process instances or their variables")
            + self._operate_hint(process_instance_id),
            kind="UNIMPLEMENTED",
        )

    def _operate_hint(self, process_instance_id: str | None) -> str:
        link = operate_link(self.operate_url, process_instance_id or "")
        if link:
            return f": {link}"
        if self.operate_url:
            return f": {self.operate_url.rstrip('/')}"
        return f" (set {OPERATE_URL_ENV} to link to it)"

    def operator_url(self, process_instance_id: str) -> str | None:
        return operate_link(self.operate_url, process_instance_id)

    async def aclose(self) -> None:
        channel, self._channel = self._channel, None
        self._client = self._stub = None
        if channel is not None:
            await channel.close()


def _json(variables: Mapping[str, Any]) -> str:
    try:
        return json.dumps(dict(variables), separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise EngineRequestError(f"variables are not JSON: {exc}", kind="INVALID_ARGUMENT") from exc


def _rpc_error(exc: BaseException) -> Any:
    """The gRPC error behind a pyzeebe error (pyzeebe wraps it, or raises from it)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, grpc.aio.AioRpcError):
            return current
        wrapped = getattr(current, "grpc_error", None)
        if isinstance(wrapped, grpc.aio.AioRpcError):
            return wrapped
        current = current.__cause__ or current.__context__
    return None


def _raise_mapped(exc: BaseException, what: str, *, job: bool, address: str) -> NoReturn:
    rpc = _rpc_error(exc)
    if rpc is None:
        if isinstance(exc, MessageAlreadyExistsError):
            raise EngineRequestError(f"{what}: already published", kind="ALREADY_EXISTS") from exc
        raise EngineRequestError(f"{what}: {type(exc).__name__}: {exc}") from exc
    code = rpc.code()
    details = rpc.details() or ""
    status = int(code.value[0])
    if code in _RETRYABLE:
        raise EngineUnavailable(
            f"{what}: the gateway at {address or '?'} answered {code.name}: {details}"
        ) from exc
    if job and code in _JOB_GONE:
        raise TaskGone(f"{what}: {code.name}: {details}", status, code.name) from exc
    raise EngineRequestError(f"{what}: {code.name}: {details}", status, code.name) from exc


def zeebe_engine() -> ZeebeEngine:
    """The engine port for ``ZEEBE_ADDRESS`` (OAuth and TLS from the ``ZEEBE_*`` settings)."""
    from reviewflow.engine.cluster import ClusterSettings, create_channel

    settings = ClusterSettings()
    if not settings.external:
        raise ValueError("ZEEBE_ADDRESS is not set: the Camunda 8 adapter needs a gateway")
    operate = os.environ.get(OPERATE_URL_ENV, "").strip() or None
    logger.info("Camunda 8 gateway: %s", settings.describe())
    return ZeebeEngine(
        lambda: create_channel(settings), address=settings.address(), operate_url=operate
    )
