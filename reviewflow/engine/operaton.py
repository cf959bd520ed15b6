"""The Operaton adapter of the engine port: a small async client of Operaton's REST API.

Why our own client: the Python clients on PyPI are synchronous (requests) and lock tasks for
300 s by default; the REST surface we need is a dozen endpoints (external tasks, messages,
deployments, history, incidents).

Variables: Operaton has no JSON variable type without the Spin plugin (not on Maven Central),
so structured values (dicts, lists) travel as JSON text in ``String`` variables, which the
dashboard shows as is, and are decoded on the way back. A ``String`` variable holds at most
4,000 characters; the workers keep big values in the artifact store and pass ids.

Facts this client is built on (measured, see the notes): messages are not buffered (a
correlation when nothing waits is a 400 ``MismatchingMessageCorrelationException``); a
start-or-correlate race may surface as a 500 that was fully rolled back, so starts and
completions are retried on 5xx; a long poll that waits for tasks is woken by a task created on
the same node.
"""

import asyncio
import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from reviewflow.engine.port import (
    EngineRequestError,
    EngineUnavailable,
    ExternalTask,
    Incident,
    InstanceState,
    InstanceStatus,
    MessageNotCorrelated,
    StartKind,
    StartResult,
    TaskGone,
    TopicSubscription,
    Variables,
)

logger = logging.getLogger("reviewflow.engine.operaton")

MAX_STRING = 4000
_INT32 = 2**31
# a 5xx is retried this many times with a growing pause (races between a push and the end of
# a run are rolled back and surface as 500 on one side)
SERVER_ERROR_RETRIES = 6

_STATES = {
    "ACTIVE": InstanceStatus.ACTIVE,
    "SUSPENDED": InstanceStatus.ACTIVE,
    "COMPLETED": InstanceStatus.COMPLETED,
    "EXTERNALLY_TERMINATED": InstanceStatus.TERMINATED,
    "INTERNALLY_TERMINATED": InstanceStatus.TERMINATED,
}


def encode_value(name: str, value: Any) -> dict[str, Any]:
    """A Python value as an Operaton typed value."""
    if value is None:
        return {"value": None, "type": "Null"}
    if isinstance(value, bool):
        return {"value": value, "type": "Boolean"}
    if isinstance(value, int):
        return {"value": value, "type": "Integer" if -_INT32 <= value < _INT32 else "Long"}
    if isinstance(value, float):
        return {"value": value, "type": "Double"}
    if isinstance(value, str):
        text = value
    elif isinstance(value, dict | list | tuple):
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    else:
        raise TypeError(f"variable {name!r}: {type(value).__name__} is not a JSON value")
    if len(text) > MAX_STRING:
        raise ValueError(
            f"variable {name!r} is {len(text)} characters; the engine stores at most "
            f"{MAX_STRING}: keep it in the artifact store and pass its id"
        )
    return {"value": text, "type": "String"}


def encode_variables(variables: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: encode_value(name, value) for name, value in variables.items()}


def decode_value(raw: Mapping[str, Any]) -> Any:
    value = raw.get("value")
    if (
        raw.get("type") == "String"
        and isinstance(value, str)
        and len(value) >= 2
        and (value[0], value[-1]) in (("{", "}"), ("[", "]"))
    ):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def decode_variables(raw: Mapping[str, Mapping[str, Any]] | None) -> Variables:
    return {name: decode_value(value) for name, value in (raw or {}).items()}


class _StartLock:
    """Serialises start-or-correlate calls for one business key across the processes of one
    machine (the single-node default: concurrent calls could otherwise start duplicates)."""

    def __init__(self, directory: Path, key: str) -> None:
        digest = hashlib.sha256(key.encode()).hexdigest()[:24]
        self.path = directory / f"start-{digest}.lock"
        self.fd = -1

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def release(self) -> None:
        if self.fd >= 0:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = -1


class OperatonEngine:
    """One Operaton node's REST API (``.../engine-rest``)."""

    def __init__(
        self,
        rest_url: str,
        *,
        cockpit_url: str | None = None,
        auth: tuple[str, str] | None = None,
        lock_dir: Path | None = None,
        timeout_s: float = 30.0,
        max_connections: int = 64,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.rest_url = rest_url.rstrip("/")
        self.cockpit_url = (cockpit_url or "").rstrip("/") or None
        self.lock_dir = lock_dir
        self._timeout_s = timeout_s
        self._client = httpx.AsyncClient(
            base_url=self.rest_url,
            auth=auth,
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            transport=transport,
        )

    @property
    def node(self) -> str:
        return self.rest_url

    # --- plumbing ---------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        files: Any = None,
        data: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
        retry_server_errors: bool = True,
    ) -> httpx.Response:
        attempts = SERVER_ERROR_RETRIES if retry_server_errors else 1
        delay = 0.05
        for attempt in range(attempts):
            try:
                response = await self._client.request(
                    method,
                    path,
                    json=json_body,
                    params=params,
                    files=files,
                    data=data,
                    timeout=timeout_s if timeout_s is not None else self._timeout_s,
                )
            except httpx.TransportError as exc:
                if attempt + 1 >= attempts:
                    raise EngineUnavailable(
                        f"{method} {path}: the engine at {self.rest_url} did not answer "
                        f"({type(exc).__name__})"
                    ) from exc
            else:
                if response.status_code < 500:
                    return response
                if attempt + 1 >= attempts:
                    raise EngineUnavailable(
                        f"{method} {path}: the engine answered {response.status_code}: "
                        f"{_error_text(response)}"
                    )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
        raise AssertionError("unreachable")

    @staticmethod
    def _refused(response: httpx.Response, what: str) -> EngineRequestError:
        text = _error_text(response)
        kind = _error_kind(response)
        if response.status_code == 404 or "locked by worker" in text or "does not exist" in text:
            return TaskGone(f"{what}: {text}", response.status_code, kind)
        if "MismatchingMessageCorrelation" in text:
            return MessageNotCorrelated(f"{what}: {text}", response.status_code, kind)
        return EngineRequestError(
            f"{what}: the engine answered {response.status_code}: {text}",
            response.status_code,
            kind,
        )

    # --- deployment and instances ------------------------------------------------------------

    async def deploy(self, paths: Sequence[Path], name: str = "reviewflow") -> None:
        files = [("data", (p.name, p.read_bytes(), "application/octet-stream")) for p in paths]
        response = await self._request(
            "POST",
            "/deployment/create",
            files=files,
            data={
                "deployment-name": name,
                "enable-duplicate-filtering": "true",
                "deploy-changed-only": "true",
                "deployment-source": "reviewflow",
            },
        )
        if response.status_code != 200:
            raise self._refused(response, f"deploying {', '.join(p.name for p in paths)}")

    async def start_instance(
        self, process_key: str, variables: Variables, business_key: str | None = None
    ) -> str:
        body: dict[str, Any] = {"variables": encode_variables(variables)}
        if business_key:
            body["businessKey"] = business_key
        response = await self._request(
            "POST", f"/process-definition/key/{process_key}/start", json_body=body
        )
        if response.status_code != 200:
            raise self._refused(response, f"starting {process_key}")
        return str(response.json()["id"])

    async def start_or_correlate(
        self, message_name: str, business_key: str, variables: Variables
    ) -> StartResult:
        # never add processInstanceId, correlationKeys or all=true here: a mismatch would
        # start a second instance without a business key (see the engine notes)
        body = {
            "messageName": message_name,
            "businessKey": business_key,
            "processVariablesLocal": encode_variables(variables),
            "resultEnabled": True,
        }
        lock = _StartLock(self.lock_dir, business_key) if self.lock_dir else None
        if lock is not None:
            await asyncio.to_thread(lock.acquire)
        try:
            response = await self._request("POST", "/message", json_body=body)
        finally:
            if lock is not None:
                lock.release()
        if response.status_code != 200:
            raise self._refused(response, f"delivering {message_name} for {business_key}")
        results = response.json()
        if not results:
            raise EngineRequestError(f"{message_name} for {business_key} reached nothing")
        first = results[0]
        if first.get("resultType") == "ProcessDefinition":
            instance = first.get("processInstance") or {}
            return StartResult(StartKind.STARTED, str(instance.get("id")))
        execution = first.get("execution") or {}
        return StartResult(StartKind.CORRELATED, str(execution.get("processInstanceId")))

    async def correlate(
        self,
        message_name: str,
        process_instance_id: str,
        variables: Variables | None = None,
        correlation_keys: Mapping[str, str | int] | None = None,
    ) -> None:
        body: dict[str, Any] = {
            "messageName": message_name,
            "processInstanceId": process_instance_id,
            "resultEnabled": True,
        }
        if variables:
            body["processVariables"] = encode_variables(variables)
        if correlation_keys:
            # numbers the diagram computes (JUEL) are Long: match them as Long
            body["correlationKeys"] = {
                name: {"value": value, "type": "Long"}
                if isinstance(value, int) and not isinstance(value, bool)
                else encode_value(name, value)
                for name, value in correlation_keys.items()
            }
        response = await self._request("POST", "/message", json_body=body)
        if response.status_code != 200:
            raise self._refused(response, f"delivering {message_name} to {process_instance_id}")

    # --- external tasks ----------------------------------------------------------------------

    async def fetch_and_lock(
        self,
        worker_id: str,
        subscriptions: Sequence[TopicSubscription],
        max_tasks: int,
        wait_ms: int,
    ) -> list[ExternalTask]:
        topics = []
        for sub in subscriptions:
            topic: dict[str, Any] = {
                "topicName": sub.topic,
                "lockDuration": sub.lock_duration_ms,
                "includeExtensionProperties": True,
            }
            if sub.variables is not None:
                topic["variables"] = list(sub.variables)
            topics.append(topic)
        body = {
            "workerId": worker_id,
            "maxTasks": max_tasks,
            "usePriority": False,
            "asyncResponseTimeout": wait_ms,
            "topics": topics,
        }
        response = await self._request(
            "POST",
            "/external-task/fetchAndLock",
            json_body=body,
            timeout_s=self._timeout_s + wait_ms / 1000,
            retry_server_errors=False,
        )
        if response.status_code != 200:
            raise self._refused(response, "fetching tasks")
        return [
            ExternalTask(
                id=str(raw["id"]),
                topic=str(raw["topicName"]),
                worker_id=worker_id,
                process_instance_id=str(raw["processInstanceId"]),
                activity_id=str(raw.get("activityId") or ""),
                business_key=raw.get("businessKey"),
                variables=decode_variables(raw.get("variables")),
                retries=raw.get("retries"),
                properties=dict(raw.get("extensionProperties") or {}),
                node=self.node,
            )
            for raw in response.json()
        ]

    async def _task_call(self, task: ExternalTask, action: str, body: dict[str, Any]) -> None:
        body = {"workerId": task.worker_id, **body}
        response = await self._request("POST", f"/external-task/{task.id}/{action}", json_body=body)
        if response.status_code not in (200, 204):
            raise self._refused(response, f"{action} of task {task.id} ({task.topic})")

    async def complete(self, task: ExternalTask, variables: Variables) -> None:
        await self._task_call(task, "complete", {"variables": encode_variables(variables)})

    async def fail(
        self, task: ExternalTask, message: str, details: str, retries: int, retry_timeout_ms: int
    ) -> None:
        await self._task_call(
            task,
            "failure",
            {
                "errorMessage": message[:600],
                "errorDetails": details[:20_000],
                "retries": max(0, retries),
                "retryTimeout": max(0, retry_timeout_ms),
            },
        )

    async def bpmn_error(
        self, task: ExternalTask, code: str, message: str, variables: Variables | None = None
    ) -> None:
        await self._task_call(
            task,
            "bpmnError",
            {
                "errorCode": code,
                "errorMessage": message[:MAX_STRING],
                "variables": encode_variables(variables or {}),
            },
        )

    async def extend_lock(self, task: ExternalTask, duration_ms: int) -> None:
        await self._task_call(task, "extendLock", {"newDuration": duration_ms})

    async def release(self, task: ExternalTask) -> None:
        response = await self._request("POST", f"/external-task/{task.id}/unlock")
        if response.status_code not in (200, 204):
            raise self._refused(response, f"unlock of task {task.id} ({task.topic})")

    # --- operations --------------------------------------------------------------------------

    async def incidents(self, process_instance_id: str | None = None) -> list[Incident]:
        params = {"processInstanceId": process_instance_id} if process_instance_id else None
        response = await self._request("GET", "/incident", params=params)
        if response.status_code != 200:
            raise self._refused(response, "listing incidents")
        return [
            Incident(
                id=str(raw["id"]),
                process_instance_id=str(raw.get("processInstanceId") or ""),
                activity_id=str(raw.get("activityId") or ""),
                type=str(raw.get("incidentType") or ""),
                message=str(raw.get("incidentMessage") or ""),
                created=str(raw.get("incidentTimestamp") or ""),
                task_id=raw.get("configuration")
                if raw.get("incidentType") == "failedExternalTask"
                else None,
            )
            for raw in response.json()
        ]

    async def retry_incident(self, incident: Incident, retries: int = 1) -> None:
        if incident.task_id is None:
            raise EngineRequestError(
                f"incident {incident.id} ({incident.type}) is not about an external task"
            )
        response = await self._request(
            "PUT", f"/external-task/{incident.task_id}/retries", json_body={"retries": retries}
        )
        if response.status_code not in (200, 204):
            raise self._refused(response, f"retrying incident {incident.id}")

    async def instance(self, process_instance_id: str) -> InstanceState:
        response = await self._request("GET", f"/history/process-instance/{process_instance_id}")
        if response.status_code != 200:
            raise self._refused(response, f"reading instance {process_instance_id}")
        info = response.json()
        variables_response = await self._request(
            "GET",
            "/history/variable-instance",
            params={"processInstanceId": process_instance_id, "deserializeValues": "false"},
        )
        if variables_response.status_code != 200:
            raise self._refused(variables_response, f"reading variables of {process_instance_id}")
        variables: Variables = {}
        # the instance's own scope wins over a local variable of the same name elsewhere
        for raw in sorted(
            variables_response.json(),
            key=lambda r: r.get("activityInstanceId") == process_instance_id,
        ):
            variables[str(raw["name"])] = decode_value(raw)
        count = await self._request(
            "GET", "/incident/count", params={"processInstanceId": process_instance_id}
        )
        incidents = int(count.json().get("count", 0)) if count.status_code == 200 else 0
        return InstanceState(
            id=process_instance_id,
            business_key=info.get("businessKey"),
            status=_STATES.get(str(info.get("state")), InstanceStatus.UNKNOWN),
            variables=variables,
            incidents=incidents,
            ended_at=info.get("endTime"),
        )

    async def instances_by_business_key(self, process_key: str, business_key: str) -> list[str]:
        """Ids of the instances (running or ended) of a process for one business key."""
        response = await self._request(
            "GET",
            "/history/process-instance",
            params={
                "processDefinitionKey": process_key,
                "processInstanceBusinessKey": business_key,
            },
        )
        if response.status_code != 200:
            raise self._refused(response, f"listing instances of {business_key}")
        return [str(raw["id"]) for raw in response.json()]

    def operator_url(self, process_instance_id: str) -> str | None:
        """Cockpit's page of the review: ``<cockpit>/#/review/<id>``.

        That route is the engine module's Cockpit plugin (engine/, ``ReviewCockpitPlugin``). The
        community Cockpit's own ``#/process-instance/<id>/runtime`` covers running instances
        only (a finished one redirects to the definition, whose instance list is runtime-only
        too), while the plugin's page reads the history API: it shows a review running or
        finished, and links a running one to that runtime page (incidents, retries).
        """
        if not self.cockpit_url:
            return None
        return f"{self.cockpit_url}/#/review/{quote(process_instance_id, safe='')}"

    async def aclose(self) -> None:
        await self._client.aclose()


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        return str(body.get("message") or body)[:500]
    return str(body)[:300]


def _error_kind(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("type", "")) if isinstance(body, dict) else ""


class OperatonCluster:
    """Several nodes of one Operaton cluster (one database) as one engine port, seen from one
    of them: polls go to that node only (long polling wakes on the node that created a task,
    so a worker polls every node, one view each); every other call (complete, failure, BPMN
    error, extendLock, correlate, start, reads) fails over to the other nodes when its node is
    unreachable (:class:`EngineUnavailable`, after the node's own retries). A task's calls try
    the node that handed it out first (``task.node``). A node that failed is tried last for a
    while (``down_for_s``), so calls do not wait for a dead node again and again.

    All nodes share the database, so a call that fails over does the same thing: a complete
    that the dead node committed before dying surfaces as :class:`TaskGone` on the next node
    (the poller logs it; a dispatch task's work is then not started twice but not started at
    all, and the branch's timer re-dispatches it).
    """

    def __init__(
        self,
        nodes: Sequence[OperatonEngine],
        preferred: OperatonEngine | None = None,
        *,
        down_for_s: float = 10.0,
        _down: dict[str, float] | None = None,
        _failovers: dict[str, int] | None = None,
    ) -> None:
        if not nodes:
            raise ValueError("a cluster needs at least one node")
        self.nodes = list(nodes)
        self.preferred = preferred or self.nodes[0]
        if self.preferred not in self.nodes:
            raise ValueError(f"{self.preferred.rest_url} is not a node of this cluster")
        self.down_for_s = down_for_s
        # shared by every view of one cluster: node URL -> monotonic time it failed
        self._down: dict[str, float] = {} if _down is None else _down
        # node URL -> calls that left it for another node (shared by the views too)
        self._failovers: dict[str, int] = {} if _failovers is None else _failovers

    def pinned(self, node: OperatonEngine) -> "OperatonCluster":
        """The view of the cluster from ``node``: polls go there, other calls start there."""
        return OperatonCluster(
            self.nodes,
            node,
            down_for_s=self.down_for_s,
            _down=self._down,
            _failovers=self._failovers,
        )

    def views(self) -> list["OperatonCluster"]:
        """One view per node, in order (what a worker polls)."""
        return [self.pinned(node) for node in self.nodes]

    @property
    def node(self) -> str:
        return self.preferred.node

    @property
    def failovers(self) -> dict[str, int]:
        """How many calls left each node for another one because it was unreachable."""
        return dict(self._failovers)

    @property
    def rest_url(self) -> str:
        return self.preferred.rest_url

    @property
    def cockpit_url(self) -> str | None:
        return self.preferred.cockpit_url

    def _order(self, first: str | None) -> list[OperatonEngine]:
        now = asyncio.get_running_loop().time()
        start = next((n for n in self.nodes if first and n.node == first), self.preferred)
        ordered = [start, *(n for n in self.nodes if n is not start)]
        # nodes that failed recently last (stable: otherwise the order above)
        return sorted(ordered, key=lambda n: now - self._down.get(n.node, -1e18) < self.down_for_s)

    async def _call(self, first: str | None, what: str, call: Any) -> Any:
        last: EngineUnavailable | None = None
        for node in self._order(first):
            try:
                result = await call(node)
            except EngineUnavailable as exc:
                self._down[node.node] = asyncio.get_running_loop().time()
                self._failovers[node.node] = self._failovers.get(node.node, 0) + 1
                if last is None:
                    logger.warning("%s: %s; failing over to another node", what, exc)
                last = exc
                continue
            self._down.pop(node.node, None)
            return result
        assert last is not None
        raise EngineUnavailable(f"{what}: no node of the cluster answered ({last})") from last

    # --- the port ----------------------------------------------------------------------------

    async def deploy(self, paths: Sequence[Path], name: str = "reviewflow") -> None:
        await self._call(None, "deploy", lambda n: n.deploy(paths, name))

    async def start_instance(
        self, process_key: str, variables: Variables, business_key: str | None = None
    ) -> str:
        return str(
            await self._call(
                None,
                f"starting {process_key}",
                lambda n: n.start_instance(process_key, variables, business_key),
            )
        )

    async def start_or_correlate(
        self, message_name: str, business_key: str, variables: Variables
    ) -> StartResult:
        result: StartResult = await self._call(
            None,
            f"delivering {message_name} for {business_key}",
            lambda n: n.start_or_correlate(message_name, business_key, variables),
        )
        return result

    async def correlate(
        self,
        message_name: str,
        process_instance_id: str,
        variables: Variables | None = None,
        correlation_keys: Mapping[str, str | int] | None = None,
    ) -> None:
        await self._call(
            None,
            f"delivering {message_name} to {process_instance_id}",
            lambda n: n.correlate(message_name, process_instance_id, variables, correlation_keys),
        )

    async def fetch_and_lock(
        self,
        worker_id: str,
        subscriptions: Sequence[TopicSubscription],
        max_tasks: int,
        wait_ms: int,
    ) -> list[ExternalTask]:
        # never failed over: the poller of each node polls its own node
        return await self.preferred.fetch_and_lock(worker_id, subscriptions, max_tasks, wait_ms)

    async def complete(self, task: ExternalTask, variables: Variables) -> None:
        await self._call(
            task.node, f"complete of task {task.id}", lambda n: n.complete(task, variables)
        )

    async def fail(
        self, task: ExternalTask, message: str, details: str, retries: int, retry_timeout_ms: int
    ) -> None:
        await self._call(
            task.node,
            f"failure of task {task.id}",
            lambda n: n.fail(task, message, details, retries, retry_timeout_ms),
        )

    async def bpmn_error(
        self, task: ExternalTask, code: str, message: str, variables: Variables | None = None
    ) -> None:
        await self._call(
            task.node,
            f"BPMN error of task {task.id}",
            lambda n: n.bpmn_error(task, code, message, variables),
        )

    async def extend_lock(self, task: ExternalTask, duration_ms: int) -> None:
        await self._call(
            task.node, f"extendLock of task {task.id}", lambda n: n.extend_lock(task, duration_ms)
        )

    async def release(self, task: ExternalTask) -> None:
        await self._call(task.node, f"unlock of task {task.id}", lambda n: n.release(task))

    async def incidents(self, process_instance_id: str | None = None) -> list[Incident]:
        result: list[Incident] = await self._call(
            None, "listing incidents", lambda n: n.incidents(process_instance_id)
        )
        return result

    async def retry_incident(self, incident: Incident, retries: int = 1) -> None:
        await self._call(
            None, f"retrying incident {incident.id}", lambda n: n.retry_incident(incident, retries)
        )

    async def instance(self, process_instance_id: str) -> InstanceState:
        result: InstanceState = await self._call(
            None,
            f"reading instance {process_instance_id}",
            lambda n: n.instance(process_instance_id),
        )
        return result

    async def instances_by_business_key(self, process_key: str, business_key: str) -> list[str]:
        result: list[str] = await self._call(
            None,
            f"listing instances of {business_key}",
            lambda n: n.instances_by_business_key(process_key, business_key),
        )
        return result

    def operator_url(self, process_instance_id: str) -> str | None:
        return self.preferred.operator_url(process_instance_id)

    async def aclose(self) -> None:
        """Closes this view's own node (closing every view closes the cluster)."""
        await self.preferred.aclose()


def clustered(engines: Sequence[Any]) -> list[Any]:
    """Several Operaton nodes as one view per node of one :class:`OperatonCluster`; anything
    else (one node, views already, other adapters) as it is."""
    if len(engines) > 1 and all(type(e) is OperatonEngine for e in engines):
        return list(OperatonCluster(engines).views())
    return list(engines)
