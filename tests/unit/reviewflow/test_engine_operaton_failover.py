"""Failover between the nodes of an Operaton cluster (:class:`OperatonCluster`), against
scripted REST answers: polls stay on their node, every other call moves to another node when
its node is unreachable, a task's calls start at the node that handed it out."""

from typing import Any

import httpx
import pytest

from reviewflow.engine import operaton
from reviewflow.engine.operaton import OperatonCluster, OperatonEngine, clustered
from reviewflow.engine.port import (
    EngineUnavailable,
    ExternalTask,
    StartKind,
    TaskGone,
    TopicSubscription,
)


class Node:
    """One scripted node: up (answers ``handler``) or down (connection refused)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.up = True
        self.calls: list[tuple[str, str]] = []
        self.status = 204
        self.body: Any = None
        self.engine = OperatonEngine(
            f"http://{name}.test/engine-rest", transport=httpx.MockTransport(self)
        )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.method, request.url.path))
        if not self.up:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(self.status, json=self.body)


@pytest.fixture(autouse=True)
def no_retry_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    # a node's own retries (a few seconds of pauses) are the single-node adapter's business
    monkeypatch.setattr(operaton, "SERVER_ERROR_RETRIES", 2)


def task_of(node: Node, task_id: str = "t1") -> ExternalTask:
    return ExternalTask(
        id=task_id,
        topic="reviewflow.verdict",
        worker_id="w1",
        process_instance_id="p1",
        activity_id="Task_Verdict",
        business_key=None,
        variables={},
        retries=None,
        node=node.engine.node,
    )


def cluster_of(*names: str) -> tuple[OperatonCluster, list[Node]]:
    nodes = [Node(n) for n in names]
    return OperatonCluster([n.engine for n in nodes]), nodes


async def test_a_task_call_goes_to_the_node_that_handed_the_task_out() -> None:
    cluster, (a, b) = cluster_of("a", "b")
    await cluster.complete(task_of(b), {"x": 1})
    assert a.calls == [] and b.calls == [("POST", "/engine-rest/external-task/t1/complete")]


@pytest.mark.parametrize(
    ("method", "args", "action"),
    [
        ("complete", ({"x": 1},), "complete"),
        ("fail", ("boom", "trace", 2, 1000), "failure"),
        ("bpmn_error", ("E", "message"), "bpmnError"),
        ("extend_lock", (20_000,), "extendLock"),
    ],
)
async def test_task_calls_fail_over_when_their_node_is_unreachable(
    method: str, args: tuple[Any, ...], action: str
) -> None:
    cluster, (a, b) = cluster_of("a", "b")
    a.up = False
    await getattr(cluster, method)(task_of(a), *args)
    path = f"/engine-rest/external-task/t1/{action}"
    assert a.calls == [("POST", path)] * 2  # its own retries, then the next node
    assert b.calls == [("POST", path)]
    assert cluster.failovers == {a.engine.node: 1}


async def test_a_node_that_failed_is_tried_last_for_a_while() -> None:
    cluster, (a, b) = cluster_of("a", "b")
    a.up = False
    await cluster.complete(task_of(a, "t1"), {})
    await cluster.complete(task_of(a, "t2"), {})
    assert [p for _, p in a.calls] == ["/engine-rest/external-task/t1/complete"] * 2
    assert len(b.calls) == 2
    # back: a successful call clears the mark (b is marked down now, a answers first)
    a.up, b.up = True, False
    await cluster.complete(task_of(b, "t3"), {})
    assert a.calls[-1] == ("POST", "/engine-rest/external-task/t3/complete")


async def test_polls_never_fail_over() -> None:
    cluster, (a, b) = cluster_of("a", "b")
    view_a, view_b = cluster.views()
    a.up = False
    b.status, b.body = 200, []
    subscription = [TopicSubscription("reviewflow.verdict", None, 20_000)]
    with pytest.raises(EngineUnavailable):
        await view_a.fetch_and_lock("w1", subscription, 1, 0)
    assert b.calls == []
    assert await view_b.fetch_and_lock("w1", subscription, 1, 0) == []


async def test_a_view_starts_at_its_node_and_correlates_elsewhere_when_it_is_gone() -> None:
    cluster, (a, b) = cluster_of("a", "b")
    view_b = cluster.views()[1]
    b.up = False
    a.status, a.body = 200, [{"resultType": "Execution"}]
    await view_b.correlate("reviewflow.ast-done", "p1", {"o": 1}, {"wait": "k"})
    assert b.calls and a.calls == [("POST", "/engine-rest/message")]


async def test_start_or_correlate_fails_over_and_reports_the_start() -> None:
    cluster, (a, b) = cluster_of("a", "b")
    a.up = False
    b.status = 200
    b.body = [{"resultType": "ProcessDefinition", "processInstance": {"id": "p9"}}]
    result = await cluster.start_or_correlate("pr-event", "o/r#1", {})
    assert result.kind is StartKind.STARTED and result.process_instance_id == "p9"


async def test_a_refusal_is_not_failed_over() -> None:
    cluster, (a, b) = cluster_of("a", "b")
    a.status, a.body = 404, {"type": "RestException", "message": "task t1 does not exist"}
    with pytest.raises(TaskGone):
        await cluster.complete(task_of(a), {})
    assert b.calls == []


async def test_every_node_down_is_engine_unavailable() -> None:
    cluster, (a, b) = cluster_of("a", "b")
    a.up = b.up = False
    with pytest.raises(EngineUnavailable, match="no node of the cluster answered"):
        await cluster.correlate("m", "p1")
    assert len(a.calls) == 2 and len(b.calls) == 2


async def test_several_operaton_nodes_become_views_of_one_cluster() -> None:
    nodes = [Node("a").engine, Node("b").engine]
    views = clustered(nodes)
    assert [v.node for v in views] == [n.node for n in nodes]
    assert all(isinstance(v, OperatonCluster) for v in views)
    assert clustered(nodes[:1]) == nodes[:1]
    assert clustered(views) == views
