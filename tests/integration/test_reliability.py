"""The fault suite's CI subset ("Nothing lost, nothing let in"); the whole suite, with figures, is
``bench/reliability.py`` (see the README's Reliability section). Workers run as processes and
are SIGKILLed; the engine's java process is SIGKILLed and started again.

Every worker process started here carries a GitHub token, a webhook secret and an LLM key in its
environment; the last test searches the engine's history, its files and every log for them.
"""

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from reviewflow.engine.local import LocalEngine
from reviewflow.engine.operaton import OperatonEngine
from tests.integration.conftest import EngineHandle
from tests.support import faults

SECRETS = {
    "llm-api-key": f"sk-reliability-{uuid.uuid4().hex}",
    "github-token": f"ghp_reliability{uuid.uuid4().hex}",
    "webhook-secret": f"whsec-reliability-{uuid.uuid4().hex}",
}


@pytest.fixture(scope="module", autouse=True)
def secrets_in_the_environment() -> Iterator[None]:
    names = {
        "REVIEWFLOW_GITHUB_TOKEN": "github-token",
        "SECRET_GITHUB_WEBHOOK_SECRET": "webhook-secret",
    }
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update({name: SECRETS[key] for name, key in names.items()})
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reliability")


async def test_a_killed_worker_loses_nothing_and_posts_nothing_twice(
    client: OperatonEngine, work: Path
) -> None:
    report = await faults.kill_points(client, work / "kill", faults.QUICK_KILL_TOPICS)
    assert sorted(report.held) == sorted(faults.QUICK_KILL_TOPICS), report
    bad = [o for o in report.outcomes if not o.ok]
    assert not bad, bad
    assert report.passed == len(faults.QUICK_KILL_TOPICS) + 1  # and the control


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_an_engine_killed_mid_review_comes_back_and_every_review_completes_once(
    engine: EngineHandle, work: Path
) -> None:
    local = engine.local
    private = local is None  # an external engine is not ours to kill: start one of our own
    if local is None:
        local = LocalEngine(state_dir=work / "engine-state", port=_free_port())
        local.up()
    try:
        report = await faults.engine_restart(local, work / "restart", rounds=1, per_round=3)
    finally:
        if private:
            local.down()
    bad = [o for o in report.outcomes if not o.ok]
    assert not bad, (bad, report.points)
    assert report.passed == 3


async def test_llm_faults_are_recovered_or_named_never_lost(
    client: OperatonEngine, work: Path
) -> None:
    cases = await faults.llm_faults(
        client, work / "llm", faults.QUICK_LLM_CASES, SECRETS["llm-api-key"]
    )
    by_name = {c.name: c for c in cases}
    assert all(c.outcome != "lost" and c.key_sent for c in cases), cases
    assert by_name["429-retry-after"].outcome == "recovered", cases
    assert by_name["timeout"].outcome == "recovered", cases
    down = by_name["model-down"]
    assert down.outcome == "gap" and any("PR-level review failed" in e for e in down.errors)


async def test_many_reviews_at_once_none_lost_stuck_or_failed(
    client: OperatonEngine, work: Path
) -> None:
    report = await faults.load(client, work / "load", count=20, timeout_s=240)
    assert (report.completed, report.lost, report.stuck, report.incidents) == (20, 0, 0, 0)
    assert report.duplicates == 0 and report.gaps == 0


async def test_no_secret_in_history_engine_files_artifacts_or_logs(
    engine: EngineHandle, work: Path
) -> None:
    engine_dir = engine.local.engine_dir if engine.local is not None else None
    scan = await faults.secrets_scan(engine.rest_url, SECRETS, engine_dir, [work])
    assert scan.history_variables > 0 and scan.places
    assert scan.found == 0, scan.hits
