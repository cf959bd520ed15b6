"""The ``reviewflow`` command line. This module only assembles the command modules.

To add a command group, write ``reviewflow/commands/<name>.py`` with
``register(app: typer.Typer) -> None`` and call it below.
"""

import typer

from reviewflow.commands import engine, review, sample, webhook, worker

app = typer.Typer(
    name="reviewflow",
    help="AI pull-request review as an event-driven Zeebe BPMN pipeline.",
    no_args_is_help=True,
    add_completion=False,
    # a crash's traceback must not print local variables (settings, tokens, keys)
    pretty_exceptions_show_locals=False,
)

engine.register(app)
review.register(app)
worker.register(app)
sample.register(app)
webhook.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
