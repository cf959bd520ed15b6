"""A worker failing until its retries run out, on the real engine and the real process.

The review's "Load team feedback" worker fails on a corrupt ``.reviewflow/feedback.json``; the
job's three retries run out and the engine raises an incident. The incident is read back from
the broker's exported records (``incidents.jsonl``, see :mod:`reviewflow.engine.local`); then
the cause is fixed, the job gets retries again and the incident is resolved through the REST
API (v2), and the instance runs to its end.
"""

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pyzeebe import ZeebeClient

from reviewflow.engine.local import IncidentRecord, LocalEngine
from reviewflow.review import local_target, start_review
from reviewflow.sample import make_sample_repo
from shared.git.local import LocalGitHost
from workers.runtime import settings

FEEDBACK_ELEMENT = "Task_KodyFineTuning"  # "Load team feedback", retries="3" in the diagram


@pytest.fixture(scope="module")
def local_engine(engine: Any) -> LocalEngine:
    """The engine's incident records: only the local engine (started from the state dir) has
    them; an external cluster shows incidents in its Operate."""
    if engine.source not in ("state-dir", "started"):
        pytest.skip(
            f"incident records come from the local engine's exporter; this engine is "
            f"{engine.source!r} (external clusters show incidents in Operate)"
        )
    local = LocalEngine()
    if not local.incidents_path.is_file():
        pytest.fail(
            f"{local.incidents_path} does not exist: the running engine was started by an "
            "older reviewflow without the incident exporter. Restart it (`reviewflow engine "
            "down` then `reviewflow engine up`).",
            pytrace=False,
        )
    return local


async def wait_for(
    find: Callable[[], IncidentRecord | None], timeout: float, pending: "asyncio.Task[Any]"
) -> IncidentRecord:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = find()
        if found is not None:
            return found
        if pending.done():
            pending.result()  # raises if the run failed
            pytest.fail("the review ended without the expected incident")
        await asyncio.sleep(0.3)
    pytest.fail(f"no incident within {timeout:.0f} s")


async def test_a_worker_out_of_retries_raises_an_incident_and_resolving_it_completes_the_run(
    tmp_path: Path,
    engine: Any,
    local_engine: LocalEngine,
    client: ZeebeClient,
    workers: None,
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

        def ours() -> IncidentRecord | None:
            mine = [i for i in local_engine.open_incidents() if marker in i.error_message]
            return mine[0] if mine else None

        incident = await wait_for(ours, 120, run_task)

        # recorded: where, why, and which job
        assert incident.intent == "CREATED"
        assert incident.element_id == FEEDBACK_ELEMENT
        assert incident.bpmn_process_id == "reviewflow_code_review"
        assert incident.error_type == "JOB_NO_RETRIES"
        assert "ValidationError" in incident.error_message
        assert "FeedbackRecord" in incident.error_message
        assert incident.job_key is not None
        # the instance waits at the incident
        await asyncio.sleep(1.0)
        assert not run_task.done()

        # fix the cause, give the job retries again, resolve the incident: REST API v2
        feedback.write_text("[]")
        async with httpx.AsyncClient(base_url=engine.rest_url, timeout=10.0) as rest:
            retried = await rest.patch(
                f"/v2/jobs/{incident.job_key}", json={"changeset": {"retries": 1}}
            )
            assert retried.status_code == 204, retried.text
            resolved = await rest.post(f"/v2/incidents/{incident.incident_key}/resolution", json={})
            assert resolved.status_code == 204, resolved.text

        run = await asyncio.wait_for(run_task, 240)
    finally:
        if not run_task.done():
            run_task.cancel()
            await asyncio.gather(run_task, return_exceptions=True)

    # the same instance ran to its end, and the review is complete
    assert run.instance_key == incident.process_instance_key
    assert run.result is not None and not run.result.errors
    assert run.variables["verdict"] in {"comment", "request_changes", "approve"}
    feedback_events = [e for e in run.events if e.stage == "Load team feedback"]
    assert [e.status for e in feedback_events].count("failed") == 3
    assert feedback_events[-1].status == "completed"
    host = LocalGitHost(local_target(repo, "main", "feature"), settings().state_dir)
    progress = [c for c in host.list_comments() if c.fingerprint == "progress"]
    assert len(progress) == 1 and "review finished" in progress[0].body

    # the records show it resolved, and it is no longer open
    records = [r for r in local_engine.incidents() if r.incident_key == incident.incident_key]
    assert [r.intent for r in records] == ["CREATED", "RESOLVED"]
    assert incident.incident_key not in {i.incident_key for i in local_engine.open_incidents()}
