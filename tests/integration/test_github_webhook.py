"""GitHub end to end on the real engine: a signed webhook delivery starts the process through
the ingress, the workers read the PR from the GitHub emulator and post the review there.

The ingress is ``reviewflow webhook serve``'s app: a review request is a start-or-correlate
of the PR's start message on its business key (``owner/name#N``), so one instance runs per PR
and a push during a run makes that run review again when its round ends.
"""

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from reviewflow.engine.operaton import OperatonEngine
from reviewflow.engine.port import InstanceStatus
from reviewflow.review import github_target, start_pr_review
from reviewflow.sample import git, make_sample_repo, write
from reviewflow.webhook import create_app, engine_publisher
from shared.contract import PROCESS_ID
from shared.events import EventLog, StageEvent
from shared.git.base import PROGRESS_FINGERPRINT, fingerprint_of
from shared.git.github import read_state
from tests.integration.conftest import Workers
from tests.support.github_emulator import GitHubEmulator
from tests.support.webhooks import delivery, payload
from workers.runtime import current_settings

# the fixtures' repository and PR
REPO = "Codertocat/Hello-World"
PR = 2
TOKEN = "ghp_e2e_token"
BOT = "reviewflow-e2e[bot]"
SECRET = "e2e-webhook-secret"
BUSINESS_KEY = f"{REPO.lower()}#{PR}"
# delivery ids are unique per session: the ingress remembers them (and body digests)
RUN = uuid.uuid4().hex[:8]


def dashed(name: str) -> str:
    """A fixture name as part of a delivery id (GitHub's GUID alphabet: no dots, no _)."""
    return name.replace(".", "-").replace("_", "-")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sample_repo(tmp_path_factory.mktemp("gh") / "hello-world")


@pytest.fixture(scope="module")
def gh(repo: Path) -> Iterator[GitHubEmulator]:
    with GitHubEmulator() as emulator:
        emulator.add_repository(REPO, repo, default_branch="main")
        emulator.add_token(TOKEN, login=BOT)
        emulator.open_pull_request(REPO, base="main", head="main", title="Placeholder #1")
        number = emulator.open_pull_request(
            REPO, base="main", head="feature", title="Add orders", body="Orders and restock."
        )
        assert number == PR
        yield emulator


@pytest.fixture(scope="module")
def github_env(gh: GitHubEmulator) -> Iterator[None]:
    """Workers find GitHub through the environment, as in production."""
    values = {"REVIEWFLOW_GITHUB_API_URL": gh.base_url, "REVIEWFLOW_GITHUB_TOKEN": TOKEN}
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
async def ingress(github_env: None, client: OperatonEngine, workers: Workers) -> AsyncIterator[str]:
    """The webhook endpoint in front of the engine, with every worker running; its URL."""
    port = free_port()
    app = create_app(SECRET, engine_publisher(client))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{port}/inbound/reviewflow-github"
    server.should_exit = True
    await serving


async def send(url: str, event: str, body: Any, **kwargs: Any) -> httpx.Response:
    headers, raw = delivery(SECRET, event, body, **kwargs)
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(url, content=raw, headers=headers)


def events_of(run_id: str) -> list[StageEvent]:
    events, _ = EventLog(current_settings().artifacts_dir, run_id).read()
    return events


async def until_ended(
    client: OperatonEngine, instance_id: str, timeout: float = 180
) -> list[StageEvent]:
    """Wait for the instance to end; its stage events, every round in order."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        state = await client.instance(instance_id)
        if state.status is not InstanceStatus.ACTIVE:
            assert state.status is InstanceStatus.COMPLETED, state
            rounds = int(state.variables.get("reviewRound") or 1)
            return [
                e
                for r in range(1, rounds + 1)
                for e in events_of(instance_id if r == 1 else f"{instance_id}-r{r}")
            ]
        await asyncio.sleep(0.25)
    raise AssertionError(f"instance {instance_id} did not end: {events_of(instance_id)}")


def verdicts(gh: GitHubEmulator) -> list[dict[str, Any]]:
    return [
        r
        for r in gh.reviews(REPO, PR)
        if (fingerprint_of(r.get("body") or "") or "").startswith("verdict-")
    ]


def inline_fingerprints(gh: GitHubEmulator) -> list[str | None]:
    return [fingerprint_of(c["body"]) for c in gh.review_comments(REPO, PR)]


def synchronize(repo: Path, files: dict[str, str], message: str) -> dict[str, Any]:
    git(repo, "checkout", "-q", "feature")
    write(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)
    body = payload("pull_request.synchronize.payload")
    body["after"] = git(repo, "rev-parse", "HEAD")
    return body


async def test_rejected_and_irrelevant_deliveries_start_nothing(
    gh: GitHubEmulator, ingress: str, client: OperatonEngine
) -> None:
    opened = payload("pull_request.opened.payload")
    unsigned = await send(
        ingress, "pull_request", opened, delivery_id=f"unsigned-1-{RUN}", signed=False
    )
    assert unsigned.status_code == 401
    headers, raw = delivery("wrong-secret", "pull_request", opened, delivery_id=f"forged-1-{RUN}")
    async with httpx.AsyncClient() as http:
        forged = await http.post(ingress, content=raw, headers=headers)
    assert forged.status_code == 401
    for name in ("pull_request.labeled.payload", "pull_request.closed.payload"):
        answer = await send(
            ingress,
            "pull_request",
            payload(name),
            delivery_id=f"irrelevant-{dashed(name)}-{RUN}",
        )
        assert answer.status_code == 200 and answer.json()["status"] == "ignored"
    broken = await send(
        ingress, "pull_request", b'{"action": "opened", ', delivery_id=f"broken-1-{RUN}"
    )
    assert broken.status_code == 400
    await asyncio.sleep(2)
    assert await client.instances_by_business_key(PROCESS_ID, BUSINESS_KEY) == []
    assert gh.issue_comments(REPO, PR) == [] and gh.reviews(REPO, PR) == []


async def test_opened_then_synchronize_reviews_incrementally_without_duplicates(
    gh: GitHubEmulator, repo: Path, ingress: str, client: OperatonEngine
) -> None:
    # opened: a full review lands on the PR
    first = await send(
        ingress,
        "pull_request",
        payload("pull_request.opened.payload"),
        delivery_id=f"opened-1-{RUN}",
    )
    assert first.status_code == 202, first.text
    assert first.json()["review"] == "started"
    instance = first.json()["processInstanceId"]
    # GitHub redelivers the same delivery: the ingress has seen it, nothing starts
    again = await send(
        ingress,
        "pull_request",
        payload("pull_request.opened.payload"),
        delivery_id=f"opened-1-{RUN}",
    )
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    events = await until_ended(client, instance)
    assert not [e for e in events if e.status == "failed"], events
    assert await client.instances_by_business_key(PROCESS_ID, BUSINESS_KEY) == [instance]
    assert len(verdicts(gh)) == 1
    # no request per file: contents come in GraphQL batches; only the config file is fetched
    contents = [r.path for r in gh.requests if "/contents/" in r.path]
    assert contents == [f"/repos/{REPO}/contents/.reviewflow.yml"], contents
    posted = inline_fingerprints(gh)
    bodies = [c["body"] for c in gh.review_comments(REPO, PR)]
    # the mutable default of line 4 (Ruff's B006, whose fix spans lines 4-5: a multi-line
    # comment ending on line 5) and the identity comparison of line 10 (F632)
    spans = {
        (c["path"], c.get("start_line") or c["line"], c["line"])
        for c in gh.review_comments(REPO, PR)
    }
    assert ("inventory/orders.py", 4, 5) in spans, bodies
    assert ("inventory/orders.py", 10, 10) in spans, bodies
    assert len(set(posted)) == len(posted)
    progress = [
        c for c in gh.issue_comments(REPO, PR) if fingerprint_of(c["body"]) == PROGRESS_FINGERPRINT
    ]
    assert len(progress) == 1
    first_head = git(repo, "rev-parse", "feature")
    assert read_state(progress[0]["body"]) == {"lastReviewed": first_head}

    # synchronize: one new commit with a new bug; only it is reviewed, nothing is reposted
    body = synchronize(
        repo, {"inventory/pay.py": "def pay(amount):\n    return eval(amount)\n"}, "Add pay"
    )
    second = await send(ingress, "pull_request", body, delivery_id=f"sync-1-{RUN}")
    assert second.status_code == 202
    events = await until_ended(client, second.json()["processInstanceId"])
    assert len(verdicts(gh)) == 2
    after = gh.review_comments(REPO, PR)
    new = after[len(posted) :]
    assert {c["path"] for c in new} == {"inventory/pay.py"}, [c["body"] for c in new]
    fingerprints = inline_fingerprints(gh)
    assert len(set(fingerprints)) == len(fingerprints)
    validate = next(
        e for e in events if e.stage == "Validate new commits" and e.status == "completed"
    )
    assert validate.detail == "incremental review of 1 new commit(s)", validate
    progress = [
        c for c in gh.issue_comments(REPO, PR) if fingerprint_of(c["body"]) == PROGRESS_FINGERPRINT
    ]
    assert len(progress) == 1
    assert read_state(progress[0]["body"]) == {"lastReviewed": git(repo, "rev-parse", "feature")}


async def test_pushes_during_a_review_wait_their_turn(
    gh: GitHubEmulator, repo: Path, ingress: str, client: OperatonEngine
) -> None:
    """Two deliveries for the same PR at once: the second reaches the running instance, which
    reviews again after its round, so the two rounds never post at the same time and the
    second push is not lost."""
    before = set(await client.instances_by_business_key(PROCESS_ID, BUSINESS_KEY))
    body = synchronize(
        repo, {"inventory/ship.py": "def ship(order, log=[]):\n    log.append(order)\n"}, "Add ship"
    )
    a = await send(ingress, "pull_request", body, delivery_id=f"burst-a-{RUN}")
    body = synchronize(
        repo, {"inventory/ship2.py": "def ship2(x):\n    return x is 'fast'\n"}, "Add ship2"
    )
    b = await send(ingress, "pull_request", body, delivery_id=f"burst-b-{RUN}")
    assert (a.status_code, b.status_code) == (202, 202)
    assert (a.json()["review"], b.json()["review"]) == ("started", "queued")
    instance = a.json()["processInstanceId"]
    assert b.json()["processInstanceId"] == instance
    await until_ended(client, instance)
    state = await client.instance(instance)
    assert state.variables["reviewRound"] == 2
    first, second = events_of(instance), events_of(f"{instance}-r2")
    assert first and second
    assert max(e.at for e in first) <= min(e.at for e in second), "the rounds overlapped"
    # one instance for both pushes
    after = set(await client.instances_by_business_key(PROCESS_ID, BUSINESS_KEY))
    assert after - before == {instance}
    fingerprints = inline_fingerprints(gh)
    assert len(set(fingerprints)) == len(fingerprints)
    paths = {c["path"] for c in gh.review_comments(REPO, PR)}
    assert {"inventory/ship.py", "inventory/ship2.py"} <= paths
    assert read_state(
        next(
            c["body"]
            for c in gh.issue_comments(REPO, PR)
            if fingerprint_of(c["body"]) == PROGRESS_FINGERPRINT
        )
    ) == {"lastReviewed": git(repo, "rev-parse", "feature")}
    with contextlib.suppress(Exception):
        git(repo, "checkout", "-q", "main")


async def test_a_fixed_problem_resolves_its_thread_and_a_force_push_reviews_everything(
    gh: GitHubEmulator, repo: Path, ingress: str, client: OperatonEngine
) -> None:
    def thread_of(path: str, line: int) -> dict[str, Any]:
        return next(t for t in gh.threads(REPO, PR) if (t["path"], t["line"]) == (path, line))

    assert not thread_of("inventory/orders.py", 5)["isResolved"]
    fixed = git(repo, "show", "feature:inventory/orders.py").replace(
        "def add_order(order, pending=[]):",
        "def add_order(order, pending=None):\n    pending = pending or []",
    )
    body = synchronize(repo, {"inventory/orders.py": fixed}, "Fix the shared default")
    answer = await send(ingress, "pull_request", body, delivery_id=f"fix-{RUN}")
    assert answer.status_code == 202
    await until_ended(client, answer.json()["processInstanceId"])
    assert thread_of("inventory/orders.py", 5)["isResolved"]

    # a force-push rewrites the branch: the last reviewed commit is gone, so a full review
    git(repo, "checkout", "-q", "feature")
    git(repo, "reset", "-q", "--hard", "main")
    body = synchronize(
        repo,
        {"inventory/orders.py": fixed, "inventory/late.py": "X = eval('1')\n"},
        "Rewritten history",
    )
    answer = await send(ingress, "pull_request", body, delivery_id=f"force-{RUN}")
    assert answer.status_code == 202
    events = await until_ended(client, answer.json()["processInstanceId"])
    validate = next(
        e for e in events if e.stage == "Validate new commits" and e.status == "completed"
    )
    assert validate.detail.endswith("is gone (force-push or rebase): full review"), validate
    fingerprints = inline_fingerprints(gh)
    assert len(set(fingerprints)) == len(fingerprints), "a finding was posted twice"


async def test_cli_start_of_a_draft_pr_is_skipped_with_the_reason(
    client: OperatonEngine, gh: GitHubEmulator, ingress: str
) -> None:
    number = gh.open_pull_request(REPO, base="main", head="feature", title="Early", draft=True)
    run = await start_pr_review(client, github_target(f"{REPO}#{number}"), timeout_s=120)
    assert run.skipped is not None and "draft" in run.skipped
    comments = gh.issue_comments(REPO, number)
    assert len(comments) == 1 and "draft" in comments[0]["body"]
    assert gh.reviews(REPO, number) == []
