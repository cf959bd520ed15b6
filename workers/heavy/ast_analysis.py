"""Stage 9 (heavy): tree-sitter analysis of the change, in a process pool (CPU-bound)."""

import asyncio
from pathlib import Path
from typing import Any

from reviewflow.engine.port import EnginePort
from shared.analysis.languages import detect_language
from shared.artifacts import ArtifactStore
from shared.config import ReviewConfig
from shared.contract import HEAVY_BRANCHES, heavy_branch
from shared.git.factory import open_host
from shared.models import BranchOutcome, ChangedFile, FileStatus, ReviewTarget
from shared.stages.ast_stage import RUFF_CONFIG_FILES, ast_stage
from shared.stages.preparation import changed_lines
from workers.heavy.runtime import HeavyRuntime, Work, branch_title, deliver, dispatch_router
from workers.runtime import Router, StageContext, Variables

BRANCH = heavy_branch("ast")
# files of the repository searched for callers of the changed symbols: bench/realsize.py
# measured a ~1M-line repository (6,600 modules) at 3.2 s with every file searched, against
# 1.8 s and 4 of its 11 callers with the old cap of 3,000
MAX_REPO_FILES = 10_000


def compute_ast(
    state_dir: str,
    target: dict[str, Any],
    run_id: str,
    files_artifact: str,
    from_sha: str,
    head_sha: str,
    attempt: int,
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Runs in a worker process: everything it needs comes as plain arguments."""
    root = Path(state_dir)
    host = open_host(ReviewTarget.model_validate(target), root)
    store = ArtifactStore(root / "artifacts")
    files = store.get(files_artifact, list[ChangedFile])
    lines = {f.path: changed_lines(f) for f in files}
    modified = [f.previous_path or f.path for f in files if f.status is not FileStatus.ADDED]
    base_sources = host.read_files(modified, from_sha)
    changed = {f.path for f in files}
    candidates = [p for p in host.list_files(head_sha) if p not in changed and detect_language(p)]
    repo_sources = host.read_files(candidates[:MAX_REPO_FILES], head_sha)
    repo_configs = host.read_files(list(RUFF_CONFIG_FILES), head_sha)
    review_config = ReviewConfig.model_validate(config or {})
    report = ast_stage(files, lines, base_sources, repo_sources, repo_configs, review_config)
    artifact = store.put(run_id, f"ast-{attempt}", report)
    gaps = [
        f"{run.tool} {run.status}: {run.detail}"
        for run in report.analyzer_runs
        if run.status in ("failed", "timeout")
    ]
    return BranchOutcome(
        status="ok",
        artifact=artifact,
        items=len(report.affected_symbols),
        error="; ".join(gaps)[:1000] or None,
    ).model_dump()


def make_work(runtime: HeavyRuntime) -> Work:
    """The branch's work, as the dispatch runs it in the background (and the bench in
    process)."""

    async def work(ctx: StageContext, v: Variables, attempt: int) -> BranchOutcome:
        args = (
            str(ctx.settings.state_dir),
            ctx.target.model_dump(mode="json"),
            ctx.run_id,
            v["filesArtifact"],
            v["commits"]["fromSha"],
            v["commits"]["headSha"],
            attempt,
            v.get("config"),
        )
        loop = asyncio.get_running_loop()
        raw = await loop.run_in_executor(runtime.pool, compute_ast, *args)
        return BranchOutcome.model_validate(raw)

    return work


async def hand_on(engine: EnginePort, ctx: StageContext, outcome: BranchOutcome) -> None:
    """After its own result: tell the LLM branches that wait for the impact context (a
    branch that already went on without it matches nothing, which is fine). The round keeps
    a late message from reaching the next round's wait."""
    keys: dict[str, str | int] = {"reviewRound": ctx.review_round}
    for branch in HEAVY_BRANCHES:
        if branch.context_message is not None:
            await deliver(
                engine, branch.context_message, ctx, None, keys, branch_title(BRANCH), quiet=True
            )


def make_router(runtime: HeavyRuntime) -> Router:
    return dispatch_router(
        runtime, BRANCH, make_work(runtime), ("config", "filesArtifact", "commits"), after=hand_on
    )
