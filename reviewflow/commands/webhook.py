"""``reviewflow webhook serve``: receive GitHub webhooks and start reviews (see
:mod:`reviewflow.webhook`)."""

import asyncio
import contextlib
import logging
import os

import typer
import uvicorn

from reviewflow.commands._settings import open_engines_or_exit
from reviewflow.commands.worker import local_engine_urls
from reviewflow.engine.connect import start_lock_dir
from reviewflow.review import deploy as deploy_process
from reviewflow.webhook import DEFAULT_CONTEXT, create_app, engine_publisher
from shared.ingress import SECRET_ENV

webhook_app = typer.Typer(help="GitHub webhook ingress.", no_args_is_help=True)


@webhook_app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8085, help="Port (the connectors runtime's default)."),
    context: str = typer.Option(DEFAULT_CONTEXT, help="The webhook id in /inbound/{context}."),
    deploy: bool = typer.Option(True, help="Deploy bpmn/code_review.bpmn on start."),
) -> None:
    """Serve POST /inbound/CONTEXT for a GitHub webhook (content type application/json)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    secret = os.environ.get(SECRET_ENV, "").strip()
    if not secret:
        typer.echo(f"error: set {SECRET_ENV} to the GitHub webhook's secret", err=True)
        raise typer.Exit(2)
    engine = open_engines_or_exit(local_engine_urls, lock_dir=start_lock_dir())[0]

    async def go() -> None:
        try:
            if deploy:
                await deploy_process(engine)
            app = create_app(secret, engine_publisher(engine), context)
            config = uvicorn.Config(app, host=host, port=port, log_level="warning")
            typer.echo(f"listening on http://{host}:{port}/inbound/{context}")
            await uvicorn.Server(config).serve()
        finally:
            await engine.aclose()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(go())


def register(app: typer.Typer) -> None:
    app.add_typer(webhook_app, name="webhook")
