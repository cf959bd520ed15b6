"""The fault suite's scenarios ("Nothing lost, nothing let in"), shared by bench/reliability.py
(every scenario, figures and JSON) and tests/integration/test_reliability.py (the CI subset).

Workers run as real processes (``reviewflow worker`` through
:mod:`tests.support.fault_worker`), killed with SIGKILL; the engine is the state dir's
:class:`~reviewflow.engine.local.LocalEngine` (or any engine for the scenarios that do not
restart it). Every wait is bounded in time; every loop in count. Only processes started here
are signalled, by their own process group id.
"""

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from reviewflow.engine.operaton import OperatonEngine
from reviewflow.engine.port import EngineRequestError, EngineUnavailable, InstanceStatus
from reviewflow.review import local_target
from reviewflow.sample import make_sample_repo
from shared.contract import HEAVY_BRANCHES, PROCESS_ID, STAGES
from shared.events import EventLog
from shared.git.local import LocalGitHost
from shared.models import ReviewTarget
from workers.runtime import current_settings

ROOT = Path(__file__).resolve().parents[2]
# every light stage, then the three heavy branches (their background work, not the dispatch)
LIGHT_TOPICS = [s.topic for s in STAGES if s.kind == "light"]
HEAVY_TOPICS = [b.topic for b in HEAVY_BRANCHES]
# the 17 stages (a heavy stage: its dispatch task), then the 3 heavy branches' background work
KILL_TOPICS = [
    s.topic if s.kind == "light" else f"dispatch:{s.topic}" for s in STAGES
] + HEAVY_TOPICS
# CI's representative subset: a light stage, a posting stage, a heavy branch
QUICK_KILL_TOPICS = [
    "reviewflow.fetch-changed-files",
    "reviewflow.create-file-comments",
    "reviewflow.file-review",
]


# --- processes ---------------------------------------------------------------------------


class WorkerProcess:
    """``reviewflow worker <group>`` (with the test-only fault hooks when ``env`` sets them),
    in its own process group, output to ``log``."""

    def __init__(self, group: str, env: Mapping[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.fault_worker", group],
            cwd=ROOT,
            env=dict(env),
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL this worker and its process pool (its own process group)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._out.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
                return
        # the heavy pool's children share the group
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self._out.close()


def worker_env(rest_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("REVIEWFLOW_FAULT_HOLD", "REVIEWFLOW_FAULT_SLOW_MS", "REVIEWFLOW_FAULT_MARKERS"):
        env.pop(name, None)
    env.update(
        {
            "REVIEWFLOW_ENGINE_URL": rest_url,
            "REVIEWFLOW_LOCK_MS": "3000",
            "REVIEWFLOW_POLL_WAIT_MS": "2000",
            "REVIEWFLOW_RETRY_BACKOFF_MS": "200",
            "PYTHONPATH": str(ROOT),
        }
    )
    env.update(extra)
    return env


# --- reviews -------------------------------------------------------------------------------


@dataclass
class Review:
    label: str
    repo: Path
    instance_id: str = ""
    status: str = "not started"
    incidents: int = 0
    variables: dict[str, Any] = field(default_factory=dict)

    @property
    def target(self) -> ReviewTarget:
        return local_target(self.repo, "main", "feature")


def sample_repos(root: Path, labels: Sequence[str]) -> list[Review]:
    """One fresh copy of the sample repository per label (copies of one made repository)."""
    root.mkdir(parents=True, exist_ok=True)
    template = root / "_template"
    if not template.exists():
        make_sample_repo(template)
    reviews = []
    for label in labels:
        path = root / f"{label.replace('.', '_')}-{uuid.uuid4().hex[:6]}"
        shutil.copytree(template, path, symlinks=True)
        reviews.append(Review(label, path))
    return reviews


async def start(engine: OperatonEngine, review: Review, heavy_timeout: str | None) -> None:
    variables: dict[str, Any] = {
        "target": review.target.model_dump(mode="json", exclude_none=True),
        "trigger": "cli",
    }
    if heavy_timeout:
        variables["heavyTimeout"] = heavy_timeout
    delay = 0.5
    for _ in range(60):
        try:
            review.instance_id = await engine.start_instance(
                PROCESS_ID, variables, business_key=review.target.key
            )
            review.status = "started"
            return
        except EngineUnavailable:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
    raise RuntimeError(f"could not start {review.label}")


async def running_ids(engine: OperatonEngine, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` still run: one runtime query per 100 ids (cheap for the engine, unlike
    reading every instance's history and variables on every poll)."""
    running: set[str] = set()
    for i in range(0, len(ids), 100):
        chunk = list(ids[i : i + 100])
        response = await engine._request(
            "POST", "/process-instance", json_body={"processInstanceIds": chunk}
        )
        if response.status_code != 200:
            raise EngineRequestError(f"listing instances: {response.status_code}")
        running.update(str(raw["id"]) for raw in response.json())
    return running


async def wait_all(
    engine: OperatonEngine, reviews: Sequence[Review], timeout_s: float, parallel: int = 8
) -> None:
    """Poll until every instance ended (or the deadline); rides through engine outages. An
    ended instance's state (history, variables, incidents) is read once, at its end."""
    deadline = time.monotonic() + timeout_s
    slots = asyncio.Semaphore(parallel)
    pending = {r.instance_id: r for r in reviews}

    async def read(review: Review) -> None:
        async with slots:
            try:
                state = await engine.instance(review.instance_id)
            except EngineRequestError:
                # not running and not in the history: the engine lost the instance it started
                review.status = "lost"
                return
        review.incidents = state.incidents
        review.status = state.status.value
        review.variables = dict(state.variables)

    while pending and time.monotonic() < deadline:
        try:
            running = await running_ids(engine, list(pending))
            ended = [r for i, r in pending.items() if i not in running]
            await asyncio.gather(*(read(r) for r in ended))
        except (EngineUnavailable, EngineRequestError):
            await asyncio.sleep(1.0)
            continue
        for review in ended:
            if review.status != InstanceStatus.ACTIVE.value:
                del pending[review.instance_id]
        for instance_id in running:
            pending[instance_id].status = "active"
        if pending:
            await asyncio.sleep(0.5)
    for review in pending.values():
        review.status = "stuck"
        with contextlib.suppress(EngineUnavailable, EngineRequestError):
            review.incidents = (await engine.instance(review.instance_id)).incidents


def signature(review: Review) -> dict[str, Any]:
    """What the author sees, counted: comments by (kind, path, line), the progress comment,
    the verdicts. Two runs that posted the same things have equal signatures."""
    host = LocalGitHost(review.target, current_settings().state_dir)
    comments = host.list_comments()
    state = host._read_state()  # the local host's record of submitted verdicts
    keys = Counter(f"{c.kind}:{c.path}:{c.line}:{c.fingerprint}" for c in comments)
    return {
        "comments": dict(sorted(keys.items())),
        "duplicates": sum(n - 1 for n in keys.values() if n > 1)
        + sum(n - 1 for n in Counter(c.body for c in comments).values() if n > 1),
        "verdicts": [v["verdict"] for v in state.get("verdicts", [])],
    }


@dataclass
class Outcome:
    label: str
    ok: bool
    status: str
    detail: str
    seconds: float = 0.0


def branch_problems(review: Review) -> list[str]:
    """The heavy branches of a completed review that did not end ``ok``."""
    problems = []
    for branch in HEAVY_BRANCHES:
        raw = review.variables.get(branch.outcome_variable)
        if isinstance(raw, str):
            raw = json.loads(raw) if raw.startswith("{") else {"status": raw}
        status = raw.get("status") if isinstance(raw, dict) else None
        if status != "ok":
            problems.append(f"{branch.key} branch {status or 'missing'}")
    return problems


def judge(
    review: Review, expected: dict[str, Any] | None, instances: int, check_branches: bool = True
) -> Outcome:
    """Completed, no incident, one instance, every heavy branch ``ok`` (recovered, not marked
    timed out), nothing posted twice, one verdict, and (given ``expected``) exactly what the
    control review posted."""
    sig = signature(review)
    problems = []
    if review.status != InstanceStatus.COMPLETED.value:
        problems.append(f"instance {review.status}")
    if review.incidents:
        problems.append(f"{review.incidents} incident(s)")
    if sig["duplicates"]:
        problems.append(f"{sig['duplicates']} duplicate comment(s)")
    if len(sig["verdicts"]) != 1:
        problems.append(f"{len(sig['verdicts'])} verdicts")
    if expected is not None and sig["comments"] != expected["comments"]:
        problems.append(f"comments differ: {sig['comments']} vs {expected['comments']}")
    if instances != 1:
        problems.append(f"{instances} instances for the business key")
    if check_branches:
        problems.extend(branch_problems(review))
    detail = "; ".join(problems) or (
        f"{sum(sig['comments'].values())} comments once, verdict {sig['verdicts'][0]} once"
    )
    return Outcome(review.label, not problems, review.status, detail)


async def instance_count(engine: OperatonEngine, review: Review) -> int:
    for _ in range(20):
        try:
            return len(await engine.instances_by_business_key(PROCESS_ID, review.target.key))
        except EngineUnavailable:
            await asyncio.sleep(1.0)
    return -1


# --- scenario: kill points -------------------------------------------------------------------


@dataclass
class KillReport:
    outcomes: list[Outcome]
    held: list[str]
    kill_after_first_hold_s: float
    recovery_s: float
    wall_s: float

    @property
    def passed(self) -> int:
        return sum(o.ok for o in self.outcomes)


async def kill_points(
    engine: OperatonEngine,
    work: Path,
    topics: Sequence[str],
    lock_ms: int = 3000,
    heavy_timeout: str = "PT30S",
    timeout_s: float = 240,
) -> KillReport:
    """Every review in ``topics`` is held by one worker process at its stage (after the stage's
    body ran, before the task is reported); with all of them held, SIGKILL that process; a new
    worker process finishes them. One more review, never held, is the control: every killed
    review must post exactly what it posted."""
    started = time.monotonic()
    work.mkdir(parents=True, exist_ok=True)
    reviews = sample_repos(work / "repos", ["control", *topics])
    control, held_reviews = reviews[0], reviews[1:]
    markers = work / f"holds-{uuid.uuid4().hex[:6]}.tsv"
    markers.touch()
    holds = {str(r.target.repository): r.label for r in held_reviews}
    hold_env = worker_env(
        engine.rest_url,
        REVIEWFLOW_LOCK_MS=str(lock_ms),
        REVIEWFLOW_LIGHT_CONCURRENCY=str(len(topics) + 16),
        REVIEWFLOW_FAULT_HOLD=json.dumps(holds),
        REVIEWFLOW_FAULT_MARKERS=str(markers),
    )
    doomed = WorkerProcess("all", hold_env, work / "worker-held.log")
    rescuer: WorkerProcess | None = None
    try:
        await asyncio.gather(*(start(engine, r, heavy_timeout) for r in reviews))
        first_hold: float | None = None
        held: set[str] = set()
        deadline = time.monotonic() + timeout_s / 2
        while time.monotonic() < deadline and len(held) < len(held_reviews):
            held = {line.split("\t")[0] for line in markers.read_text().splitlines() if line}
            if held and first_hold is None:
                first_hold = time.monotonic()
            await asyncio.sleep(0.1)
        killed_at = time.monotonic()
        doomed.kill()
        rescuer = WorkerProcess(
            "all",
            worker_env(engine.rest_url, REVIEWFLOW_LOCK_MS=str(lock_ms)),
            work / "worker-rescuer.log",
        )
        await wait_all(engine, reviews, timeout_s)
        recovery = time.monotonic() - killed_at
    finally:
        doomed.stop() if doomed.proc.poll() is None else None
        if rescuer is not None:
            rescuer.stop()
    expected = signature(control)
    outcomes = []
    for review in reviews:
        outcome = judge(review, expected, await instance_count(engine, review))
        if review is not control and str(review.target.repository) not in held:
            outcome.ok = False
            outcome.detail = "never held (the kill did not land on this task): " + outcome.detail
        outcomes.append(outcome)
    return KillReport(
        outcomes=outcomes,
        held=sorted(holds[h] for h in held),
        kill_after_first_hold_s=round(killed_at - (first_hold or killed_at), 2),
        recovery_s=round(recovery, 1),
        wall_s=round(time.monotonic() - started, 1),
    )


# --- scenario: engine restart ----------------------------------------------------------------


@dataclass
class RestartReport:
    outcomes: list[Outcome]
    points: list[str]
    restarts: int
    outage_s: list[float]
    wall_s: float

    @property
    def passed(self) -> int:
        return sum(o.ok for o in self.outcomes)


def last_stage(review: Review) -> str:
    events, _ = EventLog(current_settings().artifacts_dir, review.instance_id).read(0)
    if not events:
        return "before the first stage"
    return f"{events[-1].stage} {events[-1].status}"


async def engine_restart(
    local: Any,
    work: Path,
    rounds: int = 3,
    per_round: int = 4,
    slow_ms: int = 250,
    timeout_s: float = 300,
) -> RestartReport:
    """``rounds`` times: start ``per_round - 1`` reviews a second apart, one more right before
    the kill, SIGKILL the engine's java process while they run, start the engine again on the
    same state dir and H2 database. One worker process (every handler slowed by ``slow_ms`` so
    reviews span the kill) rides through every outage."""
    started = time.monotonic()
    work.mkdir(parents=True, exist_ok=True)
    engine = OperatonEngine(local.rest_url, timeout_s=10)
    worker = WorkerProcess(
        "all",
        worker_env(local.rest_url, REVIEWFLOW_FAULT_SLOW_MS=str(slow_ms)),
        work / "worker-restart.log",
    )
    control = sample_repos(work / "repos", ["control"])[0]
    reviews: list[Review] = []
    points: list[str] = []
    outages: list[float] = []
    try:
        await start(engine, control, None)
        await wait_all(engine, [control], 120)
        expected = signature(control)
        for round_ in range(rounds):
            batch = sample_repos(work / "repos", [f"r{round_}-{i}" for i in range(per_round)])
            for i, review in enumerate(batch[:-1]):
                await start(engine, review, "PT30S")
                if i < per_round - 2:
                    await asyncio.sleep(1.0 + 0.5 * round_)
            await asyncio.sleep(0.5 + round_)
            # the last one starts right before the kill: its start must survive it
            await start(engine, batch[-1], "PT30S")
            await asyncio.sleep(0.05)
            points.extend(f"{r.label}: {last_stage(r)}" for r in batch[:-1])
            points.append(f"{batch[-1].label}: just started (killed 0.05 s after the start)")
            record = local.read_pid_record()
            assert record is not None, "the engine runs no process of ours"
            down_at = time.monotonic()
            os.kill(record.pid, signal.SIGKILL)
            for _ in range(100):
                if not local.status().process_alive:
                    break
                await asyncio.sleep(0.1)
            await asyncio.to_thread(local.up)
            outages.append(round(time.monotonic() - down_at, 1))
            reviews.extend(batch)
        await wait_all(engine, reviews, timeout_s)
        outcomes = [judge(r, expected, await instance_count(engine, r)) for r in reviews]
    finally:
        worker.stop()
        await engine.aclose()
    return RestartReport(
        outcomes=outcomes,
        points=points,
        restarts=rounds,
        outage_s=outages,
        wall_s=round(time.monotonic() - started, 1),
    )


def as_json(report: Any) -> Any:
    return asdict(report)


def files_under(root: Path) -> Iterator[Path]:
    return (p for p in root.rglob("*") if p.is_file())


async def history_variables(rest_url: str) -> list[dict[str, Any]]:
    """Every historic variable of the engine (paged; what Cockpit and the REST API show)."""
    out: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=rest_url, timeout=60) as client:
        for page in range(1000):
            response = await client.get(
                "/history/variable-instance",
                params={
                    "deserializeValues": "false",
                    "firstResult": str(page * 500),
                    "maxResults": "500",
                },
            )
            response.raise_for_status()
            chunk = response.json()
            out.extend(chunk)
            if len(chunk) < 500:
                break
    return out


# --- scenario: LLM faults through the engine --------------------------------------------------


class ScriptedLlm:
    """A model that answers every call the reviewer makes with a valid reply (the shape of
    tests/integration/test_llm_pipeline.py's ScriptedModel), or, in a mode, fails them all."""

    def __init__(self) -> None:
        self.mode = "ok"  # "ok", "down" (every call 500), "schema" (valid JSON, wrong shape)

    def __call__(self, request: dict[str, Any]) -> str | None:
        from shared.llm.prompts import (
            file_review_system,
            pr_review_system,
            self_check_system,
            summary_system,
        )

        if self.mode == "down":
            return None
        if self.mode == "schema":
            return json.dumps({"unexpected": ["shape"], "suggestions": "not a list"})
        system = str(request["messages"][0]["content"])
        if system == pr_review_system():
            return json.dumps({"findings": []})
        if system == self_check_system():
            return json.dumps(
                {"verdicts": [{"index": i, "keep": True, "reason": "real"} for i in range(20)]}
            )
        if system == summary_system():
            return json.dumps({"summary": "fault suite: a scripted summary"})
        if system.startswith(file_review_system(())[:60]):
            return json.dumps({"suggestions": []})
        return json.dumps({})


@dataclass
class LlmCase:
    name: str
    outcome: str  # "recovered", "gap" (the result names what is missing) or "lost"
    errors: list[str]
    calls: int
    failed_calls: int
    seconds: float
    key_sent: bool = False  # every call carried the API key (it was there to leak)


LLM_CASES = ("429-retry-after", "5xx", "timeout", "malformed", "schema-invalid", "model-down")
QUICK_LLM_CASES = ("429-retry-after", "timeout", "model-down")


def _script(server: Any, model: ScriptedLlm, case: str) -> None:
    from tests.support.llm_server import Failure

    model.mode = "ok"
    if case == "429-retry-after":
        for _ in range(3):
            server.queue_failure(Failure.http(429, retry_after="1"))
    elif case == "5xx":
        for status in (500, 502, 503):
            server.queue_failure(Failure.http(status))
    elif case == "timeout":
        for _ in range(2):
            server.queue_failure(Failure.hang(6.0))
    elif case == "malformed":
        for _ in range(3):
            server.queue_failure(Failure.malformed_body())
    elif case == "schema-invalid":
        for _ in range(3):
            server.queue_reply({"suggestions": "not a list", "findings": 7})
    elif case == "model-down":
        model.mode = "down"
    else:
        raise ValueError(case)


async def llm_faults(
    engine: OperatonEngine,
    work: Path,
    cases: Sequence[str],
    api_key: str,
    timeout_s: float = 180,
) -> list[LlmCase]:
    """One review per case through the engine and a worker process whose model is the fake
    server; the failures are scripted before the review starts. Each review must complete:
    either every call recovered (no error in the result), or the result names the gap."""
    from shared.artifacts import ArtifactStore
    from shared.stages.outcome import ReviewResult
    from tests.support.llm_server import FakeLlmServer
    from workers.runtime import unspill

    work.mkdir(parents=True, exist_ok=True)
    model = ScriptedLlm()
    out: list[LlmCase] = []
    with FakeLlmServer(responder=model) as server:  # type: ignore[arg-type]
        env = worker_env(
            engine.rest_url,
            REVIEWFLOW_LLM_BASE_URL=server.base_url,
            REVIEWFLOW_LLM_API_KEY=api_key,
            REVIEWFLOW_LLM_MODEL="reviewflow-fault-model",
            REVIEWFLOW_LLM_MAX_RETRIES="3",
            REVIEWFLOW_LLM_TIMEOUT_SECONDS="3",
        )
        worker = WorkerProcess("all", env, work / "worker-llm.log")
        try:
            for case in cases:
                (review,) = sample_repos(work / "repos", [case])
                _script(server, model, case)
                before = len(server.requests)
                began = time.monotonic()
                await start(engine, review, "PT60S")
                await wait_all(engine, [review], timeout_s)
                requests = server.requests[before:]
                errors: list[str] = []
                result = None
                if review.status == InstanceStatus.COMPLETED.value:
                    store = ArtifactStore(current_settings().artifacts_dir)
                    variables = unspill(store, review.variables)
                    if variables.get("resultArtifact"):
                        result = store.get(str(variables["resultArtifact"]), ReviewResult)
                if result is None:
                    outcome = "lost"
                else:
                    errors = list(result.errors)
                    outcome = "gap" if errors else "recovered"
                out.append(
                    LlmCase(
                        name=case,
                        outcome=outcome,
                        errors=errors,
                        calls=len(requests),
                        failed_calls=sum(r.status != 200 for r in requests),
                        seconds=round(time.monotonic() - began, 1),
                        key_sent=bool(requests)
                        and all(
                            r.headers.get("authorization") == f"Bearer {api_key}" for r in requests
                        ),
                    )
                )
        finally:
            worker.stop()
    return out


# --- scenario: load ---------------------------------------------------------------------------


@dataclass
class LoadReport:
    reviews: int
    completed: int
    lost: int
    stuck: int
    incidents: int
    duplicates: int
    gaps: int  # completed reviews with a heavy branch not ok (timed out or failed)
    wall_s: float
    per_second: float


async def load(
    engine: OperatonEngine, work: Path, count: int = 200, timeout_s: float = 600
) -> LoadReport:
    """``count`` reviews of tiny repositories started at once against fast workers (offline
    reviewer): a light worker process and a heavy one."""
    reviews = sample_repos(work / "repos", [f"load{i}" for i in range(count)])
    # production locks (the diagram's): this is about throughput, not recovery
    env = worker_env(engine.rest_url, REVIEWFLOW_LOCK_MS="20000")
    light = WorkerProcess("light", env, work / "worker-load-light.log")
    heavy = WorkerProcess("heavy", env, work / "worker-load-heavy.log")
    try:
        began = time.monotonic()
        await asyncio.gather(*(start(engine, r, "PT120S") for r in reviews))
        await wait_all(engine, reviews, timeout_s, parallel=8)
        wall = time.monotonic() - began
    finally:
        light.stop()
        heavy.stop()
    completed = sum(r.status == InstanceStatus.COMPLETED.value for r in reviews)
    duplicates = sum(signature(r)["duplicates"] for r in reviews)
    return LoadReport(
        reviews=count,
        completed=completed,
        lost=sum(r.status not in (InstanceStatus.COMPLETED.value, "stuck") for r in reviews),
        stuck=sum(r.status == "stuck" for r in reviews),
        incidents=sum(r.incidents for r in reviews),
        duplicates=duplicates,
        gaps=sum(bool(branch_problems(r)) for r in reviews if r.status == "completed"),
        wall_s=round(wall, 1),
        per_second=round(count / wall, 2),
    )


# --- scenario: secrets --------------------------------------------------------------------------


@dataclass
class SecretsReport:
    secrets: int
    history_variables: int
    places: dict[str, int]  # where searched -> files/values searched
    hits: dict[str, list[str]]

    @property
    def found(self) -> int:
        return sum(len(v) for v in self.hits.values())


async def secrets_scan(
    rest_url: str, secrets: Mapping[str, str], engine_dir: Path | None, extra_dirs: Sequence[Path]
) -> SecretsReport:
    """Search every historic process variable, the engine's files (H2 database, log), the
    artifacts and event logs of the state dir and the worker logs for each secret."""
    values = {name: value.encode() for name, value in secrets.items() if value}
    hits: dict[str, list[str]] = {}
    places: dict[str, int] = {}
    variables = await history_variables(rest_url)
    places["history variables"] = len(variables)
    text = json.dumps(variables)
    for name, value in values.items():
        if value.decode() in text:
            hits.setdefault("history variables", []).append(name)
    roots = {"state dir (artifacts, events, comments)": current_settings().state_dir}
    if engine_dir is not None:
        roots["engine files (H2, log)"] = engine_dir
    for i, extra in enumerate(extra_dirs):
        roots["suite work dir (worker logs, repositories)" + (f" {i + 1}" if i else "")] = extra
    for place, root in roots.items():
        count = 0
        for path in files_under(root):
            if engine_dir is not None and place.startswith("state") and engine_dir in path.parents:
                continue
            count += 1
            with contextlib.suppress(OSError):
                data = path.read_bytes()
                for name, value in values.items():
                    if value in data:
                        hits.setdefault(place, []).append(f"{name} in {path}")
        places[place] = count
    return SecretsReport(len(values), len(variables), places, hits)
