"""Benchmark: one review through the Operaton engine against the same stages run one after
another in one process.

What it measures, on fresh copies of the sample repository (``reviewflow sample``), each run
with a new repository so every review does the full work:

- **engine**: ``bpmn/code_review.bpmn`` on Operaton, with ``reviewflow worker light`` and
  ``reviewflow worker heavy`` as separate processes talking to the engine's REST API
  (``REVIEWFLOW_ENGINE_URL``). The three heavy stages run as parallel branches; a dispatch task
  completes at once and the work reports back by message.
- **sequential**: one process that calls the same stage functions in pipeline order, the way a
  single-worker reviewer would: the light stage functions of ``workers/light`` and the heavy
  branch bodies of ``workers/heavy`` (the very coroutines the heavy worker runs, awaited one
  after the other; CPU work runs in a thread of that process instead of the process pool).
- **no-op engine runs**: the same diagram served by one poller whose handlers do nothing but
  complete each task (a heavy dispatch also correlates its done message with its wait key, and
  the AST one the two AST context messages, at once): the engine's own cost per hop.

Both modes run offline (tree-sitter reviewer) and against ``tests/support/llm_server.py``'s
FakeLlmServer with a fixed latency per call. Engine and sequential runs alternate, so a load
change on the machine hits both.

The engine comes up through :class:`reviewflow.engine.local.LocalEngine` (the path
``reviewflow review`` takes; ``REVIEWFLOW_STATE_DIR`` and ``REVIEWFLOW_ENGINE_PORT`` choose the
instance), or is the running one in ``REVIEWFLOW_ENGINE_URL``. The script stops only what it
started: the local engine if it was not already running, and its own worker processes.
"""

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import multiprocessing
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

import httpx

from reviewflow.engine.local import LocalEngine
from reviewflow.engine.operaton import OperatonEngine
from reviewflow.engine.port import EnginePort, ExternalTask, MessageNotCorrelated
from reviewflow.review import deploy, local_target
from reviewflow.sample import make_sample_repo
from shared.artifacts import ArtifactStore
from shared.contract import HEAVY_BRANCHES, PROCESS_ID, STAGES, TOPICS
from shared.events import EventLog, StageEvent
from shared.models import ReviewTarget
from workers.heavy.runtime import Work
from workers.inprocess import AFTER_HEAVY, BEFORE_HEAVY, heavy_bodies
from workers.poller import TaskPoller
from workers.runtime import (
    StageContext,
    StageFunction,
    TaskSpec,
    Variables,
    settings,
    unspill,
)

ROOT = Path(__file__).resolve().parent.parent
LLM_ENV = ("REVIEWFLOW_LLM_BASE_URL", "REVIEWFLOW_LLM_API_KEY", "REVIEWFLOW_LLM_MODEL")

# tasks one after another on the engine's critical path: 8 light, the AST dispatch, an LLM
# branch's dispatch (after the AST context message), 6 light; and 3 messages on it (AST
# context, the LLM branch's done message, and the AST done message is off the path)
CRITICAL_PATH_TASKS = len(BEFORE_HEAVY) + 2 + len(AFTER_HEAVY)
CRITICAL_PATH_MESSAGES = 2
LIGHT_TITLES = frozenset(s.title for s in STAGES if s.kind == "light")
HEAVY_TITLES = frozenset({"AST analysis", "PR-level review", "per-file review"})


# --- figures ---------------------------------------------------------------------------------


def spread(values: Sequence[float], unit: str = "s") -> str:
    if not values:
        return "n/a"
    return (
        f"median {statistics.median(values):6.2f} {unit}  (min {min(values):.2f}, "
        f"max {max(values):.2f}, n={len(values)})"
    )


def ratio(a: Sequence[float], b: Sequence[float]) -> float:
    return statistics.median(a) / statistics.median(b)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def hop_gaps(events: Sequence[StageEvent]) -> list[float]:
    """Seconds from one light stage's end to the next light stage's start (engine + polling
    + the worker's own handling), from the run's event log; gaps across the heavy section are
    left out."""
    gaps: list[float] = []
    last_done: float | None = None
    for event in sorted(events, key=lambda e: e.at):
        if event.stage not in LIGHT_TITLES:
            last_done = None
        elif event.status == "started":
            if last_done is not None:
                gaps.append(event.at - last_done)
            last_done = None
        elif event.status in ("completed", "skipped"):
            last_done = event.at
    return gaps


def heavy_overlap(events: Sequence[StageEvent]) -> bool:
    """The two LLM-side branches (PR-level and per-file) ran at the same time. (They start
    after the AST branch's context message, by design of the diagram.)"""
    starts = {e.stage: e.at for e in events if e.stage in HEAVY_TITLES and e.status == "started"}
    ends = {e.stage: e.at for e in events if e.stage in HEAVY_TITLES and e.status == "completed"}
    pair = ("PR-level review", "per-file review")
    if not all(s in starts and s in ends for s in pair):
        return False
    return max(starts[s] for s in pair) < min(ends[s] for s in pair)


# --- memory ----------------------------------------------------------------------------------


def _proc_kib(pid: int, key: str, name: str = "status") -> int | None:
    """A ``key: N kB`` line of /proc/<pid>/<name> (status, smaps_rollup)."""
    try:
        text = Path(f"/proc/{pid}/{name}").read_text()
    except OSError:
        return None
    match = re.search(rf"^{key}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _is_python(pid: int) -> bool:
    try:
        return "python" in Path(f"/proc/{pid}/exe").resolve().name
    except OSError:
        return False


def _children_of() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(raw[raw.rfind(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


class RssSampler:
    """Peak RSS (VmHWM) of some Python processes and their Python descendants, and the peak of
    their summed PSS (shared pages split between the processes that share them, so the sum is
    what they take together), sampled every ``interval`` seconds from /proc."""

    def __init__(self, roots: dict[int, str], interval: float = 0.2) -> None:
        self.roots = roots
        self.interval = interval
        self.peak_kib: dict[int, int] = {}
        self.label: dict[int, str] = {}
        self.peak_total_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        tree = _children_of()
        total = 0
        for root, name in self.roots.items():
            todo = [(root, name, b"")]
            while todo:
                pid, label, parent_cmdline = todo.pop()
                cmdline = _cmdline(pid)
                todo += [(child, f"{name} child", cmdline) for child in tree.get(pid, [])]
                # Python processes only, and not a child caught between fork and exec (it
                # still has its parent's command line and shows the parent's pages as its own)
                if not _is_python(pid) or cmdline == parent_cmdline:
                    continue
                hwm = _proc_kib(pid, "VmHWM")
                if hwm is not None:
                    self.peak_kib[pid] = max(self.peak_kib.get(pid, 0), hwm)
                    self.label[pid] = label
                total += _proc_kib(pid, "Pss", "smaps_rollup") or 0
        self.peak_total_kib = max(self.peak_total_kib, total)

    def report(self) -> dict[str, Any]:
        by_label: dict[str, list[int]] = {}
        for pid, kib in self.peak_kib.items():
            by_label.setdefault(self.label[pid], []).append(kib)
        return {
            "peak_mib_by_process": {
                label: [round(k / 1024, 1) for k in sorted(values, reverse=True)]
                for label, values in sorted(by_label.items())
            },
            "peak_total_pss_mib": round(self.peak_total_kib / 1024, 1),
        }


class PeakRss:
    """Peak resident memory of one process of any kind (the engine's JVM), sampled from
    /proc every ``interval`` seconds; VmHWM would include the start-up peak."""

    def __init__(self, pid: int | None, interval: float = 0.2) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_kib = 0
        self.first_kib: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="jvm-sampler", daemon=True)

    def __enter__(self) -> "PeakRss":
        if self.pid is not None:
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set() and self.pid is not None:
            kib = _proc_kib(self.pid, "VmRSS")
            if kib is not None:
                self.first_kib = kib if self.first_kib is None else self.first_kib
                self.peak_kib = max(self.peak_kib, kib)
            self._stop.wait(self.interval)

    @property
    def peak_mib(self) -> float | None:
        return round(self.peak_kib / 1024, 1) if self.peak_kib else None


# --- the LLM double ---------------------------------------------------------------------------

ADDED_LINE = re.compile(r"^\s*(\d+) \+ ", re.MULTILINE)


def llm_reply(request: dict[str, Any]) -> str:
    """Plausible replies: one finding on the first added line of each file (kept by the
    self-check), no PR-level finding, a short summary."""
    messages = request.get("messages") or [{}]
    system = str(messages[0].get("content", ""))
    user = str(messages[-1].get("content", ""))
    if "reviewing one file" in system:
        match = ADDED_LINE.search(user)
        items = []
        if match:
            line = int(match.group(1))
            items.append(
                {
                    "start_line": line,
                    "end_line": line,
                    "category": "bug",
                    "severity": "medium",
                    "message": "bench: a finding on a changed line",
                }
            )
        return json.dumps({"suggestions": items})
    if "reviewing a whole pull request" in system:
        return json.dumps({"findings": []})
    if "checking review comments" in system:
        return json.dumps(
            {"verdicts": [{"index": i, "keep": True, "reason": "ok"} for i in range(50)]}
        )
    return json.dumps({"summary": "- bench summary"})


@contextlib.contextmanager
def fake_llm(latency: float) -> Iterator[dict[str, str]]:
    """The FakeLlmServer of the test suite, and the environment that points workers at it."""
    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))
    from tests.support.llm_server import FakeLlmServer

    with FakeLlmServer(responder=llm_reply, latency=latency) as server:
        yield {
            "REVIEWFLOW_LLM_BASE_URL": server.base_url,
            "REVIEWFLOW_LLM_API_KEY": "bench-key",
            "REVIEWFLOW_LLM_MODEL": "fake-model",
        }


# --- the sequential reviewer (a child process) ------------------------------------------------


def sequential_review(
    target: ReviewTarget, bodies: dict[str, Work], loop: asyncio.AbstractEventLoop
) -> tuple[float, dict[str, Any], list[tuple[str, float, float]]]:
    """One review, every stage in order in this process; the heavy bodies run on ``loop``, one
    after the other. Returns (seconds, counts, [(stage, start, end)])."""
    started = time.monotonic()
    run_id = uuid.uuid4().hex
    v: Variables = {
        "reviewRunId": run_id,
        "target": target.model_dump(mode="json", exclude_none=True),
        "trigger": "cli",
        "reviewRound": 1,
    }
    ctx = StageContext(run_id, target, settings(), task_id="sequential", process_instance_id=run_id)
    timeline: list[tuple[str, float, float]] = []

    def run(stage: StageFunction) -> None:
        t0 = time.time()
        out = stage(ctx, unspill(ctx.store, dict(v)))
        timeline.append((stage.__name__, t0, time.time()))
        out.pop("_detail", None)
        v.update(out)
        if out.get("proceed") is False:
            raise RuntimeError(f"the review ended early: {out.get('skipReason')}")

    for stage in BEFORE_HEAVY:
        run(stage)
    for branch in HEAVY_BRANCHES:
        v[branch.attempt_variable] = 1
        t0 = time.time()
        outcome = loop.run_until_complete(bodies[branch.key](ctx, unspill(ctx.store, dict(v)), 1))
        timeline.append((branch.key, t0, time.time()))
        if outcome.status != "ok":
            raise RuntimeError(f"heavy stage {branch.key} failed: {outcome.error}")
        v[branch.outcome_variable] = outcome.model_dump(mode="json")
    for stage in AFTER_HEAVY:
        run(stage)
    return time.monotonic() - started, dict(v["counts"]), timeline


def sequential_server(conn: Connection, env: dict[str, str]) -> None:
    """Child process: review each list of targets it is sent, one after another; answer with
    the seconds of each review, the total, the counts and the stage timelines; on None, send
    peak RSS and stop."""
    for name in LLM_ENV:
        os.environ.pop(name, None)
    os.environ.update(env)
    bodies = heavy_bodies()
    loop = asyncio.new_event_loop()  # one loop for the process's life, as a long-lived worker
    while True:
        targets: list[dict[str, Any]] | None = conn.recv()
        if targets is None:
            conn.send(
                {"peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
            )
            return
        started = time.monotonic()
        results = [sequential_review(ReviewTarget.model_validate(t), bodies, loop) for t in targets]
        conn.send(
            {
                "seconds": [s for s, _, _ in results],
                "total": time.monotonic() - started,
                "counts": [c for _, c, _ in results],
                "timelines": [t for _, _, t in results],
            }
        )


class SequentialReviewer:
    def __init__(self, env: dict[str, str]) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=sequential_server, args=(child, env), name="bench-sequential"
        )
        self.process.start()

    def review(self, targets: Sequence[ReviewTarget]) -> dict[str, Any]:
        self.conn.send([t.model_dump(mode="json", exclude_none=True) for t in targets])
        return cast(dict[str, Any], self.conn.recv())

    def close(self) -> float:
        self.conn.send(None)
        peak = float(self.conn.recv()["peak_mib"])
        self.process.join(30)
        return peak


# --- the engine side --------------------------------------------------------------------------


def _engine_time(stamp: str) -> float:
    """Operaton's history timestamps (``2026-11-30T07:01:02.345+0000``) as epoch seconds."""
    return dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


class InstanceWatch:
    """Waits for instances to end with one cheap history call per poll (the engine records
    the end time to the millisecond, so the poll interval does not blur the figure)."""

    def __init__(self, rest_url: str) -> None:
        self.client = httpx.AsyncClient(base_url=rest_url, timeout=30.0, trust_env=False)

    async def ended_at(self, instance_id: str, timeout_s: float, poll_s: float = 0.1) -> float:
        deadline = time.monotonic() + timeout_s
        while True:
            response = await self.client.get(f"/history/process-instance/{instance_id}")
            if response.status_code == 200:
                info = response.json()
                if info.get("endTime"):
                    if info.get("state") != "COMPLETED":
                        raise RuntimeError(f"instance {instance_id} ended {info.get('state')}")
                    return _engine_time(str(info["endTime"]))
            if time.monotonic() > deadline:
                raise TimeoutError(f"instance {instance_id} did not end in {timeout_s:.0f} s")
            await asyncio.sleep(poll_s)

    async def aclose(self) -> None:
        await self.client.aclose()


@dataclass
class EngineRun:
    seconds: float
    variables: dict[str, Any]
    run_id: str
    instance_id: str
    started_at: float


async def engine_review(
    engine: EnginePort,
    watch: InstanceWatch,
    target: ReviewTarget,
    extra: dict[str, Any] | None = None,
    timeout_s: float = 900,
) -> EngineRun:
    """One process instance to its end (the variables ``reviewflow review`` starts with)."""
    run_id = uuid.uuid4().hex
    variables: dict[str, Any] = {
        "reviewRunId": run_id,
        "target": target.model_dump(mode="json", exclude_none=True),
        "trigger": "cli",
        **(extra or {}),
    }
    started = time.time()
    instance_id = await engine.start_instance(PROCESS_ID, variables, business_key=target.key)
    ended = await watch.ended_at(instance_id, timeout_s)
    state = await engine.instance(instance_id)
    result = unspill(ArtifactStore(settings().artifacts_dir), dict(state.variables))
    if result.get("skipped") or result.get("partial"):
        raise RuntimeError(f"the engine review was not complete: {result}")
    return EngineRun(ended - started, result, run_id, instance_id, started)


def events_of(run_id: str) -> list[StageEvent]:
    events, _ = EventLog(settings().artifacts_dir, run_id).read()
    return events


class WorkerProcesses:
    """``reviewflow worker light`` and ``reviewflow worker heavy``, as a deployment runs them,
    pointed at the engine by ``REVIEWFLOW_ENGINE_URL``."""

    def __init__(self, env: dict[str, str], log_dir: Path, groups: Sequence[str] = ()) -> None:
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        for group in groups or ("light", "heavy"):
            log = (log_dir / f"worker-{group}.log").open("ab")
            self.processes[group] = subprocess.Popen(
                [sys.executable, "-m", "reviewflow.cli", "worker", group],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            log.close()

    @property
    def roots(self) -> dict[int, str]:
        return {p.pid: f"{group} worker" for group, p in self.processes.items()}

    def stop(self) -> None:
        """SIGINT (the command's clean stop), then SIGKILL for what is left of our own."""
        leftovers = [child for pid in self.roots for child in _children_of().get(pid, [])]
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGINT)
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


# --- the no-op review -------------------------------------------------------------------------


@dataclass
class NoopClock:
    """Per instance: when each task arrived and when each completion or message left."""

    arrived: dict[str, list[float]] = field(default_factory=dict)
    sent: dict[str, list[float]] = field(default_factory=dict)
    late_context: int = 0

    def arrive(self, instance: str) -> None:
        self.arrived.setdefault(instance, []).append(time.monotonic())

    def send(self, instance: str) -> None:
        self.sent.setdefault(instance, []).append(time.monotonic())

    def hops(self) -> list[float]:
        """For every task but the first of its instance: seconds from the last completion or
        message of that instance before it to its arrival (the engine's hop, with our
        client's HTTP on both ends)."""
        gaps: list[float] = []
        for instance, arrivals in self.arrived.items():
            sent = sorted(self.sent.get(instance, []))
            for at in arrivals:
                before = [s for s in sent if s <= at]
                if before:
                    gaps.append(at - before[-1])
        return gaps


def noop_specs(clock: NoopClock) -> list[TaskSpec]:
    """Every topic of the diagram, each completed at once; a heavy dispatch also correlates
    its done message with its wait key, and the AST one then the AST context messages."""
    heavy = {b.topic: b for b in HEAVY_BRANCHES}

    async def light(task: ExternalTask, engine: EnginePort) -> Variables:
        clock.arrive(task.process_instance_id)
        clock.send(task.process_instance_id)
        return {"proceed": True, "heavyRetries": 1}

    def dispatcher(topic: str) -> Any:
        branch = heavy[topic]

        async def dispatch(task: ExternalTask, engine: EnginePort) -> None:
            instance = task.process_instance_id
            clock.arrive(instance)
            wait_key = uuid.uuid4().hex
            clock.send(instance)
            await engine.complete(task, {branch.wait_key_variable: wait_key})
            clock.send(instance)
            await engine.correlate(
                branch.message_name,
                instance,
                {branch.outcome_variable: {"status": "ok", "items": 0}},
                {branch.wait_key_variable: wait_key},
            )
            if branch.key == "ast":
                for other in HEAVY_BRANCHES:
                    if other.context_message is not None:
                        clock.send(instance)
                        try:
                            await engine.correlate(other.context_message, instance)
                        except MessageNotCorrelated:
                            # the branch stopped waiting (its astContextWait timer fired)
                            clock.late_context += 1
            return None

        return dispatch

    specs = []
    for topic in sorted(TOPICS):
        if topic in heavy:
            branch = heavy[topic]
            specs.append(
                TaskSpec(topic, ("reviewRunId", branch.attempt_variable), dispatcher(topic), 30_000)
            )
        else:
            specs.append(TaskSpec(topic, ("reviewRunId",), light, 30_000))
    return specs


@dataclass
class NoopResult:
    seconds: list[float] = field(default_factory=list)
    hops: list[float] = field(default_factory=list)
    batch_seconds: list[float] = field(default_factory=list)
    batch_hops: list[float] = field(default_factory=list)
    late_context_messages: int = 0


async def noop_runs(
    engine: EnginePort, watch: InstanceWatch, count: int, concurrency: int
) -> NoopResult:
    """``count`` no-op reviews one after another (after one warm-up), then ``count`` more in
    batches of ``concurrency`` at once."""
    result = NoopResult()
    clock = NoopClock()
    stop = asyncio.Event()
    # a 1 s long poll: stopping the poller waits for the poll in flight
    poller = TaskPoller(engine, noop_specs(clock), 32, 1_000, f"bench-noop-{uuid.uuid4().hex[:8]}")
    work = asyncio.create_task(poller.run(stop))
    target = ReviewTarget(provider="local", repository="/nonexistent", base_ref="a", head_ref="b")

    async def one() -> tuple[float, str]:
        variables: dict[str, Any] = {
            "reviewRunId": uuid.uuid4().hex,
            "target": target.model_dump(mode="json", exclude_none=True),
        }
        started = time.time()
        clock_start = time.monotonic()
        instance = await engine.start_instance(PROCESS_ID, variables)
        clock.sent.setdefault(instance, []).append(clock_start)
        return await watch.ended_at(instance, 60, poll_s=0.02) - started, instance

    try:
        await one()  # warm-up
        clock.arrived.clear()
        clock.sent.clear()
        for _ in range(count):
            seconds, _ = await one()
            result.seconds.append(seconds)
        result.hops = clock.hops()
        clock.arrived.clear()
        clock.sent.clear()
        for _ in range(max(1, count // concurrency)):
            started = time.monotonic()
            await asyncio.gather(*(one() for _ in range(concurrency)))
            result.batch_seconds.append(time.monotonic() - started)
        result.batch_hops = clock.hops()
        result.late_context_messages = clock.late_context
    finally:
        stop.set()
        await work
    return result


# --- one mode (offline or LLM) ----------------------------------------------------------------


@dataclass
class ModeResult:
    name: str
    engine: list[float] = field(default_factory=list)
    sequential: list[float] = field(default_factory=list)
    pair_ratios: list[float] = field(default_factory=list)
    engine_batch: list[float] = field(default_factory=list)
    sequential_batch: list[float] = field(default_factory=list)
    hop_gaps: list[float] = field(default_factory=list)
    overlapped: int = 0
    counts_match: bool = True
    worker_memory: dict[str, Any] = field(default_factory=dict)
    sequential_peak_mib: float = 0.0


class Repos:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.n = 0

    def fresh(self, count: int = 1) -> list[ReviewTarget]:
        made = []
        for _ in range(count):
            self.n += 1
            repo = make_sample_repo(self.root / f"repo-{self.n}")
            made.append(local_target(repo, "main", "feature"))
        return made


def worker_env(rest_url: str, llm_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in LLM_ENV}
    env.update(llm_env)
    env["REVIEWFLOW_ENGINE_URL"] = rest_url
    return env


async def run_mode(
    name: str,
    llm_env: dict[str, str],
    args: argparse.Namespace,
    engine: EnginePort,
    watch: InstanceWatch,
    rest_url: str,
    repos: Repos,
    log_dir: Path,
) -> ModeResult:
    result = ModeResult(name)
    workers = WorkerProcesses(worker_env(rest_url, llm_env), log_dir)
    sequential = SequentialReviewer(llm_env)
    try:
        with RssSampler(workers.roots) as sampler:
            # warm-up: workers connect, pools spawn, imports and the engine's JIT settle
            await engine_review(engine, watch, repos.fresh()[0])
            await asyncio.to_thread(sequential.review, repos.fresh())
            for n in range(args.runs):
                print(f"  [{name}] review {n + 1}/{args.runs}", file=sys.stderr, flush=True)
                run = await engine_review(engine, watch, repos.fresh()[0])
                seq = await asyncio.to_thread(sequential.review, repos.fresh())
                result.engine.append(run.seconds)
                result.sequential.append(seq["seconds"][0])
                result.pair_ratios.append(run.seconds / seq["seconds"][0])
                result.counts_match &= dict(run.variables["counts"]) == seq["counts"][0]
                events = events_of(run.run_id)
                result.hop_gaps += hop_gaps(events)
                result.overlapped += heavy_overlap(events)
            for n in range(args.rounds):
                print(
                    f"  [{name}] {args.concurrency} reviews, round {n + 1}/{args.rounds}",
                    file=sys.stderr,
                    flush=True,
                )
                batch = repos.fresh(args.concurrency)
                started = time.monotonic()
                await asyncio.gather(*(engine_review(engine, watch, t) for t in batch))
                result.engine_batch.append(time.monotonic() - started)
                seq = await asyncio.to_thread(sequential.review, repos.fresh(args.concurrency))
                result.sequential_batch.append(float(seq["total"]))
        result.worker_memory = sampler.report()
    finally:
        workers.stop()
        result.sequential_peak_mib = sequential.close()
    return result


# --- report -----------------------------------------------------------------------------------


def ms_figures(seconds: Sequence[float]) -> str:
    values = [s * 1000 for s in seconds]
    if not values:
        return "n/a"
    return (
        f"p50 {percentile(values, 50):.1f} ms, p99 {percentile(values, 99):.1f} ms "
        f"(max {max(values):.1f}, n={len(values)})"
    )


def print_mode(result: ModeResult, concurrency: int) -> None:
    print(f"\n== {result.name} ==")
    print(f"engine (parallel branches)  {spread(result.engine)}")
    print(f"sequential, one process     {spread(result.sequential)}")
    print(
        f"engine / sequential         {ratio(result.engine, result.sequential):.2f} "
        f"(ratio of medians); per pair: {spread(result.pair_ratios, '')}"
    )
    print(
        f"LLM branches overlapped     {result.overlapped}/{len(result.engine)} runs; "
        f"findings equal in both: {'yes' if result.counts_match else 'NO'}"
    )
    if result.hop_gaps:
        print(f"light stage to next (event log: engine + worker) {ms_figures(result.hop_gaps)}")
    if result.engine_batch:
        eng = statistics.median(result.engine_batch)
        seq = statistics.median(result.sequential_batch)
        print(
            f"{concurrency} reviews at once (engine)  {spread(result.engine_batch)}"
            f" -> {60 * concurrency / eng:.1f} reviews/min"
        )
        print(
            f"{concurrency} reviews in a row (seq.)   {spread(result.sequential_batch)}"
            f" -> {60 * concurrency / seq:.1f} reviews/min"
        )
        print(f"throughput engine / sequential {seq / eng:.2f}x")
    memory = result.worker_memory
    per_process = ", ".join(
        f"{label} {'/'.join(str(m) for m in values)}"
        for label, values in memory.get("peak_mib_by_process", {}).items()
    )
    print(f"worker peak RSS (VmHWM, MiB) {per_process}")
    print(f"worker processes, peak of summed PSS {memory.get('peak_total_pss_mib')} MiB")
    print(f"sequential process peak RSS  {result.sequential_peak_mib} MiB")


def print_noop(noop: NoopResult, concurrency: int, llm_half: ModeResult | None) -> None:
    print("\n== no-op review (the engine's own cost; one poller, trivial handlers) ==")
    if not noop.seconds:
        return
    per_task = [s / CRITICAL_PATH_TASKS * 1000 for s in noop.seconds]
    print(
        f"one at a time               {spread(noop.seconds)}; per task on the critical path "
        f"({CRITICAL_PATH_TASKS} tasks + {CRITICAL_PATH_MESSAGES} messages): "
        f"median {statistics.median(per_task):.1f} ms"
    )
    print(f"hop (completion or message -> next task held), one at a time: {ms_figures(noop.hops)}")
    if noop.batch_seconds:
        print(f"{concurrency} at once                   {spread(noop.batch_seconds)}")
        print(f"hop, {concurrency} at once: {ms_figures(noop.batch_hops)}")
    if noop.late_context_messages:
        print(f"AST context messages that found no waiting branch: {noop.late_context_messages}")
    if llm_half is not None and llm_half.engine:
        share = statistics.median(noop.seconds) / statistics.median(llm_half.engine)
        print(
            f"no-op / LLM review at 0.5 s per call: {100 * share:.1f} % "
            f"(target <= 5 %: {'PASS' if share <= 0.05 else 'FAIL'})"
        )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python bench/pipeline.py",
        description=(
            "Time full reviews of the sample repository through the Operaton engine (heavy "
            "stages as parallel BPMN branches, separate worker processes) against the same "
            "stages run one after another in one process; offline and with a fake LLM that "
            "answers after a fixed latency; and a no-op review for the engine's own cost per "
            "hop. Starts the local engine if none runs (and stops it afterwards). Honours "
            "REVIEWFLOW_STATE_DIR, REVIEWFLOW_ENGINE_PORT and REVIEWFLOW_ENGINE_URL."
        ),
    )
    parser.add_argument("--runs", type=int, default=5, help="reviews timed per mode (default 5)")
    parser.add_argument(
        "--concurrency", type=int, default=4, help="reviews started at once (default 4)"
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="rounds of the concurrent batch (default 2)"
    )
    parser.add_argument(
        "--latency",
        default="0.5,1.0",
        help="fake LLM seconds per call; comma-separated for several LLM runs (default 0.5,1.0)",
    )
    parser.add_argument(
        "--modes",
        default="offline,llm",
        help="comma-separated: offline, llm (default both)",
    )
    parser.add_argument(
        "--noop-runs", type=int, default=20, help="no-op engine runs for the overhead (default 20)"
    )
    parser.add_argument("--json", type=Path, help="also write the raw figures to this file")
    args = parser.parse_args(argv)
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    try:
        args.latency = [float(x) for x in args.latency.split(",") if x.strip()]
    except ValueError:
        parser.error(f"--latency takes seconds, got {args.latency!r}")
    if not set(args.modes) <= {"offline", "llm"}:
        parser.error(f"unknown mode in {args.modes}")
    if args.runs < 1 or args.concurrency < 1 or args.rounds < 0 or args.noop_runs < 0:
        parser.error("counts must be positive")
    return args


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@dataclass
class EngineHandle:
    """The engine the bench talks to; ``started`` when the bench brought it up itself."""

    rest_url: str
    pid: int | None
    local: LocalEngine | None
    started: bool


@contextlib.contextmanager
def engine_for_bench() -> Iterator[EngineHandle]:
    url = os.environ.get("REVIEWFLOW_ENGINE_URL", "").split(",")[0].strip()
    if url:
        yield EngineHandle(url.rstrip("/"), None, None, False)
        return
    local = LocalEngine()
    status = local.status()
    started = False
    if not status.healthy:
        print("  starting the local engine (LocalEngine.up)", file=sys.stderr, flush=True)
        local.up()
        started = True
    record = local.read_pid_record()
    try:
        yield EngineHandle(local.rest_url, record.pid if record else None, local, started)
    finally:
        if started:
            local.down()


async def bench(args: argparse.Namespace, handle: EngineHandle) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="rf-bench-"))
    load_before = os.getloadavg()
    results: list[ModeResult] = []
    noop = NoopResult()
    engine = OperatonEngine(handle.rest_url)
    watch = InstanceWatch(handle.rest_url)
    jvm = PeakRss(handle.pid)
    try:
        with jvm:
            await deploy(engine)
            repos = Repos(scratch)
            plan = [(m, 0.0) for m in args.modes if m == "offline"]
            plan += [("llm", latency) for latency in args.latency if "llm" in args.modes]
            for mode, latency in plan:
                with contextlib.ExitStack() as stack:
                    llm_env = stack.enter_context(fake_llm(latency)) if mode == "llm" else {}
                    label = f"LLM (fake, {latency:g} s per call)" if mode == "llm" else "offline"
                    results.append(
                        await run_mode(
                            label, llm_env, args, engine, watch, handle.rest_url, repos, scratch
                        )
                    )
            if args.noop_runs:  # last: the engine is warm by now
                print("  [no-op] engine runs with trivial handlers", file=sys.stderr)
                noop = await noop_runs(engine, watch, args.noop_runs, args.concurrency)
    finally:
        await watch.aclose()
        await engine.aclose()
        shutil.rmtree(scratch, ignore_errors=True)
    load = "/".join(f"{x:.1f}" for x in (load_before[0], os.getloadavg()[0]))
    print(
        f"\nmachine: {os.cpu_count()} CPUs, 1-min load {load} (before/after); "
        f"engine {handle.rest_url}"
    )
    if jvm.peak_mib is not None:
        print(
            f"engine (Operaton JVM) RSS: {(jvm.first_kib or 0) / 1024:.0f} MiB at the start of "
            f"the bench, peak {jvm.peak_mib:.0f} MiB"
        )
    half = next((r for r in results if r.name == "LLM (fake, 0.5 s per call)"), None)
    print_noop(noop, args.concurrency, half)
    for result in results:
        print_mode(result, args.concurrency)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "noop": noop.__dict__,
                    "engine_rss_peak_mib": jvm.peak_mib,
                    "modes": [r.__dict__ for r in results],
                },
                indent=2,
                default=str,
            )
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    with engine_for_bench() as handle:
        asyncio.run(bench(args, handle))
    return 0


if __name__ == "__main__":
    sys.exit(main())
