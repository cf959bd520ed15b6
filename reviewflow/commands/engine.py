"""``reviewflow engine build|up|down|status|logs|incidents``: the local Operaton engine.

The engine runs from the repository's ``engine/`` module (see :mod:`reviewflow.engine.local`):
``up`` builds its jar on first use, starts it in the background and prints where its REST API
and Cockpit are, with the admin login. ``down`` stops only the engine this state dir started.
"""

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from reviewflow.engine.java import JavaNotFoundError
from reviewflow.engine.local import (
    ENV_ADMIN_PASSWORD,
    ENV_HOST,
    ENV_REST_AUTH,
    OPERATON_VERSION,
    EngineError,
    EngineStatus,
    LocalEngine,
)
from reviewflow.engine.operaton import OperatonEngine
from reviewflow.engine.port import EngineRequestError, EngineUnavailable, Incident

engine_app = typer.Typer(
    help=f"The local engine (Operaton {OPERATON_VERSION}): build, start, stop, inspect.",
    no_args_is_help=True,
)

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.add_typer(engine_app, name="engine")


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(code=1)


def _engine() -> LocalEngine:
    try:
        return LocalEngine()
    except EngineError as exc:
        raise _fail(str(exc)) from exc


def _mark(ok: bool) -> str:
    return "[green]yes[/green]" if ok else "[red]no[/red]"


def _print_status(engine: LocalEngine, status: EngineStatus) -> None:
    pid = str(status.pid) if status.pid is not None else "-"
    out.print(f"process:   {_mark(status.process_alive)} (pid {pid})")
    out.print(f"REST API:  {_mark(status.rest_ready)} {status.rest_url}")
    if status.rest_auth:
        out.print(
            f"           (HTTP Basic authentication with engine users, e.g. "
            f"{escape(status.admin_user)}; bound to {escape(status.bind_host)})"
        )
    elif status.exposed:
        out.print(
            f"           [yellow]warning:[/yellow] bound to {escape(status.bind_host)} "
            f"({ENV_HOST}) without authentication ({ENV_REST_AUTH}=false): anyone who "
            "reaches this port can deploy and run processes"
        )
    else:
        out.print(
            f"           (no authentication: bound to {escape(status.bind_host)} only; "
            f"{ENV_HOST} changes that)"
        )
    out.print(f"Cockpit:   {status.cockpit_url}")
    out.print(f"user:      {escape(status.admin_user)}")
    password = engine.known_admin_password()
    if password is None:
        out.print("password:  (none yet: generated on the first `reviewflow engine up`)")
    elif engine.env.get(ENV_ADMIN_PASSWORD, "").strip():
        out.print(f"password:  {escape(password)}  (from ${ENV_ADMIN_PASSWORD})")
    else:
        out.print(f"password:  {escape(password)}  (stored in {escape(str(engine.password_path))})")
    out.print(f"database:  {escape(status.database)}")
    out.print(f"log:       {escape(str(status.log_path))}")
    record = engine.read_pid_record()
    if status.process_alive and record is not None:
        try:
            current = str(engine.jar_path())
        except EngineError:
            return
        if record.jar != current:
            out.print(
                "[yellow]note:[/yellow] the engine runs an older build of engine/ "
                "(`reviewflow engine down` then `up` runs the current one)"
            )


@engine_app.command()
def build(
    force: Annotated[bool, typer.Option("--force", help="Build even if the jar is there.")] = False,
) -> None:
    """Build the engine jar from the engine/ module with Maven (up does it when needed)."""
    engine = _engine()
    try:
        jar = engine.build(force=force)
    except (EngineError, JavaNotFoundError) as exc:
        raise _fail(str(exc)) from exc
    out.print(f"engine jar: {escape(str(jar))}")


@engine_app.command()
def up(
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the REST API (the build not counted).")
    ] = 180.0,
) -> None:
    """Start the engine (or reuse the running one) and print its addresses and login."""
    engine = _engine()
    try:
        result = engine.up(timeout=timeout)
    except (EngineError, JavaNotFoundError) as exc:
        raise _fail(str(exc)) from exc
    status = result.status
    verb = "started" if result.started else "already running, reused"
    out.print(f"Operaton {OPERATON_VERSION} engine {verb} (pid {status.pid}).")
    _print_status(engine, status)


@engine_app.command()
def down() -> None:
    """Stop the engine this state dir started (never anything else)."""
    engine = _engine()
    try:
        result = engine.down()
    except EngineError as exc:
        raise _fail(str(exc)) from exc
    out.print(escape(result.message))


@engine_app.command()
def status() -> None:
    """Show whether the engine is up, where, and the login; exits 1 when it is not healthy."""
    engine = _engine()
    probed = engine.status()
    _print_status(engine, probed)
    if not probed.healthy:
        err.print("[red]engine is not healthy[/red] (start it with `reviewflow engine up`)")
        raise typer.Exit(code=1)
    out.print("[green]engine is healthy[/green]")


@engine_app.command()
def logs(
    lines: Annotated[int, typer.Option("-n", "--lines", min=1, help="How many lines.")] = 100,
) -> None:
    """Print the last lines of the engine log."""
    text = _engine().logs(lines)
    if not text:
        err.print("no engine log yet")
        raise typer.Exit(code=1)
    typer.echo(text)


def _print_incident(incident: Incident) -> None:
    out.print(
        f"incident {escape(incident.id)}  {escape(incident.created or '?')}  instance "
        f"{escape(incident.process_instance_id)}  activity {escape(incident.activity_id)}"
    )
    message = incident.message.strip().replace("\n", "\n    ")
    out.print(f"  {escape(incident.type)}: {escape(message)}")
    if incident.task_id:
        out.print(f"  external task: {escape(incident.task_id)}")


@engine_app.command()
def incidents(
    retry: Annotated[
        str | None,
        typer.Option(
            "--retry",
            metavar="INCIDENT",
            help="Give the failed task of this incident retries again (fix the cause first); "
            "this resolves the incident and the instance goes on.",
        ),
    ] = None,
    retries: Annotated[int, typer.Option(min=1, help="Retries to give with --retry.")] = 1,
) -> None:
    """List the engine's open incidents (tasks out of retries), or retry one."""
    engine = _engine()
    password = engine.known_admin_password() if engine.rest_auth else None
    auth = (engine.admin_user, password) if password is not None else None

    async def go() -> list[Incident]:
        port = OperatonEngine(engine.rest_url, cockpit_url=engine.cockpit_url, auth=auth)
        try:
            found = await port.incidents()
            if retry is not None:
                chosen = [i for i in found if i.id == retry]
                if not chosen:
                    raise _fail(f"no open incident {retry!r} (see `reviewflow engine incidents`)")
                await port.retry_incident(chosen[0], retries)
            return found
        finally:
            await port.aclose()

    try:
        found = asyncio.run(go())
    except (EngineUnavailable, EngineRequestError) as exc:
        raise _fail(
            f"the engine's REST API at {engine.rest_url} refused or did not answer ({exc}); "
            "is it running? (`reviewflow engine status`)"
        ) from exc
    if retry is not None:
        out.print(f"incident {escape(retry)}: the task has {retries} retr(y/ies) again")
        return
    if not found:
        out.print("no open incidents")
        return
    for incident in found:
        _print_incident(incident)
    out.print(
        f"Cockpit shows them too: {engine.cockpit_url}. To resolve one, fix the cause, then "
        "`reviewflow engine incidents --retry INCIDENT` (or \"Increment retries\" in Cockpit)."
    )
