"""Two Operaton nodes on one PostgreSQL: a review on the cluster, one run per key across the
nodes, and a review that survives SIGKILL of a node while a heavy branch runs (the last test of
the module: the node stays down for the rest of it)."""

import asyncio
import time
from pathlib import Path

import pytest

from reviewflow.engine.operaton import OperatonCluster
from reviewflow.engine.port import EnginePort, StartKind
from reviewflow.review import ReviewRun, local_target, start_review
from reviewflow.sample import make_sample_repo
from shared.contract import STAGES
from shared.git.local import LocalGitHost
from tests.integration.cluster.conftest import Cluster, ClusterWorkers
from workers.heavy.runtime import BranchRun, HeavyRuntime
from workers.runtime import current_settings

HERE = Path(__file__).resolve().parent
PROBE = "reviewflow_cluster_one_run"


async def review(engine: EnginePort, repo: Path) -> ReviewRun:
    return await start_review(engine, local_target(repo, "main", "feature"), timeout_s=120)


def host_for(repo: Path) -> LocalGitHost:
    return LocalGitHost(local_target(repo, "main", "feature"), current_settings().state_dir)


def assert_history_whole(cluster: Cluster, instance_id: str) -> None:
    """The instance ended COMPLETED in the shared database, every stage ran and ended."""
    ((state, ended),) = cluster.psql(
        "SELECT state_, end_time_ IS NOT NULL FROM act_hi_procinst WHERE id_ = :'id'",
        id=instance_id,
    )
    assert (state, ended) == ("COMPLETED", "t")
    rows = cluster.psql(
        "SELECT act_id_, end_time_ IS NOT NULL FROM act_hi_actinst WHERE proc_inst_id_ = :'id'",
        id=instance_id,
    )
    assert all(done == "t" for _, done in rows), [a for a, done in rows if done != "t"]
    seen = {activity for activity, _ in rows}
    stages = {s.element_id for s in STAGES}
    assert len(stages) == 17 and stages <= seen, sorted(stages - seen)
    assert cluster.psql(
        "SELECT count(*) FROM act_ru_execution WHERE proc_inst_id_ = :'id'", id=instance_id
    ) == [["0"]]


def assert_posted_once(repo: Path) -> None:
    host = host_for(repo)
    comments = host.list_comments()
    inline = [c for c in comments if c.kind == "inline"]
    assert inline, "the planted bug is commented"
    fingerprints = [c.fingerprint for c in inline]
    assert len(set(fingerprints)) == len(fingerprints), fingerprints
    assert len({(c.path, c.line, c.body) for c in inline}) == len(inline)
    # the mutable default of line 4 (Ruff B006, a comment over lines 4-5)
    assert [(c.path, c.line) for c in inline].count(("inventory/orders.py", 5)) == 1
    progress = [c for c in comments if c.fingerprint == "progress"]
    assert len(progress) == 1 and "review finished" in progress[0].body
    assert [c for c in comments if c.kind == "issue"] == progress
    assert len(host._read_state()["verdicts"]) == 1


async def test_a_review_completes_on_the_cluster(
    tmp_path: Path, cluster: Cluster, nodes: list[OperatonCluster], workers: ClusterWorkers
) -> None:
    repo = make_sample_repo(tmp_path / "repo")
    run = await review(nodes[1], repo)
    assert run.skipped is None and run.result is not None, run.variables
    assert run.variables["verdict"] in {"comment", "request_changes"}
    assert_posted_once(repo)
    assert_history_whole(cluster, run.instance_id)
    posted = host_for(repo).list_comments()
    # the one-run-per-key index only holds running instances: a later run for the same key
    # starts (through the other node) and, with nothing new, ends on the skip path
    again = await review(nodes[0], repo)
    assert again.instance_id != run.instance_id
    assert again.skipped is not None and "nothing new" in again.skipped
    after = host_for(repo).list_comments()
    assert after[: len(posted)] == posted and len(after) == len(posted) + 1
    assert "review skipped" in after[-1].body


async def test_concurrent_starts_for_one_key_across_nodes_make_one_instance(
    cluster: Cluster, nodes: list[OperatonCluster]
) -> None:
    assert cluster.psql(
        "SELECT count(*) FROM pg_indexes WHERE indexname = 'reviewflow_one_run_per_key'"
    ) == [["1"]]
    await nodes[0].deploy([HERE / "one_run.bpmn"], name="reviewflow-cluster-probe")
    key = f"octo/probe#{time.time_ns()}"
    results = await asyncio.gather(
        *(
            nodes[i % 2].start_or_correlate("reviewflow.cluster-probe", key, {"call": i})
            for i in range(10)
        )
    )
    kinds = sorted(r.kind for r in results)
    assert kinds.count(StartKind.STARTED) == 1, kinds
    assert kinds.count(StartKind.CORRELATED) == 9, kinds
    assert len({r.process_instance_id for r in results}) == 1
    assert cluster.psql(
        "SELECT count(*) FROM act_hi_procinst p JOIN act_re_procdef d ON d.id_ = p.proc_def_id_ "
        "WHERE d.key_ = :'process' AND p.business_key_ = :'key'",
        process=PROBE,
        key=key,
    ) == [["1"]]


async def test_a_review_survives_sigkill_of_the_node_that_dispatched_its_heavy_branch(
    tmp_path: Path,
    cluster: Cluster,
    nodes: list[OperatonCluster],
    workers: ClusterWorkers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the LLM branches (PR-level, per-file) take a few seconds: long enough to kill the node
    # that dispatched them while they run; their results then reach the other node. The kill
    # waits until both are dispatched: a task that a poll of the dying node had just locked
    # would only come back after its lock expired (a ghost lock, 30 s for a dispatch task)
    running = asyncio.Event()
    dispatched: dict[str, str] = {}
    original = HeavyRuntime._run

    async def slow_run(self: HeavyRuntime, run: BranchRun) -> None:
        if run.branch.key in ("pr", "file"):
            dispatched[run.branch.key] = str(getattr(run.engine, "node", ""))
            if {"pr", "file"} <= set(dispatched):
                running.set()
            await asyncio.sleep(6)
        await original(self, run)

    monkeypatch.setattr(HeavyRuntime, "_run", slow_run)
    repo = make_sample_repo(tmp_path / "repo")
    started = time.monotonic()
    review_task = asyncio.create_task(review(nodes[0], repo))
    await asyncio.wait_for(running.wait(), 60)
    victim = cluster.index_of(dispatched["pr"])
    await asyncio.to_thread(cluster.kill, victim)
    survivor = 1 - victim
    run = await review_task
    elapsed = time.monotonic() - started
    assert run.skipped is None and run.result is not None, run.variables
    assert {"pr", "file"} <= set(dispatched)
    assert run.variables["prReviewOutcome"]["status"] == "ok", run.variables["prReviewOutcome"]
    assert run.variables["fileReviewOutcome"]["status"] == "ok", run.variables["fileReviewOutcome"]
    assert run.variables["verdict"] in {"comment", "request_changes"}
    assert_posted_once(repo)
    assert_history_whole(cluster, run.instance_id)
    # calls meant for the victim (its branch's result among them) went to the survivor
    assert nodes[0].failovers.get(dispatched["pr"], 0) >= 1, nodes[0].failovers
    assert (await nodes[survivor].instance(run.instance_id)).status.value == "completed"
    assert elapsed < 90, elapsed
