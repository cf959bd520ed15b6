"""``reviewflow sample PATH``: create the sample repository with a planted bug."""

from pathlib import Path

import typer

from reviewflow.sample import make_sample_repo


def sample(
    path: Path = typer.Argument(..., help="Where to create the repository (must not exist)."),
) -> None:
    """Create a small git repository whose `feature` branch plants two bugs."""
    if path.exists():
        raise typer.BadParameter(f"{path} already exists")
    make_sample_repo(path)
    typer.echo(
        f"created {path}: review it with `reviewflow review {path} --base main --head feature`"
    )


def register(app: typer.Typer) -> None:
    app.command()(sample)
