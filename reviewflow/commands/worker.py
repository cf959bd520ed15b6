"""``reviewflow worker light|heavy|all``: serve job types until interrupted."""

import asyncio
import contextlib
import logging

import typer

from reviewflow.engine.cluster import ClusterSettings, create_channel
from workers.main import run_workers

GROUPS = {"light": {"light"}, "heavy": {"heavy"}, "all": {"light", "heavy"}}


def worker(
    group: str = typer.Argument(..., help="light, heavy or all"),
    only: list[str] = typer.Option([], "--only", help="Serve only these job types (repeatable)."),
) -> None:
    """Run pyzeebe workers against ZEEBE_ADDRESS (a Camunda 8 cluster; default
    127.0.0.1:26500)."""
    if group not in GROUPS:
        raise typer.BadParameter(f"unknown group {group!r}: use light, heavy or all")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    async def go() -> None:
        channel = create_channel(ClusterSettings())
        await run_workers(channel, GROUPS[group], only=set(only) or None)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(go())


def register(app: typer.Typer) -> None:
    app.command()(worker)
