"""``reviewflow engine up|down|status|logs|incidents``: the Zeebe engine the pipeline runs on.

Which engine:

- ``ZEEBE_ADDRESS`` set: an external cluster. Nothing local is started or stopped; ``up`` and
  ``status`` check that its gateway answers.
- ``--docker``: Camunda 8.9 in Docker (needs a running Docker engine).
- otherwise: the local Zeebe broker run from the official Java distribution.
"""

import asyncio
from dataclasses import replace
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from reviewflow.engine.cluster import ClusterSettings, cluster_topology
from reviewflow.engine.docker import (
    DEFAULT_OPERATE_USER,
    PASSWORD_ENV,
    DockerEngine,
    DockerStatus,
)
from reviewflow.engine.java import JavaNotFoundError
from reviewflow.engine.local import EngineError, EngineStatus, IncidentRecord, LocalEngine
from reviewflow.engine.versions import TARGET_CAMUNDA_VERSION, ZEEBE_VERSION

engine_app = typer.Typer(
    help="The Zeebe engine: start, stop, inspect.",
    no_args_is_help=True,
)

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

DockerOption = Annotated[
    bool,
    typer.Option("--docker", help=f"Use Camunda {TARGET_CAMUNDA_VERSION} in Docker instead."),
]

UNAVAILABLE_LOCAL = (
    f"Not available with this engine (the Zeebe {ZEEBE_VERSION} broker, without Docker):\n"
    f"  - Operate: Zeebe {ZEEBE_VERSION}'s Operate needs Elasticsearch, which is not run here; "
    f"Operate on H2 needs Camunda {TARGET_CAMUNDA_VERSION}, whose distribution the reachable "
    "Maven Central does not serve.\n"
    "  - the webhook connector: the Camunda connectors runtime "
    "(io.camunda.connector:connector-runtime-bundle) is not served there either, so there is "
    "no inbound webhook endpoint.\n"
    f"  With Docker, `docker compose up` runs Camunda {TARGET_CAMUNDA_VERSION} with Operate and "
    "the connectors runtime."
)


def register(app: typer.Typer) -> None:
    app.add_typer(engine_app, name="engine")


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(code=1)


def _settings() -> ClusterSettings:
    try:
        return ClusterSettings()
    except ValidationError as exc:
        problems = "; ".join(str(e["msg"]) for e in exc.errors())
        raise _fail(f"invalid cluster settings: {problems}") from None


def _external(settings: ClusterSettings) -> None:
    out.print(f"ZEEBE_ADDRESS is set: external cluster {escape(settings.describe())}.")
    out.print("Nothing is started or stopped locally.")
    try:
        brokers = asyncio.run(cluster_topology(settings))
    except Exception as exc:  # any transport/auth failure means "not reachable"
        raise _fail(f"the gateway at {settings.address()} does not answer: {exc}") from exc
    for node_id, host, port in brokers:
        out.print(f"  broker {node_id}: {escape(host)}:{port}")


def _mark(ok: bool) -> str:
    return "[green]yes[/green]" if ok else "[red]no[/red]"


def _print_addresses(status: EngineStatus | DockerStatus) -> None:
    """Where to point clients, after ``up``."""
    out.print(f"  gRPC (pyzeebe): {status.grpc_address}")
    out.print(f"  REST API:       {status.rest_url}/v2  (e.g. /v2/topology)")
    out.print(f"  management:     {status.management_url}/actuator/health")


def _print_status(status: EngineStatus | DockerStatus) -> None:
    """One probe a line, for the local broker and the Docker container alike."""
    if isinstance(status, DockerStatus):
        out.print(f"container:      {_mark(status.running)} ({status.container})")
    else:
        pid = str(status.pid) if status.pid is not None else "-"
        out.print(f"process alive:  {_mark(status.pid_alive)} (pid {pid})")
    out.print(
        f"ready:          {_mark(status.ready)} ({status.management_url}/actuator/health/readiness)"
    )
    out.print(f"gRPC open:      {_mark(status.grpc_open)} ({status.grpc_address})")
    if isinstance(status, DockerStatus):
        return
    if status.topology is not None:
        brokers = status.topology.get("brokers", [])
        version = status.topology.get("gatewayVersion", "?")
        out.print(
            f"REST topology:  [green]yes[/green] ({status.rest_url}/v2/topology: "
            f"{len(brokers)} broker(s), gateway {escape(str(version))})"
        )
    else:
        out.print(f"REST topology:  [red]no[/red] ({status.rest_url}/v2/topology)")
    out.print(f"log:            {escape(str(status.log_path))}")


@engine_app.command()
def up(docker: DockerOption = False) -> None:
    """Start the engine (or reuse the running one) and print its addresses."""
    settings = _settings()
    if settings.external:
        _external(settings)
        return
    try:
        if docker:
            dstatus = DockerEngine().up()
            out.print(f"Camunda {TARGET_CAMUNDA_VERSION} is running in Docker.")
            _print_addresses(dstatus)
            out.print(
                f"  Operate:        {dstatus.rest_url}/operate  (user {DEFAULT_OPERATE_USER}, "
                f"password from ${PASSWORD_ENV} or the default)"
            )
            out.print(
                "Not started: the connectors runtime (webhook connector). "
                "Run `docker compose up` for the full stack."
            )
            return
        engine = LocalEngine()
        result = engine.up()
    except (EngineError, JavaNotFoundError) as exc:
        raise _fail(str(exc)) from exc
    status = result.status
    verb = "started" if result.started else "already running, reused"
    out.print(f"Zeebe {ZEEBE_VERSION} broker {verb} (pid {status.pid}).")
    _print_addresses(status)
    out.print(f"  state:          {escape(str(engine.engine_dir))}")
    out.print(UNAVAILABLE_LOCAL)


@engine_app.command()
def down(docker: DockerOption = False) -> None:
    """Stop the engine this machine's state dir started (never anything else)."""
    settings = _settings()
    if settings.external:
        out.print(
            "ZEEBE_ADDRESS is set: the external cluster is not managed here; nothing to stop."
        )
        return
    try:
        if docker:
            removed = DockerEngine().down()
            out.print("container removed" if removed else "no reviewflow container was running")
            return
        result = LocalEngine().down()
    except EngineError as exc:
        raise _fail(str(exc)) from exc
    out.print(escape(result.message))


@engine_app.command()
def status(docker: DockerOption = False) -> None:
    """Show whether the engine is up; exits 1 when it is not healthy."""
    settings = _settings()
    if settings.external:
        _external(settings)
        return
    try:
        probed = DockerEngine().status() if docker else LocalEngine().status()
    except EngineError as exc:
        raise _fail(str(exc)) from exc
    _print_status(probed)
    if not probed.healthy:
        err.print("[red]engine is not healthy[/red] (start it with `reviewflow engine up`)")
        raise typer.Exit(code=1)
    out.print("[green]engine is healthy[/green]")


@engine_app.command()
def logs(
    lines: Annotated[int, typer.Option("-n", "--lines", min=1, help="How many lines.")] = 100,
    docker: DockerOption = False,
) -> None:
    """Print the last lines of the engine log."""
    try:
        text = DockerEngine().logs(lines) if docker else LocalEngine().logs(lines)
    except EngineError as exc:
        raise _fail(str(exc)) from exc
    if not text:
        err.print("no engine log yet")
        raise typer.Exit(code=1)
    typer.echo(text)


def _print_incident(incident: IncidentRecord) -> None:
    at = incident.timestamp.strftime("%Y-%m-%d %H:%M:%S UTC")
    job = f"  job {incident.job_key}" if incident.job_key is not None else ""
    state = "" if incident.intent == "CREATED" else " (resolved)"
    out.print(
        f"incident {incident.incident_key}{state}  {at}  {escape(incident.bpmn_process_id)} "
        f"instance {incident.process_instance_key}  element {escape(incident.element_id)}{job}"
    )
    message = incident.error_message.strip().replace("\n", "\n    ")
    out.print(f"  {escape(incident.error_type)}: {escape(message)}")


@engine_app.command()
def incidents(
    show_all: Annotated[bool, typer.Option("--all", help="Also list the resolved ones.")] = False,
) -> None:
    """List the local engine's open incidents (jobs out of retries, failed expressions...)."""
    if _settings().external:
        raise _fail(
            "ZEEBE_ADDRESS is set: the incidents of an external cluster are in its Operate "
            "(or its REST API: POST /v2/incidents/search)."
        )
    engine = LocalEngine()
    if not engine.incidents_path.is_file():
        raise _fail(
            f"no incident records at {engine.incidents_path}: the engine of this state dir was "
            "never started, or was started by an older reviewflow. Start it with `reviewflow "
            "engine up` (if it runs, `reviewflow engine down` first)."
        )
    record = engine.read_pid_record()
    if record is None or not engine.owns_process(record):
        out.print("(the engine is not running: these are the records of its last run)")
    records = engine.incidents()
    if show_all:
        resolved = {r.incident_key for r in records if r.intent == "RESOLVED"}
        listed = [
            r if r.incident_key not in resolved else replace(r, intent="RESOLVED")
            for r in records
            if r.intent == "CREATED"
        ]
    else:
        listed = engine.open_incidents()
    if not listed:
        out.print("no open incidents" if not show_all else "no incidents recorded")
        return
    for incident in listed:
        _print_incident(incident)
    if any(r.intent == "CREATED" for r in listed):
        rest = engine.rest_url
        out.print(
            "To resolve one: fix the cause, give the job retries again "
            f'(PATCH {rest}/v2/jobs/<job>  {{"changeset": {{"retries": 3}}}}), then '
            f"POST {rest}/v2/incidents/<incident>/resolution  {{}} (JSON)."
        )
