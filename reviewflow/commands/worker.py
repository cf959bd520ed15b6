"""``reviewflow worker light|heavy|all``: serve topics until interrupted."""

import asyncio
import contextlib
import logging
import signal

import typer

from reviewflow.commands._settings import load_settings, open_engines_or_exit
from reviewflow.engine.local import LocalEngine
from shared.git.github_api import GitHubSettings
from shared.llm.settings import LlmSettings
from workers.main import run_workers
from workers.settings import WorkerSettings

GROUPS = {"light": {"light"}, "heavy": {"heavy"}, "all": {"light", "heavy"}}


def local_engine_urls() -> tuple[str, str]:
    """The local engine's URLs; a worker does not start it (``reviewflow engine up``)."""
    engine = LocalEngine()
    return engine.rest_url, engine.cockpit_url


def worker(
    group: str = typer.Argument(..., help="light, heavy or all"),
    only: list[str] = typer.Option([], "--only", help="Serve only these topics (repeatable)."),
) -> None:
    """Run external-task workers against REVIEWFLOW_ENGINE_URL (comma-separated for several
    engine nodes; default: the local engine), or ZEEBE_ADDRESS for a Camunda 8 cluster."""
    if group not in GROUPS:
        raise typer.BadParameter(f"unknown group {group!r}: use light, heavy or all")
    # the stages read these later; an invalid one is reported now, as one line
    for kind in (WorkerSettings, LlmSettings, GitHubSettings):
        load_settings(kind)
    engines = open_engines_or_exit(local_engine_urls)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    async def go() -> None:
        # SIGINT and SIGTERM stop the pollers cleanly: the long polls in flight end and what
        # they bring is handed back (a cancelled poll would lock a task for nobody)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            await run_workers(engines, GROUPS[group], only=set(only) or None, stop=stop)
        finally:
            for engine in engines:
                await engine.aclose()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(go())


def register(app: typer.Typer) -> None:
    app.command()(worker)
