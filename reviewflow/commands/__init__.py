"""CLI command groups. Each module exposes ``register(app: typer.Typer) -> None`` that adds its
commands (or sub-app) to the root app; :mod:`reviewflow.cli` only calls those."""
