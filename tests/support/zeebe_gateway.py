"""An in-memory stand-in for a Zeebe gateway: the part of its gRPC protocol that
:mod:`reviewflow.engine.zeebe` uses, served by a ``grpc.aio`` server on 127.0.0.1 at a free
port, inside the test's event loop. No broker, no Camunda artifact: the protocol classes are
the Apache-2.0 ones that ship with pyzeebe (``pyzeebe.proto.gateway_pb2(_grpc)``).

What it does:

- jobs per type, enqueued by the test (:meth:`FakeGateway.enqueue_job`); ``ActivateJobs``
  hands out at most ``maxJobsToActivate``, filters ``fetchVariable``, long-polls up to
  ``requestTimeout`` (a negative one answers at once; 0 means ``default_poll_ms``), and
  hands a job out again when its timeout passes;
- ``CompleteJob``, ``FailJob`` (retries and backoff recorded; retries > 0 make the job
  activatable again after the backoff, 0 records an incident), ``ThrowError`` and
  ``UpdateJobTimeout``: NOT_FOUND for an unknown (or finished) job, FAILED_PRECONDITION for
  one that is not activated;
- ``PublishMessage``: buffered for its TTL; ALREADY_EXISTS for the same name, correlation key
  and message id while the first is buffered;
- ``DeployResource`` (a process id per BPMN resource; versions grow only when the content
  changes), ``CreateProcessInstance`` (NOT_FOUND for an undeployed process), ``Topology``;
- :meth:`FakeGateway.fail_next`: the next call of a method fails with a given status.

Every request is recorded in :attr:`FakeGateway.calls` as ``(method, request)``.
"""

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
from pyzeebe.proto import gateway_pb2 as pb
from pyzeebe.proto.gateway_pb2_grpc import GatewayServicer, add_GatewayServicer_to_server

_PROCESS_ID = re.compile(rb"<(?:\w+:)?process\b[^>]*?\bid=\"([^\"]+)\"")


@dataclass
class FakeJob:
    key: int
    type: str
    variables: dict[str, Any]
    retries: int
    custom_headers: dict[str, str]
    process_instance_key: int
    element_id: str
    # "ready" (activatable from available_at), "activated" (until deadline)
    state: str = "ready"
    available_at: float = 0.0
    deadline: float = 0.0
    worker: str = ""
    activations: int = 0


@dataclass
class BufferedMessage:
    name: str
    correlation_key: str
    message_id: str
    variables: dict[str, Any]
    expires_at: float
    key: int


@dataclass(eq=False)
class FakeGateway(GatewayServicer):
    default_poll_ms: int = 1_000
    calls: list[tuple[str, Any]] = field(default_factory=list)
    jobs: dict[int, FakeJob] = field(default_factory=dict)
    finished: dict[int, tuple[str, Any]] = field(default_factory=dict)
    incidents: list[tuple[int, str]] = field(default_factory=list)
    messages: list[BufferedMessage] = field(default_factory=list)
    deployed: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    instances: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    faults: dict[str, list[tuple[grpc.StatusCode, str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._keys = itertools.count(2251799813685249)
        self._changed = asyncio.Condition()
        self._server: grpc.aio.Server | None = None
        self.address = ""

    # --- the test's side --------------------------------------------------------------------

    async def start(self) -> str:
        server = grpc.aio.server()
        add_GatewayServicer_to_server(self, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        self._server = server
        self.address = f"127.0.0.1:{port}"
        return self.address

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(grace=0.2)
            self._server = None

    def next_key(self) -> int:
        return next(self._keys)

    async def enqueue_job(
        self,
        job_type: str,
        variables: dict[str, Any] | None = None,
        *,
        retries: int = 3,
        custom_headers: dict[str, str] | None = None,
        process_instance_key: int | None = None,
        element_id: str = "Task_Fake",
    ) -> int:
        job = FakeJob(
            key=self.next_key(),
            type=job_type,
            variables=dict(variables or {}),
            retries=retries,
            custom_headers=dict(custom_headers or {}),
            process_instance_key=process_instance_key or self.next_key(),
            element_id=element_id,
        )
        self.jobs[job.key] = job
        async with self._changed:
            self._changed.notify_all()
        return job.key

    def fail_next(self, method: str, code: grpc.StatusCode, details: str = "injected") -> None:
        self.faults.setdefault(method, []).append((code, details))

    def requests(self, method: str) -> list[Any]:
        return [request for name, request in self.calls if name == method]

    async def wait_finished(self, key: int, timeout: float = 5.0) -> tuple[str, Any]:
        deadline = time.monotonic() + timeout
        while key not in self.finished:
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {key} did not finish in {timeout} s")
            await asyncio.sleep(0.01)
        return self.finished[key]

    # --- plumbing ---------------------------------------------------------------------------

    async def _enter(self, method: str, request: Any, context: Any) -> None:
        self.calls.append((method, request))
        queued = self.faults.get(method)
        if queued:
            code, details = queued.pop(0)
            await context.abort(code, details)

    def _activatable(self, job_type: str, now: float) -> list[FakeJob]:
        return [
            job
            for job in self.jobs.values()
            if job.type == job_type
            and (
                (job.state == "ready" and job.available_at <= now)
                or (job.state == "activated" and job.deadline <= now)
            )
        ]

    async def _activated_job(self, key: int, context: Any) -> FakeJob:
        job = self.jobs.get(key)
        if job is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"Job with key '{key}' not found")
        assert job is not None
        if job.state != "activated":
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION, f"Job with key '{key}' is not activated"
            )
        return job

    def _finish(self, job: FakeJob, how: str, request: Any) -> None:
        del self.jobs[job.key]
        self.finished[job.key] = (how, request)

    # --- jobs -------------------------------------------------------------------------------

    async def ActivateJobs(
        self, request: pb.ActivateJobsRequest, context: Any
    ) -> AsyncIterator[pb.ActivateJobsResponse]:
        await self._enter("ActivateJobs", request, context)
        if not request.type or not request.worker or request.timeout < 1:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "type, worker and timeout")
        if request.maxJobsToActivate < 1:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "maxJobsToActivate < 1")
        wait_ms = request.requestTimeout or self.default_poll_ms
        deadline = time.monotonic() + max(wait_ms, 0) / 1000
        while True:
            now = time.monotonic()
            ready = self._activatable(request.type, now)[: request.maxJobsToActivate]
            if ready or now >= deadline or context.cancelled():
                break
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), min(0.05, deadline - now))
        if context.cancelled() or not ready:
            return
        fetch = set(request.fetchVariable)
        jobs = []
        for job in ready:
            job.state = "activated"
            job.deadline = time.monotonic() + request.timeout / 1000
            job.worker = request.worker
            job.activations += 1
            variables = {k: v for k, v in job.variables.items() if not fetch or k in fetch}
            jobs.append(
                pb.ActivatedJob(
                    key=job.key,
                    type=job.type,
                    processInstanceKey=job.process_instance_key,
                    bpmnProcessId="fake-process",
                    processDefinitionVersion=1,
                    processDefinitionKey=1,
                    elementId=job.element_id,
                    elementInstanceKey=job.key - 1,
                    customHeaders=json.dumps(job.custom_headers),
                    worker=request.worker,
                    retries=job.retries,
                    deadline=int(job.deadline * 1000),
                    variables=json.dumps(variables),
                )
            )
        yield pb.ActivateJobsResponse(jobs=jobs)

    async def CompleteJob(
        self, request: pb.CompleteJobRequest, context: Any
    ) -> pb.CompleteJobResponse:
        await self._enter("CompleteJob", request, context)
        job = await self._activated_job(request.jobKey, context)
        self._finish(job, "completed", request)
        return pb.CompleteJobResponse()

    async def FailJob(self, request: pb.FailJobRequest, context: Any) -> pb.FailJobResponse:
        await self._enter("FailJob", request, context)
        job = await self._activated_job(request.jobKey, context)
        job.retries = request.retries
        if request.retries > 0:
            job.state = "ready"
            job.available_at = time.monotonic() + request.retryBackOff / 1000
            async with self._changed:
                self._changed.notify_all()
        else:
            self.incidents.append((job.key, request.errorMessage))
            self._finish(job, "incident", request)
        return pb.FailJobResponse()

    async def ThrowError(
        self, request: pb.ThrowErrorRequest, context: Any
    ) -> pb.ThrowErrorResponse:
        await self._enter("ThrowError", request, context)
        job = await self._activated_job(request.jobKey, context)
        self._finish(job, "error", request)
        return pb.ThrowErrorResponse()

    async def UpdateJobTimeout(
        self, request: pb.UpdateJobTimeoutRequest, context: Any
    ) -> pb.UpdateJobTimeoutResponse:
        await self._enter("UpdateJobTimeout", request, context)
        job = await self._activated_job(request.jobKey, context)
        job.deadline = time.monotonic() + request.timeout / 1000
        return pb.UpdateJobTimeoutResponse()

    # --- messages, deployments, instances ---------------------------------------------------

    async def PublishMessage(
        self, request: pb.PublishMessageRequest, context: Any
    ) -> pb.PublishMessageResponse:
        await self._enter("PublishMessage", request, context)
        now = time.monotonic()
        self.messages = [m for m in self.messages if m.expires_at > now]
        if request.messageId and any(
            (m.name, m.correlation_key, m.message_id)
            == (request.name, request.correlationKey, request.messageId)
            for m in self.messages
        ):
            await context.abort(
                grpc.StatusCode.ALREADY_EXISTS,
                f"a message with id '{request.messageId}' was already published",
            )
        message = BufferedMessage(
            name=request.name,
            correlation_key=request.correlationKey,
            message_id=request.messageId,
            variables=json.loads(request.variables or "{}"),
            expires_at=now + request.timeToLive / 1000,
            key=self.next_key(),
        )
        self.messages.append(message)
        return pb.PublishMessageResponse(key=message.key)

    async def DeployResource(
        self, request: pb.DeployResourceRequest, context: Any
    ) -> pb.DeployResourceResponse:
        await self._enter("DeployResource", request, context)
        deployments = []
        for resource in request.resources:
            match = _PROCESS_ID.search(resource.content)
            if match is None:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, f"{resource.name}: no process"
                )
            assert match is not None
            process_id = match.group(1).decode()
            version, content = self.deployed.get(process_id, (0, b""))
            if content != resource.content:
                version += 1
                self.deployed[process_id] = (version, resource.content)
            deployments.append(
                pb.Deployment(
                    process=pb.ProcessMetadata(
                        bpmnProcessId=process_id,
                        version=version,
                        processDefinitionKey=self.next_key(),
                        resourceName=resource.name,
                    )
                )
            )
        return pb.DeployResourceResponse(key=self.next_key(), deployments=deployments)

    async def CreateProcessInstance(
        self, request: pb.CreateProcessInstanceRequest, context: Any
    ) -> pb.CreateProcessInstanceResponse:
        await self._enter("CreateProcessInstance", request, context)
        if request.bpmnProcessId not in self.deployed:
            await context.abort(
                grpc.StatusCode.NOT_FOUND,
                f"no process definition with id '{request.bpmnProcessId}' is deployed",
            )
        version, _ = self.deployed[request.bpmnProcessId]
        key = self.next_key()
        self.instances[key] = (request.bpmnProcessId, json.loads(request.variables or "{}"))
        return pb.CreateProcessInstanceResponse(
            processDefinitionKey=1,
            bpmnProcessId=request.bpmnProcessId,
            version=version,
            processInstanceKey=key,
        )

    async def Topology(self, request: pb.TopologyRequest, context: Any) -> pb.TopologyResponse:
        await self._enter("Topology", request, context)
        host, _, port = self.address.rpartition(":")
        return pb.TopologyResponse(
            brokers=[
                pb.BrokerInfo(
                    nodeId=0,
                    host=host,
                    port=int(port or 0),
                    partitions=[pb.Partition(partitionId=1)],
                    version="fake",
                )
            ],
            clusterSize=1,
            partitionsCount=1,
            replicationFactor=1,
            gatewayVersion="fake",
        )
