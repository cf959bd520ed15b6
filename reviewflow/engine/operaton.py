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
        if not self.cockpit_url:
            return None
        return f"{self.cockpit_url}/#/process-instance/{process_instance_id}/runtime"

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
