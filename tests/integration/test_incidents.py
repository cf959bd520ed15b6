"""A worker failing until its retries run out, on the real engine and the real process.

The review's "Load team feedback" worker fails on a corrupt ``.reviewflow/feedback.json``; the
task's three retries run out and the engine raises a ``failedExternalTask`` incident, which
``GET /incident`` (and Cockpit) show. Then the cause is fixed, the task gets retries again
through the REST API (which resolves the incident), and the instance runs to its end.
"""

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from reviewflow.engine.operaton import OperatonEngine
from reviewflow.engine.port import Incident
from reviewflow.review import local_target, start_review
from reviewflow.sample import make_sample_repo
from shared.git.local import LocalGitHost
from tests.integration.conftest import Workers
from workers.runtime import current_settings

FEEDBACK_ELEMENT = "Task_LoadFeedback"  # "Load team feedback", retries 3 in the diagram


async def wait_for_incident(
    client: OperatonEngine, marker: str, timeout: float, pending: "asyncio.Task[Any]"
) -> Incident:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mine = [i for i in await client.incidents() if marker in i.message]
        if mine:
            return mine[0]
        if pending.done():
            pending.result()  # raises if the run failed
            pytest.fail("the review ended without the expected incident")
        await asyncio.sleep(0.3)
    pytest.fail(f"no incident within {timeout:.0f} s")


async def test_a_worker_out_of_retries_raises_an_incident_and_resolving_it_completes_the_run(
    tmp_path: Path, client: OperatonEngine, workers: Workers
) -> None:
    repo = make_sample_repo(tmp_path / "repo")
    # the cause: a feedback file whose records are not feedback records (the marker makes the
    # error message, and so the incident, this test's own)
    marker = f"corrupt-{uuid.uuid4().hex}"
    feedback = repo / ".reviewflow" / "feedback.json"
    feedback.parent.mkdir()
    feedback.write_text(json.dumps([{"marker": marker}]))

    run_task = asyncio.create_task(
        start_review(client, local_target(repo, "main", "feature"), timeout_s=300)
    )
    try:
        incident = await wait_for_incident(client, marker, 120, run_task)
        # recorded: where, why, and which task
        assert incident.activity_id == FEEDBACK_ELEMENT
        assert incident.type == "failedExternalTask"
        assert "ValidationError" in incident.message
        assert incident.task_id is not None
        state = await client.instance(incident.process_instance_id)
        assert state.incidents == 1 and state.status.value == "active"
        # the instance waits at the incident
        await asyncio.sleep(1.0)
        assert not run_task.done()

        # fix the cause, give the task retries again (this resolves the incident)
        feedback.write_text("[]")
        await client.retry_incident(incident, retries=1)
        run = await asyncio.wait_for(run_task, 240)
    finally:
        if not run_task.done():
            run_task.cancel()
            await asyncio.gather(run_task, return_exceptions=True)

    # the same instance ran to its end, and the review is complete
    assert run.instance_id == incident.process_instance_id
    assert run.result is not None and not run.result.errors
    assert run.variables["verdict"] in {"comment", "request_changes", "approve"}
    feedback_events = [e for e in run.events if e.stage == "Load team feedback"]
    assert [e.status for e in feedback_events].count("failed") == 3
    assert feedback_events[-1].status == "completed"
    host = LocalGitHost(local_target(repo, "main", "feature"), current_settings().state_dir)
    progress = [c for c in host.list_comments() if c.fingerprint == "progress"]
    assert len(progress) == 1 and "review finished" in progress[0].body
    assert incident.id not in {i.id for i in await client.incidents()}
