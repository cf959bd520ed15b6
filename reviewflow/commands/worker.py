"""``reviewflow worker light|heavy|all``: serve job types until interrupted."""

import asyncio
import contextlib
import logging
import signal

import typer
from pydantic import ValidationError

from reviewflow.engine.connect import open_engines
from reviewflow.engine.local import LocalEngine
from workers.main import run_workers

GROUPS = {"light": {"light"}, "heavy": {"heavy"}, "all": {"light", "heavy"}}


def _local_engine() -> tuple[str, str]:
    """The local engine's URLs; the worker does not start it (``reviewflow engine up``)."""
    engine = LocalEngine()
    return engine.rest_url, engine.cockpit_url


def worker(
    group: str = typer.Argument(..., help="light, heavy or all"),
    only: list[str] = typer.Option([], "--only", help="Serve only these job types (repeatable)."),
) -> None:
    """Run external-task workers against REVIEWFLOW_ENGINE_URL (comma-separated for several
    engine nodes; default: the local engine), or ZEEBE_ADDRESS for a Camunda 8 cluster."""
    if group not in GROUPS:
        raise typer.BadParameter(f"unknown group {group!r}: use light, heavy or all")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        engines = open_engines(_local_engine)
    except (ValidationError, ValueError) as exc:
        typer.echo(f"error: invalid engine settings: {_settings_error(exc)}", err=True)
        raise typer.Exit(2) from None

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


def _settings_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
    return str(exc)


def register(app: typer.Typer) -> None:
    app.command()(worker)
