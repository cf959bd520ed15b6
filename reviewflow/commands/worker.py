"""``reviewflow worker light|heavy|all``: serve job types until interrupted."""

import asyncio
import contextlib
import logging

import typer

from reviewflow.commands._settings import load_settings
from reviewflow.engine.cluster import ClusterSettings, create_channel
from reviewflow.engine.local import LocalEngine
from shared.git.github_api import GitHubSettings
from shared.llm.settings import LlmSettings
from workers.main import run_workers
from workers.settings import WorkerSettings

GROUPS = {"light": {"light"}, "heavy": {"heavy"}, "all": {"light", "heavy"}}


def worker(
    group: str = typer.Argument(..., help="light, heavy or all"),
    only: list[str] = typer.Option([], "--only", help="Serve only these job types (repeatable)."),
) -> None:
    """Run pyzeebe workers against ZEEBE_ADDRESS (default: the local engine, on its configured
    REVIEWFLOW_ENGINE_GRPC_PORT)."""
    if group not in GROUPS:
        raise typer.BadParameter(f"unknown group {group!r}: use light, heavy or all")
    cluster = load_settings(ClusterSettings)
    # the stages read these later; an invalid one is reported now, as one line
    for kind in (WorkerSettings, LlmSettings, GitHubSettings):
        load_settings(kind)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    async def go() -> None:
        channel = create_channel(cluster, LocalEngine().grpc_address)
        await run_workers(channel, GROUPS[group], only=set(only) or None)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(go())


def register(app: typer.Typer) -> None:
    app.command()(worker)
