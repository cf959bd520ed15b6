"""One local review, end to end: engine up if needed, deploy the process, start the workers,
run one instance, follow its progress, and read back the result."""

import asyncio
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from pyzeebe import ZeebeClient

from shared.artifacts import ArtifactStore
from shared.contract import PROCESS_ID, REPORT_SKIP_JOB_TYPE
from shared.events import EventLog, StageEvent
from shared.git.local import LocalGitHost
from shared.ingress import START_MESSAGE, START_MESSAGE_TTL_MS, pr_key
from shared.models import ReviewTarget
from shared.stages.outcome import ReviewResult
from workers.main import run_workers
from workers.runtime import settings, stage_title

BPMN_PATH = Path(__file__).resolve().parent.parent / "bpmn" / "code_review.bpmn"
RESULT_VARIABLES = [
    "reviewRunId",
    "proceed",
    "skipReason",
    "skipped",
    "configError",
    "verdict",
    "verdictReason",
    "resultArtifact",
    "counts",
    "partial",
    "astOutcome",
    "prReviewOutcome",
    "fileReviewOutcome",
]


@dataclass
class ReviewRun:
    run_id: str
    instance_key: int
    variables: dict[str, Any]
    result: ReviewResult | None
    report_path: Path | None
    seconds: float
    events: list[StageEvent] = field(default_factory=list)

    @property
    def skipped(self) -> str | None:
        value = self.variables.get("skipped")
        return str(value) if value else None


_GITHUB_REF = re.compile(r"^([A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100})#([1-9][0-9]{0,9})$")


def github_target(ref: str) -> ReviewTarget:
    """``owner/name#number`` → a GitHub target."""
    match = _GITHUB_REF.match(ref.strip())
    if not match:
        raise ValueError(f"a GitHub pull request is owner/name#number, got {ref!r}")
    return ReviewTarget(provider="github", repository=match.group(1), pr_number=int(match.group(2)))


def local_target(repo: Path, base: str, head: str) -> ReviewTarget:
    path = repo.resolve()
    if not (path / ".git").exists():
        raise ValueError(f"{path} is not a git repository (no .git)")
    return ReviewTarget(provider="local", repository=str(path), base_ref=base, head_ref=head)


async def deploy(client: ZeebeClient, bpmn: Path = BPMN_PATH) -> None:
    await client.deploy_resource(str(bpmn))


async def start_review(
    client: ZeebeClient,
    target: ReviewTarget,
    force: bool = False,
    heavy_timeout: str | None = None,
    timeout_s: float = 900,
    on_event: Callable[[StageEvent], None] | None = None,
) -> ReviewRun:
    """Run one instance to its end; ``on_event`` sees each stage transition as it happens."""
    run_id = uuid.uuid4().hex
    variables: dict[str, Any] = {
        "reviewRunId": run_id,
        "target": target.model_dump(mode="json"),
        "trigger": "command" if force else "cli",
        "startedAt": time.time(),
    }
    if heavy_timeout:
        variables["heavyTimeout"] = heavy_timeout
    worker_settings = settings()
    log = EventLog(worker_settings.artifacts_dir, run_id)
    seen: list[StageEvent] = []
    started = time.monotonic()
    task = asyncio.create_task(
        client.run_process_with_result(
            PROCESS_ID,
            variables,
            timeout=int(timeout_s * 1000),
            variables_to_fetch=RESULT_VARIABLES,
        )
    )
    offset = 0
    while True:
        done = task.done()
        events, offset = log.read(offset)
        for event in events:
            seen.append(event)
            if on_event is not None:
                on_event(event)
        if done:
            break
        await asyncio.sleep(0.2)
    response = task.result()
    result_variables = dict(response.variables)
    store = ArtifactStore(worker_settings.artifacts_dir)
    result = None
    if result_variables.get("resultArtifact"):
        result = store.get(str(result_variables["resultArtifact"]), ReviewResult)
    return ReviewRun(
        run_id=run_id,
        instance_key=response.process_instance_key,
        variables=result_variables,
        result=result,
        report_path=_report_path(target),
        seconds=time.monotonic() - started,
        events=seen,
    )


def _report_path(target: ReviewTarget) -> Path | None:
    if target.provider != "local":
        return None
    return LocalGitHost(target, settings().state_dir).state_dir / "report.md"


async def start_pr_review(
    client: ZeebeClient,
    target: ReviewTarget,
    force: bool = False,
    timeout_s: float = 900,
    on_event: Callable[[StageEvent], None] | None = None,
) -> ReviewRun:
    """Start a PR review the way the webhook does (the start message, keyed by the PR, so it
    waits for a review of the same PR that is running) and follow it to its end."""
    assert target.pr_number is not None
    run_id = uuid.uuid4().hex
    await client.publish_message(
        START_MESSAGE,
        pr_key(target.repository, target.pr_number),
        variables={
            "reviewRunId": run_id,
            "target": target.model_dump(mode="json", exclude_none=True),
            "trigger": "command" if force else "cli",
        },
        time_to_live_in_milliseconds=START_MESSAGE_TTL_MS,
        message_id=f"cli-{run_id}",
    )
    log = EventLog(settings().artifacts_dir, run_id)
    verdict_stage, skip_stage = stage_title("reviewflow.verdict"), stage_title(REPORT_SKIP_JOB_TYPE)
    seen: list[StageEvent] = []
    variables: dict[str, Any] = {"reviewRunId": run_id}
    started = time.monotonic()
    offset = 0
    while "verdict" not in variables and "skipped" not in variables:
        if time.monotonic() - started > timeout_s:
            raise TimeoutError(f"the review of {target.label} did not end in {timeout_s:.0f} s")
        events, offset = log.read(offset)
        for event in events:
            seen.append(event)
            if on_event is not None:
                on_event(event)
            if event.status == "completed" and event.stage == verdict_stage:
                verdict, _, reason = event.detail.partition(": ")
                variables.update(verdict=verdict, verdictReason=reason)
            elif event.status == "completed" and event.stage == skip_stage:
                variables["skipped"] = event.detail
        await asyncio.sleep(0.2)
    store = ArtifactStore(settings().artifacts_dir)
    result = None
    if "verdict" in variables:
        result = store.get(f"{run_id}/result", ReviewResult)
    return ReviewRun(
        run_id=run_id,
        instance_key=0,
        variables=variables,
        result=result,
        report_path=None,
        seconds=time.monotonic() - started,
        events=seen,
    )


async def review_with_workers(
    channel: grpc.aio.Channel,
    target: ReviewTarget,
    force: bool = False,
    heavy_timeout: str | None = None,
    on_event: Callable[[StageEvent], None] | None = None,
) -> ReviewRun:
    """Deploy, start the light and heavy workers in this process, run one review, stop them."""
    client = ZeebeClient(channel)
    await deploy(client)
    stop = asyncio.Event()
    workers = asyncio.create_task(run_workers(channel, {"light", "heavy"}, stop=stop))
    try:
        if target.provider == "github":
            return await start_pr_review(client, target, force, on_event=on_event)
        return await start_review(client, target, force, heavy_timeout, on_event=on_event)
    finally:
        stop.set()
        await workers
