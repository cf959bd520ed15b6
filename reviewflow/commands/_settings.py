"""Settings from the environment, for the commands: an invalid combination is one clear line
on stderr and exit status 2, never a traceback (whose validation error would show inputs)."""

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import typer
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from reviewflow.engine.connect import EngineSettings, open_engines
from reviewflow.engine.port import EnginePort
from shared.settings_util import settings_error_message

S = TypeVar("S", bound=BaseSettings)


def load_settings(kind: type[S]) -> S:
    try:
        return kind()
    except ValidationError as exc:
        typer.echo(f"error: invalid settings: {settings_error_message(exc, kind)}", err=True)
        raise typer.Exit(2) from None


def open_engines_or_exit(
    start_local: Callable[[], tuple[str, str]], lock_dir: Path | None = None
) -> list[EnginePort]:
    """The engine ports from the environment (see :mod:`reviewflow.engine.connect`), or one
    clear line and exit status 2 when its settings are invalid."""
    try:
        return open_engines(start_local, lock_dir=lock_dir)
    except ValidationError as exc:
        kind: type[BaseSettings] = EngineSettings
        if exc.title == "ClusterSettings":
            from reviewflow.engine.cluster import ClusterSettings

            kind = ClusterSettings
        typer.echo(f"error: invalid settings: {settings_error_message(exc, kind)}", err=True)
        raise typer.Exit(2) from None
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
