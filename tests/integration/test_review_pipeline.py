"""The whole review process on the real engine: bpmn/code_review.bpmn with every worker."""

import asyncio
import time
from pathlib import Path
from typing import Any

from reviewflow.engine.operaton import OperatonEngine
from reviewflow.engine.port import EnginePort, ExternalTask
from reviewflow.review import ReviewRun, local_target, start_review
from reviewflow.sample import git, make_sample_repo, write
from shared.contract import STAGES
from shared.git.local import LocalGitHost
from tests.integration.conftest import Workers
from workers.poller import TaskPoller
from workers.runtime import TaskSpec, current_settings

settings = current_settings


async def review(client: OperatonEngine, repo: Path, **kwargs: Any) -> ReviewRun:
    return await start_review(
        client, local_target(repo, "main", "feature"), timeout_s=180, **kwargs
    )


def host_for(repo: Path) -> LocalGitHost:
    return LocalGitHost(local_target(repo, "main", "feature"), settings().state_dir)


async def test_happy_path_runs_all_stages_and_names_the_planted_bug(
    tmp_path: Path, client: OperatonEngine, workers: Workers
) -> None:
    repo = make_sample_repo(tmp_path / "repo")
    run = await review(client, repo)
    assert run.skipped is None and run.result is not None
    completed = {e.stage for e in run.events if e.status == "completed"}
    heavy_titles = {"AST analysis", "PR-level review", "per-file review"}
    light = {s.title for s in STAGES if s.kind == "light"}
    assert light <= completed, light - completed
    assert {t for t in completed if t.replace("Dispatch ", "") in heavy_titles or t in heavy_titles}
    # the three heavy branches run in parallel: all dispatched together; the LLM branches
    # (PR-level, per-file) wait for the AST branch's impact context, then overlap each other
    dispatched = {e.stage: e.at for e in run.events if e.status == "dispatched"}
    assert len(dispatched) == 3
    llm_dispatch = [dispatched["Dispatch PR-level review"], dispatched["Dispatch per-file review"]]
    assert max(llm_dispatch) - min(llm_dispatch) < 1.0, dispatched
    starts = {
        e.stage: e.at for e in run.events if e.status == "started" and e.stage in heavy_titles
    }
    ends = {
        e.stage: e.at for e in run.events if e.status == "completed" and e.stage in heavy_titles
    }
    assert set(starts) == heavy_titles == set(ends)
    llm = ("PR-level review", "per-file review")
    # started together (not one after the other's end): offline they take milliseconds each
    assert abs(starts[llm[0]] - starts[llm[1]]) < 1.0, (starts, ends)
    assert all(starts[t] >= ends["AST analysis"] for t in llm), "they had the AST context"
    # the planted bug is found, on the line it is on, and posted once
    bugs = [
        s for s in run.result.suggestions if s.path == "inventory/orders.py" and s.start_line == 4
    ]
    assert bugs and "default" in bugs[0].message.lower()
    comments = host_for(repo).list_comments()
    inline = [c for c in comments if c.kind == "inline"]
    # Ruff's B006 finding: its fix (default None, create the list inside) spans lines 4-5,
    # so the comment covers that range (the host records its last line)
    assert any(c.path == "inventory/orders.py" and c.line in (4, 5) for c in inline)
    assert len({c.fingerprint for c in inline}) == len(inline)
    assert run.variables["verdict"] in {"comment", "request_changes", "approve"}
    # one progress comment, turned into the final one
    progress = [c for c in comments if c.fingerprint == "progress"]
    assert len(progress) == 1 and "review finished" in progress[0].body

    # a second run with nothing new ends on the skip path, says why, and posts nothing twice
    again = await review(client, repo)
    assert again.skipped is not None and "nothing new" in again.skipped
    assert len([c for c in host_for(repo).list_comments() if c.kind == "inline"]) == len(inline)

    # a new commit is reviewed incrementally: only its finding is new
    write(repo, {"inventory/pay.py": "def pay(amount):\n    return eval(amount)\n"})
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Add pay")
    third = await review(client, repo)
    assert third.result is not None
    assert {s.path for s in third.result.suggestions} == {"inventory/pay.py"}
    after = [c for c in host_for(repo).list_comments() if c.kind == "inline"]
    assert len(after) == len(inline) + 1


async def test_disabled_config_skips_with_reason(
    tmp_path: Path, client: OperatonEngine, workers: Workers
) -> None:
    repo = make_sample_repo(tmp_path / "repo")
    write(repo, {".reviewflow.yml": "enabled: false\n"})
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Disable reviews")
    run = await review(client, repo)
    assert run.skipped is not None and "disabled" in run.skipped
    assert any("disabled" in c.body for c in host_for(repo).list_comments())


async def test_title_keyword_skips(
    tmp_path: Path, client: OperatonEngine, workers: Workers
) -> None:
    repo = make_sample_repo(tmp_path / "repo")
    git(repo, "commit", "--allow-empty", "-qm", "WIP: not ready")
    run = await review(client, repo)
    assert run.skipped is not None and "wip" in run.skipped


async def test_invalid_config_reports_the_key(
    tmp_path: Path, client: OperatonEngine, workers: Workers
) -> None:
    repo = make_sample_repo(tmp_path / "repo")
    write(repo, {".reviewflow.yml": "maxFilez: 3\n"})
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Config typo")
    run = await review(client, repo)
    assert "maxFilez" in str(run.variables.get("configError"))
    comments = host_for(repo).list_comments()
    assert (
        len(comments) == 1 and "maxFilez" in comments[0].body and "unknown key" in comments[0].body
    )


async def test_two_reviews_at_once_do_not_cross(
    tmp_path: Path, client: OperatonEngine, workers: Workers
) -> None:
    first = make_sample_repo(tmp_path / "one")
    second = make_sample_repo(tmp_path / "two")
    write(second, {"inventory/orders.py": "def ok():\n    return 1\n"})
    git(second, "add", "-A")
    git(second, "commit", "-qm", "Simplify")
    a, b = await asyncio.gather(review(client, first), review(client, second))
    assert a.run_id != b.run_id and a.result is not None and b.result is not None
    assert any(s.path == "inventory/orders.py" for s in a.result.suggestions)
    assert not any(s.path == "inventory/orders.py" for s in b.result.suggestions)
    assert all(c.path != "inventory/orders.py" for c in host_for(second).list_comments())


async def test_heavy_branch_timeout_completes_and_reports_the_gap(
    tmp_path: Path, client: OperatonEngine, workers: Workers
) -> None:
    # the AST dispatch is taken by a worker that completes it and never reports back (a heavy
    # worker that died after taking the work): the branch is re-dispatched once, then marked
    # timed out, and the review goes on without it
    await workers.close()
    partial = Workers(client, skip_heavy={"ast"})
    taken: list[str] = []

    async def accept_and_vanish(task: ExternalTask, engine: EnginePort) -> dict[str, Any]:
        taken.append(task.id)
        return {}

    spec = TaskSpec(
        topic="reviewflow.ast-analysis", variables=(), handler=accept_and_vanish, lock_ms=10_000
    )
    stop = asyncio.Event()
    hole = asyncio.create_task(TaskPoller(client, [spec], 4, 1_000, "black-hole").run(stop))
    try:
        repo = make_sample_repo(tmp_path / "repo")
        started = time.monotonic()
        run = await review(client, repo, heavy_timeout="PT2S")
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        await hole
        await partial.close()
        workers.__init__(client)  # type: ignore[misc]
    assert len(taken) == 2, "dispatched once, re-dispatched once (heavyRetries: 1)"
    assert elapsed >= 4
    assert run.result is not None
    assert run.variables["astOutcome"] == {
        "status": "timeout",
        "error": "no result after 2 attempt(s)",
    }
    assert any("AST analysis timeout" in e for e in run.result.errors)
    assert run.variables["verdict"] == "comment"  # never approve a partial run
    progress = [c for c in host_for(repo).list_comments() if c.fingerprint == "progress"]
    assert "Not everything could be reviewed" in progress[0].body
