"""One review, end to end: deploy the process, start the workers, run one instance, follow its
progress, and read back the result — against any engine, through the engine port."""

import asyncio
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reviewflow.engine.port import EnginePort, InstanceState, InstanceStatus, StartKind
from shared.artifacts import ArtifactStore
from shared.contract import PR_EVENT_MESSAGE, PROCESS_ID
from shared.events import EventLog, StageEvent
from shared.git.local import LocalGitHost
from shared.ingress import pr_key
from shared.models import ReviewTarget
from shared.stages.outcome import ReviewResult
from workers.main import run_workers
from workers.runtime import current_settings, run_id_of, unspill

BPMN_PATH = Path(__file__).resolve().parent.parent / "bpmn" / "code_review.bpmn"
POLL_S = 0.2
# the long poll of the workers one review starts in this process: short, because stopping
# them waits for the polls in flight (a cancelled one would lock a task for nobody)
REVIEW_POLL_WAIT_MS = 1_000


@dataclass
class ReviewRun:
    run_id: str
    instance_id: str
    variables: dict[str, Any]
    result: ReviewResult | None
    report_path: Path | None
    seconds: float
    events: list[StageEvent] = field(default_factory=list)
    operator_url: str | None = None
    incidents: int = 0

    @property
    def skipped(self) -> str | None:
        value = self.variables.get("skipped")
        return str(value) if value else None


_GITHUB_REF = re.compile(
    r"^([A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?/[A-Za-z0-9._-]{1,100})#([1-9][0-9]{0,9})$"
)


def github_target(ref: str) -> ReviewTarget:
    """``owner/name#number`` → a GitHub target."""
    match = _GITHUB_REF.match(ref.strip())
    if not match or match.group(1).split("/")[1] in {".", ".."}:
        raise ValueError(f"a GitHub pull request is owner/name#number, got {ref!r}")
    return ReviewTarget(provider="github", repository=match.group(1), pr_number=int(match.group(2)))


def local_target(repo: Path, base: str, head: str) -> ReviewTarget:
    path = repo.resolve()
    if not (path / ".git").exists():
        raise ValueError(f"{path} is not a git repository (no .git)")
    return ReviewTarget(provider="local", repository=str(path), base_ref=base, head_ref=head)


async def deploy(engine: EnginePort, bpmn: Path = BPMN_PATH) -> None:
    await engine.deploy([bpmn])


async def follow(
    engine: EnginePort,
    instance_id: str,
    run_id: str,
    timeout_s: float,
    on_event: Callable[[StageEvent], None] | None = None,
) -> tuple[InstanceState, list[StageEvent]]:
    """Wait for the instance to end, passing each stage event of its run to ``on_event``."""
    log = EventLog(current_settings().artifacts_dir, run_id)
    seen: list[StageEvent] = []
    offset = 0
    deadline = time.monotonic() + timeout_s
    while True:
        state = await engine.instance(instance_id)
        events, offset = log.read(offset)
        for event in events:
            seen.append(event)
            if on_event is not None:
                on_event(event)
        if state.status is not InstanceStatus.ACTIVE:
            events, offset = log.read(offset)
            for event in events:
                seen.append(event)
                if on_event is not None:
                    on_event(event)
            return state, seen
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"instance {instance_id} did not end in {timeout_s:.0f} s "
                f"({state.incidents} open incident(s))"
            )
        await asyncio.sleep(POLL_S)


def _run_from(
    engine: EnginePort,
    instance_id: str,
    run_id: str,
    state: InstanceState,
    events: list[StageEvent],
    target: ReviewTarget,
    started: float,
) -> ReviewRun:
    store = ArtifactStore(current_settings().artifacts_dir)
    variables = unspill(store, dict(state.variables))
    result = None
    if variables.get("resultArtifact"):
        result = store.get(str(variables["resultArtifact"]), ReviewResult)
    return ReviewRun(
        run_id=run_id_of(variables, instance_id) if variables else run_id,
        instance_id=instance_id,
        variables=variables,
        result=result,
        report_path=_report_path(target),
        seconds=time.monotonic() - started,
        events=events,
        operator_url=engine.operator_url(instance_id),
        incidents=state.incidents,
    )


async def start_review(
    engine: EnginePort,
    target: ReviewTarget,
    force: bool = False,
    heavy_timeout: str | None = None,
    timeout_s: float = 900,
    on_event: Callable[[StageEvent], None] | None = None,
    extra: dict[str, Any] | None = None,
) -> ReviewRun:
    """Run one instance for a local target to its end."""
    variables: dict[str, Any] = {
        "target": target.model_dump(mode="json", exclude_none=True),
        "trigger": "command" if force else "cli",
        **(extra or {}),
    }
    if heavy_timeout:
        variables["heavyTimeout"] = heavy_timeout
    started = time.monotonic()
    instance_id = await engine.start_instance(PROCESS_ID, variables, business_key=target.key)
    state, events = await follow(engine, instance_id, instance_id, timeout_s, on_event)
    return _run_from(engine, instance_id, instance_id, state, events, target, started)


async def start_pr_review(
    engine: EnginePort,
    target: ReviewTarget,
    force: bool = False,
    timeout_s: float = 900,
    on_event: Callable[[StageEvent], None] | None = None,
) -> ReviewRun:
    """Start a PR review the way the webhook does (start-or-correlate on the PR's business
    key: when a review of the PR runs, it reviews again after its current round) and follow
    the instance to its end."""
    assert target.pr_number is not None
    started = time.monotonic()
    outcome = await engine.start_or_correlate(
        PR_EVENT_MESSAGE,
        pr_key(target.repository, target.pr_number),
        {
            "target": target.model_dump(mode="json", exclude_none=True),
            "trigger": "command" if force else "cli",
        },
    )
    if outcome.process_instance_id is None:
        raise RuntimeError("the engine accepted the review request but named no instance")
    instance_id = outcome.process_instance_id
    if outcome.kind is StartKind.CORRELATED and on_event is not None:
        on_event(
            StageEvent(
                run_id=instance_id,
                stage="Review request",
                status="dispatched",
                detail="a review of this pull request runs: it reviews again when it is done",
                at=time.time(),
            )
        )
    state, events = await follow(engine, instance_id, instance_id, timeout_s, on_event)
    return _run_from(engine, instance_id, instance_id, state, events, target, started)


def _report_path(target: ReviewTarget) -> Path | None:
    if target.provider != "local":
        return None
    return LocalGitHost(target, current_settings().state_dir).state_dir / "report.md"


async def review_with_workers(
    engines: Sequence[EnginePort],
    target: ReviewTarget,
    force: bool = False,
    heavy_timeout: str | None = None,
    on_event: Callable[[StageEvent], None] | None = None,
) -> ReviewRun:
    """Deploy, start the light and heavy workers in this process, run one review, stop them."""
    engine = engines[0]
    await deploy(engine)
    stop = asyncio.Event()
    workers = asyncio.create_task(
        run_workers(engines, {"light", "heavy"}, stop=stop, poll_wait_ms=REVIEW_POLL_WAIT_MS)
    )
    try:
        if target.provider == "github":
            return await start_pr_review(engine, target, force, on_event=on_event)
        return await start_review(engine, target, force, heavy_timeout, on_event=on_event)
    finally:
        stop.set()
        await workers
