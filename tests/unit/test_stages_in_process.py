"""The stage functions of workers/ called one after another in this process (no engine, no
LLM), the way bench/pipeline.py's sequential side runs them: the AST stage's analyzers reach
the inline comments (stage 13) and the review's result (stage 15), one comment per problem."""

import asyncio
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reviewflow.review import local_target
from reviewflow.sample import make_sample_repo
from shared.artifacts import ArtifactStore
from shared.contract import HEAVY_BRANCHES
from shared.git.local import LocalGitHost
from shared.stages.outcome import ReviewResult
from workers.inprocess import heavy_bodies
from workers.light.aggregate_results import aggregate_results
from workers.light.create_file_comments import create_file_comments
from workers.light.fetch_changed_files import fetch_changed_files
from workers.light.file_context_gate import file_context_gate
from workers.light.load_external_context import load_external_context
from workers.light.load_feedback import load_feedback
from workers.light.resolve_config import resolve_config
from workers.light.validate_config import validate_config
from workers.light.validate_new_commits import validate_new_commits
from workers.runtime import StageContext, settings

BEFORE = (
    validate_new_commits,
    resolve_config,
    validate_config,
    fetch_changed_files,
    load_external_context,
    file_context_gate,
    load_feedback,
)


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("REVIEWFLOW_STATE_DIR", str(tmp_path / "state"))
    for name in ("REVIEWFLOW_LLM_BASE_URL", "REVIEWFLOW_LLM_API_KEY", "REVIEWFLOW_LLM_MODEL"):
        monkeypatch.delenv(name, raising=False)
    # worker settings are read from the environment on every call
    yield tmp_path / "state"


def review(repo: Path) -> tuple[ReviewResult, dict[str, Any]]:
    target = local_target(repo, "main", "feature")
    run_id = uuid.uuid4().hex
    v: dict[str, Any] = {"reviewRunId": run_id, "target": target.model_dump(mode="json")}
    v["trigger"] = "cli"
    ctx = StageContext(run_id, target, settings(), task_id="0", process_instance_id=run_id)
    for stage in BEFORE:
        v.update(stage(ctx, dict(v)))
        assert v.get("proceed") is not False, v.get("skipReason")
    bodies = heavy_bodies()
    loop = asyncio.new_event_loop()
    try:
        for branch in HEAVY_BRANCHES:
            v[branch.attempt_variable] = 1
            outcome = loop.run_until_complete(bodies[branch.key](ctx, dict(v), 1))
            assert outcome.status == "ok", outcome
            v[branch.outcome_variable] = outcome.model_dump(mode="json")
    finally:
        loop.close()
    for stage in (create_file_comments, aggregate_results):
        v.update(stage(ctx, dict(v)))
    return ArtifactStore(settings().artifacts_dir).get(v["resultArtifact"], ReviewResult), v


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_three_planted_problems_are_posted_on_their_lines(tmp_path: Path, state: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "t@example.com")
    _git(repo, "config", "user.name", "t")
    (repo / "app").mkdir()
    (repo / "app" / "users.py").write_text("def count(cursor):\n    return 0\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    _git(repo, "checkout", "-qb", "feature")
    (repo / "app" / "users.py").write_text(
        "import time\n"
        "\n"
        'AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"\n'
        "\n"
        "\n"
        "def count(cursor):\n"
        "    return 0\n"
        "\n"
        "\n"
        "def find(cursor, name):\n"
        "    cursor.execute(f\"SELECT * FROM users WHERE name = '{name}'\")\n"
        "    return cursor.fetchall()\n"
        "\n"
        "\n"
        "async def refresh(cache):\n"
        "    time.sleep(5)\n"
        "    return cache\n"
    )
    _git(repo, "commit", "-qam", "change")
    result, v = review(repo)
    posted = set(result.posted_fingerprints)
    reported = sorted((s.start_line, s.rule) for s in result.suggestions if s.fingerprint in posted)
    assert reported == [(3, "AWSKeyDetector"), (11, "S608"), (16, "ASYNC251")]
    host = LocalGitHost(local_target(repo, "main", "feature"), state)
    inline = sorted((c.line, c.body) for c in host.list_comments() if c.kind == "inline")
    assert [line for line, _ in inline] == [3, 11, 16]
    assert all("AKIAIOSFODNN7EXAMPLE" not in body for _, body in inline)
    assert v["inlineCommentsPosted"] == 3


def test_the_samples_planted_bugs_come_from_the_analyzers(tmp_path: Path, state: Path) -> None:
    repo = make_sample_repo(tmp_path / "sample")
    result, _ = review(repo)
    posted = set(result.posted_fingerprints)
    found = {(s.path, s.start_line, s.rule) for s in result.suggestions if s.fingerprint in posted}
    assert ("inventory/orders.py", 4, "B006") in found  # the mutable default
    assert ("inventory/orders.py", 10, "F632") in found  # `is "express"`
