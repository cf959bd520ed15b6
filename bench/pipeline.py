"""Benchmark: one review through the real engine against the same stages run one after another.

What it measures, on fresh copies of the sample repository (``reviewflow sample``), each run
with a new repository so every review does the full work:

- **engine**: the BPMN process on the Zeebe engine, with ``reviewflow worker light`` and
  ``reviewflow worker heavy`` as separate processes. The three heavy stages run as parallel
  branches; a heavy dispatch job completes at once and the work reports back by message.
- **sequential**: one process that calls the same stage functions in pipeline order, the way a
  single-worker reviewer would: the light stage functions of ``workers/light`` and the heavy
  branch bodies of ``workers/heavy`` (the very coroutines the heavy worker runs, awaited one
  after the other; CPU work runs in a thread of that process instead of the process pool).
- **no-op engine runs**: the same process with workers that do nothing but complete each job
  (and publish each heavy completion message at once): the engine's own cost per stage.

Both modes run offline (tree-sitter reviewer) and against ``tests/support/llm_server.py``'s
FakeLlmServer with a fixed latency per call, so the LLM stages are I/O-bound as with a real
model. Engine and sequential runs alternate, so a load change on the machine hits both.

The engine comes up through :class:`reviewflow.engine.local.LocalEngine`, the path
``reviewflow review`` takes (or ``ZEEBE_ADDRESS`` when set). The script stops only what it
started: the engine if it was not already running, and its own worker processes.
"""

import argparse
import asyncio
import contextlib
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
import types
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast
from unittest import mock

from pyzeebe import Job, ZeebeClient, ZeebeTaskRouter, ZeebeWorker

from reviewflow.engine.cluster import ClusterSettings, create_channel
from reviewflow.engine.local import LocalEngine
from reviewflow.review import RESULT_VARIABLES, deploy, local_target
from reviewflow.sample import make_sample_repo
from shared.contract import HEAVY_BRANCHES, JOB_TYPES, PROCESS_ID, STAGES, correlation_key
from shared.events import EventLog, StageEvent
from shared.models import ReviewTarget
from workers.heavy import ROUTER_FACTORIES
from workers.heavy.runtime import HeavyRuntime, Work
from workers.light.aggregate_results import aggregate_results
from workers.light.ast_cleanup import ast_cleanup
from workers.light.create_file_comments import create_file_comments
from workers.light.create_pr_comments import create_pr_comments
from workers.light.fetch_changed_files import fetch_changed_files
from workers.light.file_context_gate import file_context_gate
from workers.light.initial_comment import initial_comment
from workers.light.load_external_context import load_external_context
from workers.light.load_feedback import load_feedback
from workers.light.resolve_config import resolve_config_stage
from workers.light.summarize import summarize
from workers.light.validate_config import validate_config
from workers.light.validate_new_commits import validate_new_commits
from workers.light.verdict import verdict
from workers.runtime import StageContext, StageFunction, Variables, settings

ROOT = Path(__file__).resolve().parent.parent
LLM_ENV = ("REVIEWFLOW_LLM_BASE_URL", "REVIEWFLOW_LLM_API_KEY", "REVIEWFLOW_LLM_MODEL")

# the light stages in diagram order, before the heavy fork and after the heavy join
BEFORE_HEAVY: tuple[StageFunction, ...] = (
    validate_new_commits,
    resolve_config_stage,
    validate_config,
    fetch_changed_files,
    load_external_context,
    file_context_gate,
    initial_comment,
    load_feedback,
)
AFTER_HEAVY: tuple[StageFunction, ...] = (
    create_pr_comments,
    create_file_comments,
    ast_cleanup,
    aggregate_results,
    summarize,
    verdict,
)
# jobs one after another on the engine's critical path: 8 light, 1 dispatch, 6 light
CRITICAL_PATH_JOBS = len(BEFORE_HEAVY) + 1 + len(AFTER_HEAVY)
LIGHT_TITLES = frozenset(s.title for s in STAGES if s.kind == "light")
HEAVY_TITLES = frozenset({"AST analysis", "PR-level review", "per-file review"})


# --- figures ---------------------------------------------------------------------------------


def spread(values: Sequence[float]) -> str:
    if not values:
        return "n/a"
    return (
        f"median {statistics.median(values):6.2f} s  (min {min(values):.2f}, "
        f"max {max(values):.2f}, n={len(values)})"
    )


def ratio(a: Sequence[float], b: Sequence[float]) -> float:
    return statistics.median(a) / statistics.median(b)


def hop_gaps(events: Sequence[StageEvent]) -> list[float]:
    """Seconds from one light stage's end to the next light stage's start (engine + polling),
    from the run's event log; gaps across the heavy section are left out."""
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
    """All three heavy branches had started before the first of them finished."""
    starts = [e.at for e in events if e.stage in HEAVY_TITLES and e.status == "started"]
    ends = [e.at for e in events if e.stage in HEAVY_TITLES and e.status == "completed"]
    return len(starts) == len(ends) == 3 and max(starts) < min(ends)


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


def heavy_bodies() -> dict[str, Work]:
    """The heavy branches' work coroutines, exactly as the heavy worker registers them. They
    get a runtime without a process pool, so CPU work runs in a thread of this process."""
    bodies: dict[str, Work] = {}

    def capture(runtime: HeavyRuntime, branch: Any, work: Work) -> ZeebeTaskRouter:
        bodies[branch.key] = work
        return ZeebeTaskRouter()

    runtime = cast(HeavyRuntime, types.SimpleNamespace(pool=None))
    for factory in ROUTER_FACTORIES.values():
        module = sys.modules[factory.__module__]
        with mock.patch.object(module, "dispatch_router", capture):
            factory(runtime)
    return bodies


def sequential_review(
    repo: Path, bodies: dict[str, Work], loop: asyncio.AbstractEventLoop
) -> tuple[float, dict[str, Any]]:
    """One review, every stage in order in this process; the heavy bodies run on ``loop``, one
    after the other. Returns (seconds, counts)."""
    target = local_target(repo, "main", "feature")
    started = time.monotonic()
    run_id = uuid.uuid4().hex
    v: Variables = {
        "reviewRunId": run_id,
        "target": target.model_dump(mode="json"),
        "trigger": "cli",
        "startedAt": time.time(),
    }
    ctx = StageContext(run_id, target, settings(), job_key=0, process_instance_key=0)

    def run(stage: StageFunction) -> None:
        out = stage(ctx, dict(v))
        out.pop("_detail", None)
        v.update(out)
        if out.get("proceed") is False:
            raise RuntimeError(f"the sample review ended early: {out.get('skipReason')}")

    for stage in BEFORE_HEAVY:
        run(stage)
    for branch in HEAVY_BRANCHES:
        v[branch.attempt_variable] = 1
        outcome = loop.run_until_complete(bodies[branch.key](ctx, dict(v), 1))
        if outcome.status != "ok":
            raise RuntimeError(f"heavy stage {branch.key} failed: {outcome.error}")
        v[branch.outcome_variable] = outcome.model_dump(mode="json")
    for stage in AFTER_HEAVY:
        run(stage)
    return time.monotonic() - started, dict(v["counts"])


def sequential_server(conn: Connection, env: dict[str, str]) -> None:
    """Child process: review each list of repositories it is sent, one after another; answer
    with the seconds of each review, the total and the counts; on None, send peak RSS and stop."""
    for name in LLM_ENV:
        os.environ.pop(name, None)
    os.environ.update(env)
    bodies = heavy_bodies()
    loop = asyncio.new_event_loop()  # one loop for the process's life, as a long-lived worker
    while True:
        repos: list[str] | None = conn.recv()
        if repos is None:
            conn.send(
                {"peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
            )
            return
        started = time.monotonic()
        results = [sequential_review(Path(r), bodies, loop) for r in repos]
        conn.send(
            {
                "seconds": [s for s, _ in results],
                "total": time.monotonic() - started,
                "counts": [c for _, c in results],
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

    def review(self, repos: Sequence[Path]) -> dict[str, Any]:
        self.conn.send([str(r) for r in repos])
        return cast(dict[str, Any], self.conn.recv())

    def close(self) -> float:
        self.conn.send(None)
        peak = float(self.conn.recv()["peak_mib"])
        self.process.join(30)
        return peak


# --- the engine side --------------------------------------------------------------------------


async def engine_review(client: ZeebeClient, repo: Path) -> tuple[float, dict[str, Any], str]:
    """One process instance to its end (the variables ``reviewflow review`` starts with).
    Returns (seconds, result variables, run id)."""
    target = local_target(repo, "main", "feature")
    run_id = uuid.uuid4().hex
    variables: dict[str, Any] = {
        "reviewRunId": run_id,
        "target": target.model_dump(mode="json"),
        "trigger": "cli",
        "startedAt": time.time(),
    }
    started = time.monotonic()
    response = await client.run_process_with_result(
        PROCESS_ID, variables, timeout=600_000, variables_to_fetch=RESULT_VARIABLES
    )
    seconds = time.monotonic() - started
    result = dict(response.variables)
    if result.get("skipped") or result.get("partial"):
        raise RuntimeError(f"the engine review was not complete: {result}")
    return seconds, result, run_id


def events_of(run_id: str) -> list[StageEvent]:
    events, _ = EventLog(settings().artifacts_dir, run_id).read()
    return events


class WorkerProcesses:
    """``reviewflow worker light`` and ``reviewflow worker heavy``, as a deployment runs them."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        for group in ("light", "heavy"):
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


def noop_router(client: ZeebeClient) -> ZeebeTaskRouter:
    """Complete every job at once; a heavy dispatch also publishes its completion message."""
    router = ZeebeTaskRouter()
    heavy = {b.job_type: b for b in HEAVY_BRANCHES}

    async def light(job: Job, **_fetched: Any) -> dict[str, Any]:
        return {"proceed": True}

    def dispatcher(key: str, message: str, attempt_variable: str) -> Callable[..., Any]:
        async def dispatch(job: Job, **_fetched: Any) -> dict[str, Any]:
            attempt = int(str(job.variables.get(attempt_variable) or 1))
            name = correlation_key(str(job.variables["reviewRunId"]), key, attempt)
            await client.publish_message(
                name=message,
                correlation_key=name,
                variables={"outcome": {"status": "ok"}},
                time_to_live_in_milliseconds=60_000,
                message_id=name,
            )
            return {}

        return dispatch

    for job_type in sorted(JOB_TYPES):
        branch = heavy.get(job_type)
        if branch is None:
            handler: Callable[..., Any] = light
            fetch = ["reviewRunId"]
        else:
            handler = dispatcher(branch.key, branch.message_name, branch.attempt_variable)
            fetch = ["reviewRunId", branch.attempt_variable]
        router.task(
            task_type=job_type,
            variables_to_fetch=fetch,
            max_jobs_to_activate=8,
            max_running_jobs=8,
        )(handler)
    return router


async def noop_runs(address: str, cluster: ClusterSettings, count: int) -> list[float]:
    channel = create_channel(cluster, address)
    client = ZeebeClient(channel)
    worker = ZeebeWorker(channel, name="bench-noop", poll_retry_delay=1)
    worker.include_router(noop_router(client))
    await deploy(client)
    work = asyncio.create_task(worker.work())
    target = ReviewTarget(provider="local", repository="/nonexistent", base_ref="a", head_ref="b")
    seconds: list[float] = []
    try:
        for n in range(count + 1):  # the first one warms up
            variables: dict[str, Any] = {
                "reviewRunId": uuid.uuid4().hex,
                "target": target.model_dump(mode="json"),
            }
            started = time.monotonic()
            await client.run_process_with_result(PROCESS_ID, variables, timeout=20_000)
            if n:
                seconds.append(time.monotonic() - started)
    finally:
        await worker.stop()
        work.cancel()
        await asyncio.gather(work, return_exceptions=True)
        await channel.close()
    return seconds


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
    llm_requests: int | None = None


class Repos:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.n = 0

    def fresh(self, count: int = 1) -> list[Path]:
        made = []
        for _ in range(count):
            self.n += 1
            made.append(make_sample_repo(self.root / f"repo-{self.n}"))
        return made


async def run_mode(
    name: str,
    llm_env: dict[str, str],
    args: argparse.Namespace,
    address: str,
    cluster: ClusterSettings,
    repos: Repos,
    log_dir: Path,
) -> ModeResult:
    result = ModeResult(name)
    env = {k: v for k, v in os.environ.items() if k not in LLM_ENV}
    env.update(llm_env)
    env["ZEEBE_ADDRESS"] = address  # `reviewflow worker` connects to ZEEBE_ADDRESS only
    workers = WorkerProcesses(env, log_dir)
    sequential = SequentialReviewer(llm_env)
    channel = create_channel(cluster, address)
    client = ZeebeClient(channel)
    try:
        with RssSampler(workers.roots) as sampler:
            await deploy(client)
            # warm-up: workers connect, pools spawn, imports and the broker's JIT settle
            await engine_review(client, repos.fresh()[0])
            await asyncio.to_thread(sequential.review, repos.fresh())
            for n in range(args.runs):
                print(f"  [{name}] review {n + 1}/{args.runs}", file=sys.stderr, flush=True)
                seconds, variables, run_id = await engine_review(client, repos.fresh()[0])
                seq = await asyncio.to_thread(sequential.review, repos.fresh())
                result.engine.append(seconds)
                result.sequential.append(seq["seconds"][0])
                result.pair_ratios.append(seconds / seq["seconds"][0])
                result.counts_match &= dict(variables["counts"]) == seq["counts"][0]
                events = events_of(run_id)
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
                await asyncio.gather(*(engine_review(client, r) for r in batch))
                result.engine_batch.append(time.monotonic() - started)
                seq = await asyncio.to_thread(sequential.review, repos.fresh(args.concurrency))
                result.sequential_batch.append(float(seq["total"]))
        result.worker_memory = sampler.report()
    finally:
        await channel.close()
        workers.stop()
        result.sequential_peak_mib = sequential.close()
    return result


# --- report -----------------------------------------------------------------------------------


def print_mode(result: ModeResult, concurrency: int) -> None:
    print(f"\n== {result.name} ==")
    print(f"engine (parallel branches)  {spread(result.engine)}")
    print(f"sequential, one process     {spread(result.sequential)}")
    print(
        f"parallel / sequential       {ratio(result.engine, result.sequential):.2f} "
        f"(ratio of medians); per pair: {spread(result.pair_ratios).replace(' s', '')}"
    )
    print(
        f"heavy branches overlapped   {result.overlapped}/{len(result.engine)} runs; "
        f"findings equal in both: {'yes' if result.counts_match else 'NO'}"
    )
    if result.hop_gaps:
        gaps_ms = [g * 1000 for g in result.hop_gaps]
        print(
            f"light stage to next (engine hop, from the event log): median "
            f"{statistics.median(gaps_ms):.0f} ms (min {min(gaps_ms):.0f}, "
            f"max {max(gaps_ms):.0f}, n={len(gaps_ms)})"
        )
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


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python bench/pipeline.py",
        description=(
            "Time full reviews of the sample repository through the Zeebe engine (heavy stages "
            "as parallel BPMN branches, separate worker processes) against the same stages run "
            "one after another in one process; offline and with a fake LLM that answers after a "
            "fixed latency. Starts the local engine if none runs (and stops it afterwards). "
            "Honours REVIEWFLOW_STATE_DIR, REVIEWFLOW_ENGINE_*_PORT and ZEEBE_ADDRESS."
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
        "--noop-runs", type=int, default=5, help="no-op engine runs for the overhead (default 5)"
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


async def bench(
    args: argparse.Namespace, address: str, cluster: ClusterSettings, engine_pid: int | None
) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="rf-bench-"))
    load_before = os.getloadavg()
    results: list[ModeResult] = []
    noop: list[float] = []
    try:
        repos = Repos(scratch)
        plan = [(m, 0.0) for m in args.modes if m == "offline"]
        plan += [("llm", latency) for latency in args.latency if "llm" in args.modes]
        for mode, latency in plan:
            with contextlib.ExitStack() as stack:
                llm_env = stack.enter_context(fake_llm(latency)) if mode == "llm" else {}
                label = f"LLM (fake, {latency:g} s per call)" if mode == "llm" else "offline"
                results.append(
                    await run_mode(label, llm_env, args, address, cluster, repos, scratch)
                )
        if args.noop_runs:  # last: the broker is warm by now
            print("  [no-op] engine runs with workers that do nothing", file=sys.stderr)
            noop = await noop_runs(address, cluster, args.noop_runs)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    load = "/".join(f"{x:.1f}" for x in (load_before[0], os.getloadavg()[0]))
    print(f"\nmachine: {os.cpu_count()} CPUs, 1-min load {load} (before/after); engine {address}")
    code = Path(str(sys.modules[LocalEngine.__module__].__file__)).parent.parent.parent
    print(f"code: {code}")
    broker = _proc_kib(engine_pid, "VmHWM") if engine_pid is not None else None
    if broker is not None:
        print(f"engine (Zeebe broker JVM) peak RSS {broker / 1024:.0f} MiB")
    if noop:
        per_job = [s / CRITICAL_PATH_JOBS * 1000 for s in noop]
        print(
            f"no-op review (engine only)  {spread(noop)}; per job on the critical path "
            f"({CRITICAL_PATH_JOBS} jobs + 1 message): median {statistics.median(per_job):.0f} ms"
        )
    for result in results:
        print_mode(result, args.concurrency)
    if args.json:
        args.json.write_text(
            json.dumps(
                {"noop": noop, "modes": [r.__dict__ for r in results]}, indent=2, default=str
            )
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    cluster = ClusterSettings()
    if not cluster.external:
        # the local engine is Operaton now (REST, no gRPC): until the workers speak its
        # external-task API, this Zeebe benchmark needs a Camunda 8 cluster of the user's own
        print(
            "error: set ZEEBE_ADDRESS to a Camunda 8 cluster: the local engine "
            "(`reviewflow engine up`) is Operaton and has no Zeebe gateway",
            file=sys.stderr,
        )
        return 2
    asyncio.run(bench(args, cluster.address(), cluster, None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
