"""Ids from process variables never lead a path outside its root."""

import json
from pathlib import Path
from typing import Any

import pytest

from shared.artifacts import ArtifactStore
from shared.events import EventLog
from shared.paths import contained, safe_id
from tests.support.fake_engine import make_task
from workers.runtime import StageContext
from workers.settings import WorkerSettings

TRAVERSALS = ["../../x", "..", ".", "/abs/path", "a/../../x", "a/b", "", "-x", "a\0b", "a\nb"]


@pytest.mark.parametrize("value", [*TRAVERSALS, "x..y", "a" * 129, "é"])
def test_safe_id_refuses_anything_but_a_plain_name(value: str) -> None:
    with pytest.raises(ValueError, match="invalid"):
        safe_id(value)


@pytest.mark.parametrize(
    "value", ["72d3162e-cc78-11e3-81ab-4c9367dc0958", "a", "r1:ast:2", "A.b-c"]
)
def test_safe_id_accepts_run_ids(value: str) -> None:
    assert safe_id(value) == value


def test_contained_resolves_inside_the_root(tmp_path: Path) -> None:
    assert contained(tmp_path, "run", "events.jsonl") == tmp_path.resolve() / "run/events.jsonl"


@pytest.mark.parametrize("parts", [("..", "x"), ("/etc", "passwd"), ("a", "..", ".."), (".",)])
def test_contained_refuses_paths_escaping_the_root(tmp_path: Path, parts: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="outside"):
        contained(tmp_path / "root", *parts)


def test_contained_refuses_a_symlink_out_of_the_root(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "root" / "run").symlink_to(tmp_path / "outside")
    with pytest.raises(ValueError, match="outside"):
        contained(tmp_path / "root", "run", "events.jsonl")


@pytest.mark.parametrize("run_id", TRAVERSALS)
def test_an_event_log_never_writes_outside_its_root(tmp_path: Path, run_id: str) -> None:
    root = tmp_path / "state" / "artifacts"
    root.mkdir(parents=True)
    with pytest.raises(ValueError):
        EventLog(root, run_id).emit("stage", "started")
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written == []


def test_an_event_log_writes_under_its_run(tmp_path: Path) -> None:
    log = EventLog(tmp_path, "run-1")
    log.emit("stage", "completed", "ok")
    events, _ = log.read()
    assert [e.stage for e in events] == ["stage"]
    assert (tmp_path / "run-1" / "events.jsonl").exists()


def test_the_artifact_store_refuses_a_run_directory_linked_outside(tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    root.mkdir()
    (tmp_path / "outside").mkdir()
    (root / "run-1").symlink_to(tmp_path / "outside")
    store = ArtifactStore(root)
    with pytest.raises(ValueError, match="outside"):
        store.put("run-1", "files", [1])
    assert list((tmp_path / "outside").iterdir()) == []


@pytest.mark.parametrize("artifact_id", ["../x", "run/../../x", "/etc/passwd", "run/..", "run/x/y"])
def test_the_artifact_store_refuses_traversing_ids(tmp_path: Path, artifact_id: str) -> None:
    store = ArtifactStore(tmp_path)
    with pytest.raises(ValueError, match="invalid"):
        store.get_raw(artifact_id)


def test_the_artifact_store_round_trips(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    artifact = store.put("run-1", "files", {"a": 1})
    assert store.get_raw(artifact) == {"a": 1}
    assert json.loads((tmp_path / "run-1" / "files.json").read_text()) == {"a": 1}
    assert store.delete_run("run-1") == 1


@pytest.mark.parametrize("run_id", ["../../x", "/tmp/x", 7])
def test_a_job_with_a_traversing_run_id_is_refused(tmp_path: Path, run_id: Any) -> None:
    task = make_task(
        "reviewflow.verdict",
        variables={
            "reviewRunId": run_id,
            "target": {"provider": "github", "repository": "a/b", "pr_number": 1},
        },
    )
    with pytest.raises(ValueError, match="reviewRunId"):
        StageContext.from_task(task, WorkerSettings(state_dir=tmp_path))


@pytest.mark.parametrize("instance", ["../../x", "/tmp/x"])
def test_a_task_of_an_instance_with_a_traversing_id_is_refused(
    tmp_path: Path, instance: str
) -> None:
    task = make_task(
        "reviewflow.verdict",
        process_instance_id=instance,
        variables={"target": {"provider": "github", "repository": "a/b", "pr_number": 1}},
    )
    with pytest.raises(ValueError, match="reviewRunId"):
        StageContext.from_task(task, WorkerSettings(state_dir=tmp_path))
