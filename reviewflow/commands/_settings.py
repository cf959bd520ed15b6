"""Settings from the environment, for the commands: an invalid combination is one clear line
on stderr and exit status 2, never a traceback (whose validation error would show inputs)."""

from typing import TypeVar

import typer
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from shared.settings_util import settings_error_message

S = TypeVar("S", bound=BaseSettings)


def load_settings(kind: type[S]) -> S:
    try:
        return kind()
    except ValidationError as exc:
        typer.echo(f"error: invalid settings: {settings_error_message(exc, kind)}", err=True)
        raise typer.Exit(2) from None
