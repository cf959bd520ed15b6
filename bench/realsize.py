"""Benchmark at real size (issue 12 "Fast at real size"): generated workloads (bench/workloads.py)
through the Operaton engine and its worker processes, against the same stages in one process,
each figure printed with its target and PASS/FAIL, and written as JSON.

- P1 end to end <= 1.10 x the critical path (light stages' own compute + the longest heavy
  chain + final stages' compute, from the run's stage events), realistic PR;
- P2 balanced: engine >= 2.7x faster than the same stages in one process;
- P3 the engine's own cost (no-op review through every stage) <= 5 % of an LLM review at 0.5 s
  per call (``bench/pipeline.py`` measures it: pass ``--p3-json`` with its JSON);
- P4 fast workers >= 5 reviews/s sustained for a minute, 0 lost; one heavy worker process holds
  >= 256 LLM calls in flight using < 1 core (burst);
- P5 the AST branch on the realistic PR < 5 s; callers in a ~1M-line repository <= 5 s;
- P6 a one-line push after a review <= 5 % of the first review's tokens and time;
- memory: peaks of the engine and of each worker kind; the heavy worker flat across the burst.

Run ``python bench/realsize.py --help``. It stops only what it started.
"""

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import yaml

from bench.pipeline import (
    LLM_ENV,
    ROOT,
    EngineHandle,
    InstanceWatch,
    NoopClock,
    PeakRss,
    SequentialReviewer,
    WorkerProcesses,
    _engine_time,
    _proc_kib,
    engine_for_bench,
    engine_review,
    events_of,
    llm_reply,
    noop_specs,
    worker_env,
)
from bench.workloads import (
    BALANCED,
    HUGE,
    LARGE,
    REALISTIC,
    Shape,
    count_lines,
    diff_stat,
    lognormal_latency,
    make_repo,
    push_one_line,
)
from reviewflow.engine.operaton import OperatonEngine
from reviewflow.engine.port import EnginePort
from reviewflow.review import deploy, local_target
from shared.contract import PROCESS_ID, STAGES
from shared.events import StageEvent
from shared.models import ReviewTarget
from workers.poller import TaskPoller

HEAVY = ("AST analysis", "PR-level review", "per-file review")
LIGHT_TITLES = [s.title for s in STAGES if s.kind == "light"]
TITLE_OF = {s.name: s.title for s in STAGES} | {
    "ast": "AST analysis",
    "pr": "PR-level review",
    "file": "per-file review",
}
Law = Callable[[dict[str, Any]], float]


# --- the fake LLM with a latency law ---------------------------------------------------------


def prompt_of(payload: dict[str, Any]) -> tuple[str, str]:
    """(kind, text) of a chat request: which stage asked, and the whole prompt."""
    messages = payload.get("messages") or [{}]
    system = str(messages[0].get("content", ""))
    text = "".join(str(m.get("content", "")) for m in messages)
    if "reviewing one file" in system:
        return "file", text
    if "checking review comments" in system:
        return "check", text
    if "reviewing a whole pull request" in system:
        return "pr", text
    return "summary", text


@contextlib.contextmanager
def law_llm(law: Law) -> Iterator[tuple[Any, dict[str, str]]]:
    """The test suite's FakeLlmServer, answering each request after ``law(request)`` seconds."""
    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))
    from tests.support.llm_server import FakeLlmServer

    class LawServer(FakeLlmServer):
        async def _answer(self, request: Any, payload: Any, failure: Any, record: Any) -> Any:
            if not await self._wait(request, law(payload)):
                return None
            return await super()._answer(request, payload, failure, record)

    with LawServer(responder=llm_reply) as server:
        yield (
            server,
            {
                "REVIEWFLOW_LLM_BASE_URL": server.base_url,
                "REVIEWFLOW_LLM_API_KEY": "bench-key",
                "REVIEWFLOW_LLM_MODEL": "fake-model",
            },
        )


def tokens_since(server: Any, start: int) -> int:
    return sum((r.usage or {}).get("total_tokens", 0) for r in server.requests[start:])


class Sampler(ABC):
    """Calls :meth:`sample` every ``interval`` s on a background thread while the ``with``
    block runs."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @abstractmethod
    def sample(self) -> None:
        """Take one sample."""

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)


class InFlight(Sampler):
    """Samples the fake LLM's requests in flight (the server keeps only the maximum)."""

    def __init__(self, server: Any) -> None:
        super().__init__(0.05)
        self.server = server
        self.peak = 0

    def sample(self) -> None:
        self.peak = max(self.peak, self.server._state.in_flight)


# --- figures from a run's events ---------------------------------------------------------------


def stage_spans(events: Sequence[StageEvent]) -> dict[str, tuple[float, float]]:
    """Stage title -> (first start, last end) from a run's event log."""
    starts: dict[str, float] = {}
    ends: dict[str, float] = {}
    for e in sorted(events, key=lambda e: e.at):
        if e.status == "started":
            starts.setdefault(e.stage, e.at)
        elif e.status in ("completed", "skipped", "failed"):
            ends[e.stage] = e.at
    return {s: (starts[s], ends[s]) for s in starts if s in ends}


def critical_path(spans: dict[str, tuple[float, float]]) -> dict[str, float]:
    """Light stages' own compute + the longest heavy chain + nothing else. The LLM branches
    start after the AST context message (by design), so a chain is AST + that branch when it
    started after the AST branch ended, else the branch alone."""
    light = sum(end - start for title, (start, end) in spans.items() if title in LIGHT_TITLES)
    ast = spans.get("AST analysis")
    ast_s = (ast[1] - ast[0]) if ast else 0.0
    chains = [ast_s]
    for title in ("PR-level review", "per-file review"):
        if title in spans:
            start, end = spans[title]
            after_ast = ast is not None and start >= ast[1]
            chains.append((end - start) + (ast_s if after_ast else 0.0))
    heavy = max(chains)
    return {"light_s": light, "heavy_s": heavy, "critical_path_s": light + heavy}


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def say(self, line: str) -> None:
        print(line, flush=True)
        self.lines.append(line)

    def target(self, key: str, text: str, ok: bool | None, **figures: Any) -> None:
        mark = "n/a " if ok is None else verdict(ok)
        self.say(f"{key:4s} {mark}  {text}")
        self.figures[key] = {"pass": ok, "text": text, **figures}


# --- workloads --------------------------------------------------------------------------------


def write_config(repo: Path, config: dict[str, Any]) -> None:
    """The repository's .reviewflow.yml on both branches (committed on main, merged into the
    feature branch by a rebase-free commit on each)."""
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)

    for branch in ("main", "feature"):
        git("checkout", "-q", branch)
        (repo / ".reviewflow.yml").write_text(yaml.safe_dump(config))
        git("add", ".reviewflow.yml")
        git("commit", "-qm", "reviewflow config")
    git("checkout", "-q", "main")


class Workspace:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.n = 0

    def template(self, name: str, shape: Shape, config: dict[str, Any]) -> Path:
        path = self.root / f"template-{name}"
        if not path.exists():
            make_repo(path, shape)
            write_config(path, config)
        return path

    def copy(self, template: Path) -> ReviewTarget:
        """A fresh copy (a new pull request for the state of the local git host)."""
        self.n += 1
        path = self.root / f"{template.name}-{self.n}"
        shutil.copytree(template, path, symlinks=True)
        return local_target(path, "main", "feature")


# --- the parts --------------------------------------------------------------------------------


@dataclass
class Ctx:
    args: argparse.Namespace
    handle: EngineHandle
    engine: EnginePort
    watch: InstanceWatch
    work: Workspace
    report: Report
    log_dir: Path


def realistic_law() -> Law:
    law = lognormal_latency(2.0, 8.0)

    def latency(payload: dict[str, Any]) -> float:
        return law(prompt_of(payload)[1])

    return latency


REAL_CONFIG: dict[str, Any] = {"model": {"maxConcurrency": 16}}


async def part_realistic(c: Ctx) -> None:
    """P1, P5 (AST on the realistic PR), P6 and the plot: one realistic review on the engine,
    the same in one process, then a one-line push reviewed again on the engine."""
    template = c.work.template("realistic", REALISTIC, REAL_CONFIG)
    files, lines = diff_stat(template)
    c.report.say(
        f"realistic PR: {files} changed files, {lines} changed lines, repository "
        f"{count_lines(template)} lines; LLM latency log-normal median 2 s, p95 8 s "
        f"(deterministic per prompt); model.maxConcurrency {REAL_CONFIG['model']['maxConcurrency']}"
    )
    with law_llm(realistic_law()) as (server, llm_env):
        workers = WorkerProcesses(worker_env(c.handle.rest_url, llm_env), c.log_dir)
        sequential = SequentialReviewer(llm_env)
        try:
            warm = c.work.copy(template)  # warm-up: imports, pools, the engine's JIT
            await engine_review(c.engine, c.watch, warm)
            first_request = len(server.requests)
            target = c.work.copy(template)
            run = await engine_review(c.engine, c.watch, target)
            first_tokens = tokens_since(server, first_request)
            spans = stage_spans(events_of(run.run_id))
            cp = critical_path(spans)
            seq_request = len(server.requests)
            seq = await asyncio.to_thread(sequential.review, [c.work.copy(template)])
            seq_tokens = tokens_since(server, seq_request)
            # the push: one more commit on the same pull request, reviewed again
            await asyncio.to_thread(push_one_line, Path(target.repository), REALISTIC)
            push_request = len(server.requests)
            push = await engine_review(c.engine, c.watch, target)
            push_tokens = tokens_since(server, push_request)
        finally:
            workers.stop()
            sequential.close()
    ratio = run.seconds / cp["critical_path_s"]
    c.report.say(
        f"engine review {run.seconds:.2f} s, in one process {seq['seconds'][0]:.2f} s; "
        f"critical path {cp['critical_path_s']:.2f} s (light {cp['light_s']:.2f} s + heavy "
        f"chain {cp['heavy_s']:.2f} s); tokens engine {first_tokens}, in-process {seq_tokens}"
    )
    c.report.target(
        "P1",
        f"end to end / critical path = {ratio:.3f} (target <= 1.10)",
        ratio <= 1.10,
        seconds=run.seconds,
        **cp,
    )
    ast = spans.get("AST analysis")
    ast_s = (ast[1] - ast[0]) if ast else float("nan")
    c.report.target(
        "P5a", f"AST branch on the realistic PR {ast_s:.2f} s (target < 5 s)", ast_s < 5
    )
    time_share = push.seconds / run.seconds
    token_share = push_tokens / max(1, first_tokens)
    c.report.target(
        "P6",
        f"push after review: {push.seconds:.2f} s = {100 * time_share:.1f} % of the first "
        f"review's time, {push_tokens} tokens = {100 * token_share:.1f} % of its {first_tokens} "
        f"(target <= 5 % each)",
        time_share <= 0.05 and token_share <= 0.05,
        seconds=push.seconds,
        tokens=push_tokens,
    )
    timeline = {TITLE_OF.get(n, n): (a, b) for n, a, b in seq["timelines"][0]}
    c.report.figures["realistic_stages"] = {"engine": spans, "in_process": timeline}
    if c.args.plot:
        plot_stages(spans, run.started_at, timeline, c.args.plot, run.seconds, seq["seconds"][0])
        c.report.say(f"plot: {c.args.plot}")


async def part_large(c: Ctx) -> None:
    """Large: 200 changed files. With the default budget (``maxFiles`` 100) the run must end
    early and say why; with ``maxFiles`` raised, every file must be reviewed or skipped with
    a reason."""
    from shared.artifacts import ArtifactStore
    from shared.stages.outcome import ReviewResult
    from workers.runtime import settings, unspill

    store = ArtifactStore(settings().artifacts_dir)
    default = c.work.template("large", LARGE, REAL_CONFIG)
    raised = c.work.template("large-raised", LARGE, {**REAL_CONFIG, "maxFiles": 250})
    files, lines = diff_stat(default)
    with law_llm(realistic_law()) as (server, llm_env):
        workers = WorkerProcesses(worker_env(c.handle.rest_url, llm_env), c.log_dir)
        try:
            target = c.work.copy(default)
            started = time.time()
            instance = await c.engine.start_instance(
                PROCESS_ID,
                {"target": target.model_dump(mode="json", exclude_none=True), "trigger": "cli"},
            )
            skip_s = await c.watch.ended_at(instance, 600) - started
            state = await c.engine.instance(instance)
            reason = str(unspill(store, dict(state.variables)).get("skipped") or "")
            first = len(server.requests)
            run = await engine_review(c.engine, c.watch, c.work.copy(raised), timeout_s=1800)
            tokens = tokens_since(server, first)
        finally:
            workers.stop()
    c.report.target(
        "LRG1",
        f"large PR ({files} changed files, {lines} lines), default budget: ended after "
        f"{skip_s:.2f} s saying: {reason or '(nothing)'}",
        bool(reason),
        seconds=skip_s,
        reason=reason,
    )
    result = store.get(str(run.variables["resultArtifact"]), ReviewResult)
    skipped = result.skipped_files
    reasons: dict[str, int] = {}
    for item in skipped:
        reasons[item.reason] = reasons.get(item.reason, 0) + 1
    accounted = result.files_reviewed + len(skipped)
    listed = "; ".join(f"{n} x {r[:60]}" for r, n in sorted(reasons.items())) or "none"
    c.report.target(
        "LRG2",
        f"large PR with maxFiles 250: {run.seconds:.1f} s, {tokens} tokens; "
        f"{result.files_reviewed} files reviewed, {len(skipped)} skipped with a reason each "
        f"({listed}); {accounted} of {files} accounted for",
        accounted >= files and all(item.reason for item in skipped),
        seconds=run.seconds,
        reviewed=result.files_reviewed,
        skipped=len(skipped),
        reasons=reasons,
    )


def plot_stages(
    engine: dict[str, tuple[float, float]],
    engine_start: float,
    in_process: dict[str, tuple[float, float]],
    path: Path,
    engine_s: float,
    seq_s: float,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = [s.title for s in STAGES if s.kind == "light" and s.number <= 8]
    order += list(HEAVY)
    order += [s.title for s in STAGES if s.kind == "light" and s.number > 8]
    fig, ax = plt.subplots(figsize=(11, 6.5))
    seq_start = min(a for a, _ in in_process.values()) if in_process else 0.0
    for row, title in enumerate(order):
        for spans, start, offset, color, label in (
            (engine, engine_start, -0.2, "tab:blue", "engine (parallel branches)"),
            (in_process, seq_start, 0.2, "tab:orange", "in one process (sequential)"),
        ):
            if title in spans:
                a, b = spans[title]
                ax.barh(
                    row + offset,
                    max(b - a, 0.02),
                    left=a - start,
                    height=0.38,
                    color=color,
                    label=label if row == 0 else None,
                )
    ax.set_yticks(range(len(order)), order)
    ax.invert_yaxis()
    ax.set_xlabel("seconds since the review started")
    ax.set_title(
        f"Realistic PR (40 files, ~2,000 lines; LLM median 2 s, p95 8 s): engine {engine_s:.1f} s,"
        f" one process {seq_s:.1f} s"
    )
    ax.legend(loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


async def part_balanced(c: Ctx) -> None:
    """P2: the three heavy stages take about the same time (fixed latencies tuned to the AST
    branch measured in one process); engine vs one process, with the default AST context wait
    and with astContextWait PT0S (the LLM branches do not wait for the AST branch)."""
    template = c.work.template("balanced", BALANCED, {"model": {"maxConcurrency": 32}})
    # measure the AST stage alone in one process first (no LLM needed)
    with law_llm(lambda _p: 0.0) as (_server, llm_env):
        sequential = SequentialReviewer(llm_env)
        try:
            await asyncio.to_thread(sequential.review, [c.work.copy(template)])
            probe = await asyncio.to_thread(sequential.review, [c.work.copy(template)])
        finally:
            sequential.close()
    spans = {n: b - a for n, a, b in probe["timelines"][0]}
    ast_s = max(spans["ast"], 0.5)
    # PR-level: one call of ast_s; per file: review + self-check, all files at once
    per_kind: dict[str, float] = {
        "pr": ast_s,
        "file": ast_s / 2,
        "check": ast_s / 2,
        "summary": 0.05,
    }

    def law(payload: dict[str, Any]) -> float:
        return per_kind[prompt_of(payload)[0]]

    c.report.say(
        f"balanced: AST {ast_s:.2f} s in one process -> LLM latency PR-level {ast_s:.2f} s, "
        f"per file {ast_s / 2:.2f} s + self-check {ast_s / 2:.2f} s (12 files at once)"
    )
    results: dict[str, dict[str, Any]] = {}
    with law_llm(law) as (_server, llm_env):
        workers = WorkerProcesses(worker_env(c.handle.rest_url, llm_env), c.log_dir)
        sequential = SequentialReviewer(llm_env)
        try:
            await engine_review(c.engine, c.watch, c.work.copy(template))
            for label, extra in (
                ("default", {}),
                ("astContextWait PT0S", {"astContextWait": "PT0S"}),
            ):
                eng: list[float] = []
                seq: list[float] = []
                heavy: list[dict[str, float]] = []
                for _ in range(c.args.balanced_runs):
                    run = await engine_review(c.engine, c.watch, c.work.copy(template), extra)
                    eng.append(run.seconds)
                    sp = stage_spans(events_of(run.run_id))
                    heavy.append({t: sp[t][1] - sp[t][0] for t in HEAVY if t in sp})
                    out = await asyncio.to_thread(sequential.review, [c.work.copy(template)])
                    seq.append(out["seconds"][0])
                results[label] = {"engine": eng, "sequential": seq, "heavy": heavy}
        finally:
            workers.stop()
            sequential.close()
    for label, r in results.items():
        speedup = statistics.median(r["sequential"]) / statistics.median(r["engine"])
        stages = ", ".join(
            f"{t} {statistics.median(h.get(t, 0) for h in r['heavy']):.2f} s" for t in HEAVY
        )
        c.report.target(
            "P2" if label == "default" else "P2b",
            f"balanced ({label}): one process {statistics.median(r['sequential']):.2f} s / "
            f"engine {statistics.median(r['engine']):.2f} s = {speedup:.2f}x (target >= 2.7x); "
            f"engine stages: {stages}",
            speedup >= 2.7,
            **r,
        )


async def ended_instances(c: Ctx, ids: Sequence[str]) -> dict[str, float]:
    """Instance id -> end time (epoch s) of those of ``ids`` that ended, in one history query
    per 200 ids (polling each instance would load the engine more than the reviews do)."""
    ended: dict[str, float] = {}
    for k in range(0, len(ids), 200):
        response = await c.watch.client.post(
            "/history/process-instance",
            json={"processInstanceIds": list(ids[k : k + 200]), "finished": True},
            params={"maxResults": "1000"},
        )
        response.raise_for_status()
        for raw in response.json():
            ended[str(raw["id"])] = _engine_time(str(raw["endTime"]))
    return ended


async def part_throughput(c: Ctx) -> None:
    """P4a: no-op reviews started at a fixed rate for a while, served by two no-op pollers
    (trivial handlers: the engine's and the worker loop's own cost); how many ended, at what
    rate, and that none was lost."""
    rate, seconds = c.args.rate, c.args.sustain
    clock = NoopClock()
    stop = asyncio.Event()
    engines = [OperatonEngine(c.handle.rest_url, max_connections=128) for _ in range(2)]
    pollers = [
        TaskPoller(e, noop_specs(clock), 64, 1_000, f"bench-fast-{uuid.uuid4().hex[:6]}")
        for e in engines
    ]
    work = [asyncio.create_task(p.run(stop)) for p in pollers]
    target = ReviewTarget(provider="local", repository="/nonexistent", base_ref="a", head_ref="b")
    started: dict[str, float] = {}
    failures = 0

    async def one() -> None:
        nonlocal failures
        try:
            at = time.time()
            iid = await c.engine.start_instance(
                PROCESS_ID,
                {
                    "reviewRunId": uuid.uuid4().hex,
                    "target": target.model_dump(mode="json", exclude_none=True),
                },
            )
            started[iid] = at
        except Exception:
            failures += 1

    jobs: list[asyncio.Task[None]] = []
    total = int(rate * seconds)
    t0 = time.time()
    ended: dict[str, float] = {}
    try:
        for n in range(total):
            delay = t0 + n / rate - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            jobs.append(asyncio.create_task(one()))
        await asyncio.gather(*jobs)
        deadline = time.time() + 120
        while time.time() < deadline:
            ended = await ended_instances(c, list(started))
            if len(ended) == len(started):
                break
            await asyncio.sleep(1.0)
    finally:
        stop.set()
        await asyncio.gather(*work)
        for e in engines:
            await e.aclose()
    lost = total - len(ended)
    ends = sorted(ended.values())
    # sustained: reviews that ended per second while starts were still being offered, after
    # the first 10 s (the pipeline filled)
    window = [t for t in ends if t0 + 10 <= t <= t0 + seconds]
    sustained = len(window) / max(1e-9, seconds - 10)
    latency = [ended[i] - started[i] for i in ended]
    tail = (ends[-1] - t0 - seconds) if ends else float("nan")
    c.report.target(
        "P4a",
        f"no-op reviews offered at {rate:g}/s for {seconds:g} s: {len(ended)}/{total} ended, "
        f"{lost} lost ({failures} start errors); ended {sustained:.2f}/s from second 10 to "
        f"{seconds:g} (target >= 5/s, 0 lost); each review took median "
        f"{statistics.median(latency) if latency else float('nan'):.1f} s, the last ended "
        f"{tail:.1f} s after the last start",
        sustained >= 0.98 * rate and rate >= 5 and lost == 0,
        ended=len(ended),
        offered=total,
        rate=sustained,
    )


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class RssTrace(Sampler):
    """RSS of some processes over time (MiB), sampled every ``interval`` s."""

    def __init__(self, pids: dict[str, int], interval: float = 0.5) -> None:
        super().__init__(interval)
        self.pids = pids
        self.samples: dict[str, list[float]] = {k: [] for k in pids}

    def sample(self) -> None:
        for name, pid in self.pids.items():
            kib = _proc_kib(pid, "VmRSS")
            if kib is not None:
                self.samples[name].append(kib / 1024)


async def part_burst(c: Ctx) -> None:
    """P4b and memory: 50 realistic reviews at once (each its own copy of the PR)."""
    template = c.work.template("realistic", REALISTIC, REAL_CONFIG)
    count = c.args.burst
    targets = [c.work.copy(template) for _ in range(count + 1)]
    with law_llm(realistic_law()) as (server, llm_env):
        env = worker_env(c.handle.rest_url, llm_env)
        env["REVIEWFLOW_HEAVY_CONCURRENCY"] = str(c.args.heavy_concurrency)
        workers = WorkerProcesses(env, c.log_dir)
        try:
            await engine_review(c.engine, c.watch, targets[0])  # warm-up
            pids = {g: p.pid for g, p in workers.processes.items()}
            if c.handle.pid is not None:
                pids["engine"] = c.handle.pid
            heavy_pid = workers.processes["heavy"].pid
            cpu0, t0 = cpu_seconds(heavy_pid), time.monotonic()
            with RssTrace(pids) as trace, InFlight(server) as inflight:
                results = await asyncio.gather(
                    *(engine_review(c.engine, c.watch, t, timeout_s=1800) for t in targets[1:]),
                    return_exceptions=True,
                )
            wall = time.monotonic() - t0
            cpu = cpu_seconds(heavy_pid) - cpu0
        finally:
            workers.stop()
    ok = [r for r in results if not isinstance(r, BaseException)]
    errors = [repr(r)[:200] for r in results if isinstance(r, BaseException)]
    cores = cpu / wall
    c.report.say(
        f"burst: {len(ok)}/{count} realistic reviews ended in {wall:.1f} s "
        f"({len(ok) / wall * 60:.1f} reviews/min); errors: {errors[:3]}"
    )
    c.report.target(
        "P4b",
        f"heavy worker: peak {inflight.peak} LLM calls in flight, main process "
        f"{cores:.2f} cores over the burst (target >= 256 in flight, < 1 core); "
        f"REVIEWFLOW_HEAVY_CONCURRENCY={c.args.heavy_concurrency}",
        inflight.peak >= 256 and cores < 1,
        in_flight=inflight.peak,
        cores=cores,
    )
    memory = {
        name: {
            "start_mib": round(s[0], 1) if s else None,
            "peak_mib": round(max(s), 1) if s else None,
            "end_mib": round(s[-1], 1) if s else None,
        }
        for name, s in trace.samples.items()
    }
    heavy = trace.samples.get("heavy", [])
    growth = (max(heavy) - heavy[0]) / heavy[0] if heavy else float("nan")
    c.report.target(
        "MEM",
        "RSS over the burst (MiB, start/peak/end): "
        + "; ".join(
            f"{n} {m['start_mib']}/{m['peak_mib']}/{m['end_mib']}" for n, m in memory.items()
        )
        + f"; heavy worker grew {100 * growth:.0f} % (target: flat, <= 25 %)",
        growth <= 0.25,
        memory=memory,
    )


def part_huge(c: Ctx) -> None:
    """P5b: the AST branch's body on a ~1M-line repository, twice (a second run of the same
    PR would use a cached index if there were one)."""
    from shared.artifacts import ArtifactStore
    from workers.heavy.ast_analysis import MAX_REPO_FILES, compute_ast
    from workers.light.fetch_changed_files import fetch_changed_files
    from workers.runtime import StageContext, settings

    template = c.work.template("huge", HUGE, {})
    total = count_lines(template)
    target = c.work.copy(template)
    run_id = uuid.uuid4().hex
    ctx = StageContext(run_id, target, settings(), task_id="bench", process_instance_id=run_id)
    from workers.light.validate_new_commits import validate_new_commits

    v = validate_new_commits(ctx, {"trigger": "cli"})
    out = fetch_changed_files(ctx, {"commits": v["commits"], "config": {}, **v})
    times = []
    items = 0
    for attempt in (1, 2):
        t0 = time.monotonic()
        raw = compute_ast(
            str(settings().state_dir),
            target.model_dump(mode="json"),
            run_id,
            out["filesArtifact"],
            v["commits"]["fromSha"],
            v["commits"]["headSha"],
            attempt,
        )
        times.append(time.monotonic() - t0)
        items = int(raw.get("items", 0))

    def callers_of(raw: dict[str, Any]) -> int:
        report = ArtifactStore(settings().artifacts_dir).get_raw(str(raw["artifact"]))
        return sum(int(s.get("caller_count", 0)) for s in report.get("affected_symbols", []))

    callers = callers_of(raw)
    files = len(list(Path(target.repository).rglob("mod_*")))
    # the same with no cap on the files searched for callers (what "all callers" costs)
    from unittest import mock

    import workers.heavy.ast_analysis as ast_module

    with mock.patch.object(ast_module, "MAX_REPO_FILES", 1_000_000):
        t0 = time.monotonic()
        uncapped = compute_ast(
            str(settings().state_dir),
            target.model_dump(mode="json"),
            run_id,
            out["filesArtifact"],
            v["commits"]["fromSha"],
            v["commits"]["headSha"],
            3,
        )
        uncapped_s = time.monotonic() - t0
    all_callers = callers_of(uncapped)
    c.report.target(
        "P5b",
        f"AST on a {total}-line repository ({files} modules): {times[0]:.2f} s, again "
        f"{times[1]:.2f} s (no index is cached between runs); {items} affected symbols, "
        f"{callers} callers found, searching only the first {MAX_REPO_FILES} files; with "
        f"every file searched {uncapped_s:.2f} s and {all_callers} callers (target <= 5 s, "
        f"all callers)",
        times[1] <= 5 and callers >= all_callers,
        seconds=times,
        uncapped_seconds=uncapped_s,
        callers=callers,
        all_callers=all_callers,
    )


# --- main -------------------------------------------------------------------------------------


PARTS = ("realistic", "large", "balanced", "throughput", "burst", "huge")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python bench/realsize.py", description=__doc__)
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated: {PARTS}")
    parser.add_argument("--balanced-runs", type=int, default=2)
    parser.add_argument("--rate", type=float, default=5.0, help="P4a reviews started per second")
    parser.add_argument("--sustain", type=float, default=60.0, help="P4a seconds")
    parser.add_argument("--burst", type=int, default=50, help="reviews at once in the burst")
    parser.add_argument("--heavy-concurrency", type=int, default=128)
    parser.add_argument("--p3-json", type=Path, help="bench/pipeline.py's JSON, for P3")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "bench-realistic-stages.png")
    parser.add_argument("--json", type=Path, default=ROOT / "docs" / "bench-realsize.json")
    parser.add_argument("--keep", action="store_true", help="keep the generated repositories")
    args = parser.parse_args(argv)
    args.parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if not set(args.parts) <= set(PARTS):
        parser.error(f"unknown part in {args.parts}")
    return args


def p3_from(path: Path, report: Report) -> None:
    data = json.loads(path.read_text())
    noop = data["noop"]["seconds"]
    half = next(m for m in data["modes"] if m["name"] == "LLM (fake, 0.5 s per call)")
    share = statistics.median(noop) / statistics.median(half["engine"])
    hops = sorted(h * 1000 for h in data["noop"]["hops"])
    p50 = hops[len(hops) // 2]
    p99 = hops[min(len(hops) - 1, int(0.99 * len(hops)))]
    report.target(
        "P3",
        f"no-op review {statistics.median(noop):.3f} s = {100 * share:.1f} % of an LLM review "
        f"at 0.5 s per call ({statistics.median(half['engine']):.2f} s); hop p50 {p50:.1f} ms, "
        f"p99 {p99:.1f} ms (target <= 5 %)",
        share <= 0.05,
    )


async def run(args: argparse.Namespace, handle: EngineHandle) -> Report:
    report = Report()
    scratch = Path(tempfile.mkdtemp(prefix="rf-realsize-"))
    engine = OperatonEngine(handle.rest_url)
    watch = InstanceWatch(handle.rest_url)
    c = Ctx(args, handle, engine, watch, Workspace(scratch), report, scratch)
    jvm = PeakRss(handle.pid)
    try:
        with jvm:
            await deploy(engine)
            for part in args.parts:
                print(f"  [{part}]", file=sys.stderr, flush=True)
                if part == "huge":
                    await asyncio.to_thread(part_huge, c)
                else:
                    await {
                        "realistic": part_realistic,
                        "large": part_large,
                        "balanced": part_balanced,
                        "throughput": part_throughput,
                        "burst": part_burst,
                    }[part](c)
    finally:
        await watch.aclose()
        await engine.aclose()
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    if args.p3_json:
        p3_from(args.p3_json, report)
    if jvm.peak_mib is not None:
        report.say(f"engine (Operaton JVM) peak RSS over the run {jvm.peak_mib:.0f} MiB")
        report.figures["engine_peak_mib"] = jvm.peak_mib
    load = os.getloadavg()[0]
    report.say(f"machine: {os.cpu_count()} CPUs, 1-min load at the end {load:.1f}")
    return report


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    for name in LLM_ENV:
        os.environ.pop(name, None)
    with engine_for_bench() as handle:
        report = asyncio.run(run(args, handle))
    args.json.write_text(json.dumps(report.figures, indent=2, default=str))
    print(f"figures: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
