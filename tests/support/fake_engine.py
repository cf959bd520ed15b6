"""An in-memory engine port for unit tests of the workers: tasks are queued by the test,
every call a worker makes is recorded, and refusals can be scripted."""

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reviewflow.engine.port import (
    ExternalTask,
    Incident,
    InstanceState,
    InstanceStatus,
    MessageNotCorrelated,
    StartResult,
    TaskGone,
    TopicSubscription,
    Variables,
)


@dataclass
class Call:
    what: str
    task_id: str | None
    args: dict[str, Any]


@dataclass
class FakeEngine:
    queue: list[ExternalTask] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    # messages nothing waits for (correlation raises MessageNotCorrelated)
    unmatched: set[str] = field(default_factory=set)
    # task ids whose complete is refused as already done
    gone: set[str] = field(default_factory=set)
    # process variables that completes set, per instance (what instance() reports)
    variables: dict[str, Variables] = field(default_factory=dict)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, task: ExternalTask) -> None:
        self.queue.append(task)
        self.arrived.set()

    def of(self, what: str) -> list[Call]:
        return [c for c in self.calls if c.what == what]

    async def deploy(self, paths: Sequence[Path], name: str = "reviewflow") -> None:
        self.calls.append(Call("deploy", None, {"paths": list(paths)}))

    async def start_instance(
        self, process_key: str, variables: Variables, business_key: str | None = None
    ) -> str:
        self.calls.append(Call("start", None, {"variables": variables, "key": business_key}))
        return "p-started"

    async def start_or_correlate(
        self, message_name: str, business_key: str, variables: Variables
    ) -> StartResult:
        raise NotImplementedError("not used by the worker tests")

    async def correlate(
        self,
        message_name: str,
        process_instance_id: str,
        variables: Variables | None = None,
        correlation_keys: Mapping[str, str | int] | None = None,
    ) -> None:
        self.calls.append(
            Call(
                "correlate",
                None,
                {
                    "message": message_name,
                    "instance": process_instance_id,
                    "variables": variables,
                    "keys": dict(correlation_keys or {}),
                },
            )
        )
        if message_name in self.unmatched:
            raise MessageNotCorrelated(f"nothing waits for {message_name}", 400)

    async def fetch_and_lock(
        self,
        worker_id: str,
        subscriptions: Sequence[TopicSubscription],
        max_tasks: int,
        wait_ms: int,
    ) -> list[ExternalTask]:
        topics = {s.topic for s in subscriptions}
        if not self.queue:
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), wait_ms / 1000)
            except TimeoutError:
                return []
        taken = [t for t in self.queue if t.topic in topics][:max_tasks]
        for t in taken:
            self.queue.remove(t)
        self.calls.append(Call("fetch", None, {"max": max_tasks, "got": len(taken)}))
        return taken

    async def complete(self, task: ExternalTask, variables: Variables) -> None:
        self.calls.append(Call("complete", task.id, {"variables": variables}))
        if task.id in self.gone:
            raise TaskGone(f"task {task.id} does not exist", 404)
        self.gone.add(task.id)
        self.variables.setdefault(task.process_instance_id, {}).update(variables)

    async def fail(
        self, task: ExternalTask, message: str, details: str, retries: int, retry_timeout_ms: int
    ) -> None:
        self.calls.append(
            Call(
                "fail",
                task.id,
                {"message": message, "retries": retries, "timeout": retry_timeout_ms},
            )
        )

    async def bpmn_error(
        self, task: ExternalTask, code: str, message: str, variables: Variables | None = None
    ) -> None:
        self.calls.append(Call("error", task.id, {"code": code, "message": message}))

    async def extend_lock(self, task: ExternalTask, duration_ms: int) -> None:
        self.calls.append(Call("extend", task.id, {"duration": duration_ms}))

    async def release(self, task: ExternalTask) -> None:
        self.calls.append(Call("release", task.id, {}))
        self.queue.append(task)

    async def incidents(self, process_instance_id: str | None = None) -> list[Incident]:
        return []

    async def retry_incident(self, incident: Incident, retries: int = 1) -> None:
        raise NotImplementedError

    async def instance(self, process_instance_id: str) -> InstanceState:
        self.calls.append(Call("instance", None, {"instance": process_instance_id}))
        return InstanceState(
            id=process_instance_id,
            business_key=None,
            status=InstanceStatus.ACTIVE,
            variables=dict(self.variables.get(process_instance_id, {})),
        )

    def operator_url(self, process_instance_id: str) -> str | None:
        return None

    async def aclose(self) -> None:
        return None


def make_task(topic: str, task_id: str = "t1", **overrides: Any) -> ExternalTask:
    values: dict[str, Any] = {
        "id": task_id,
        "topic": topic,
        "worker_id": "w",
        "process_instance_id": "pi-1",
        "activity_id": "Task_X",
        "business_key": None,
        "variables": {},
        "retries": None,
    }
    values.update(overrides)
    return ExternalTask(**values)
