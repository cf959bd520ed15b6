"""``reviewflow review PATH``: one local review from a fresh clone."""

import asyncio
import logging
import sys
from pathlib import Path

import typer
from rich.console import Console

from reviewflow.commands._settings import load_settings, open_engines_or_exit
from reviewflow.engine.connect import start_lock_dir
from reviewflow.engine.local import EngineError, LocalEngine
from reviewflow.engine.port import EnginePort
from reviewflow.output import OutputFormat, exit_code, render
from reviewflow.review import ReviewRun, github_target, local_target, review_with_workers
from shared.events import StageEvent
from shared.git.base import GitHostError
from shared.git.github_api import GitHubSettings
from shared.models import Severity

console = Console()
ICONS = {
    "started": "…",
    "completed": "✓",
    "failed": "✗",
    "skipped": "↷",
    "dispatched": "→",
    "stale": "⌛",
}


def start_local_engine() -> tuple[str, str]:
    """Bring the local engine up (built and started on first use) and return its REST and
    Cockpit URLs."""
    engine = LocalEngine()
    console.print("[dim]starting or reusing the local engine (the first run builds it)…[/dim]")
    engine.up()
    return engine.rest_url, engine.cockpit_url


def engines_for_cli() -> list[EnginePort]:
    return open_engines_or_exit(start_local_engine, lock_dir=start_lock_dir())


def _show_event(event: StageEvent) -> None:
    if event.status == "started":
        return
    style = {"failed": "red", "skipped": "yellow"}.get(event.status, "green")
    detail = f" [dim]{event.detail}[/dim]" if event.detail else ""
    console.print(f"  [{style}]{ICONS[event.status]}[/{style}] {event.stage}{detail}")


def print_run(run: ReviewRun) -> None:
    v = run.variables
    if v.get("configError"):
        console.print(f"\n[red]Invalid configuration:[/red] {v['configError']}")
    elif run.skipped:
        console.print(f"\n[yellow]Review skipped:[/yellow] {run.skipped}")
    result = run.result
    if result is not None:
        console.print("\n[bold]Findings[/bold]")
        posted = set(result.posted_fingerprints)
        shown = [s for s in result.suggestions if s.fingerprint in posted]
        for s in shown:
            label = f"[bold]{s.severity.value}[/bold] {s.category.value}"
            console.print(f"  {s.path}:{s.start_line}  {label}: {s.message}")
        for f in result.pr_findings:
            label = f"[bold]{f.severity.value}[/bold] {f.category.value}"
            console.print(f"  (PR)  {label}: {f.title}: {f.message}")
        if not shown and not result.pr_findings:
            console.print("  none")
        for error in result.errors:
            console.print(f"  [red]incomplete:[/red] {error}")
        console.print(f"\n[bold]Verdict[/bold]: {v.get('verdict')}: {v.get('verdictReason', '')}")
    if run.report_path is not None:
        console.print(f"\nReport: {run.report_path}")
    console.print(
        f"Process instance {run.instance_id} (run {run.run_id}) took {run.seconds:.1f} s."
    )
    if run.incidents:
        console.print(
            f"[red]{run.incidents} open incident(s)[/red]: see `reviewflow engine incidents`"
        )
    if run.operator_url:
        console.print(f"Cockpit: {run.operator_url}")
    else:
        console.print(
            f"[dim]The stage log is in the artifact store under {run.run_id}/events.jsonl.[/dim]"
        )


def review(
    path: Path | None = typer.Argument(None, help="The git repository to review."),
    github: str | None = typer.Option(
        None,
        "--github",
        help="Review a GitHub pull request instead, given as owner/name#number "
        "(credentials from REVIEWFLOW_GITHUB_TOKEN or the App settings).",
    ),
    base: str = typer.Option("main", help="Base ref (the branch the change goes into)."),
    head: str = typer.Option("HEAD", help="Head ref (the change)."),
    force: bool = typer.Option(
        False, "--force", help="Review even when nothing is new (like a /review command)."
    ),
    heavy_timeout: str | None = typer.Option(
        None, help="ISO-8601 wait for each heavy branch, e.g. PT2M."
    ),
    output_format: OutputFormat = typer.Option(
        OutputFormat.TEXT,
        "--format",
        help="text (for people), json (schema/review-output.schema.json) or sarif (SARIF "
        "2.1.0, for code scanning) on stdout; with json or sarif, progress goes to stderr.",
    ),
    fail_on: Severity | None = typer.Option(
        None,
        "--fail-on",
        help="Exit with code 1 when a reported finding is at least this severe.",
    ),
) -> None:
    """Review the change from BASE to HEAD of a local repository (or a GitHub pull request)
    through the BPMN process."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if output_format is not OutputFormat.TEXT:
        console.file = sys.stderr  # stdout carries the machine-readable output alone
    try:
        if (path is None) == (github is None):
            raise ValueError("give either a repository PATH or --github owner/name#number")
        if github is not None:
            target = github_target(github)
            load_settings(GitHubSettings).require_credentials()
        else:
            assert path is not None
            target = local_target(path, base, head)
        engines = engines_for_cli()
    except (ValueError, EngineError, GitHostError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    console.print(f"Reviewing [bold]{target.label}[/bold]")

    async def go() -> ReviewRun:
        try:
            return await review_with_workers(
                engines, target, force, heavy_timeout, on_event=_show_event
            )
        finally:
            for engine in engines:
                await engine.aclose()

    try:
        run = asyncio.run(go())
    except Exception as exc:
        console.print(f"[red]the review run failed:[/red] {type(exc).__name__}: {exc}")
        raise typer.Exit(1) from exc
    if output_format is OutputFormat.TEXT:
        print_run(run)
    else:
        verdict = run.variables.get("verdict")
        skipped = run.skipped or run.variables.get("configError")
        text = render(run.result, output_format, target.label, verdict, skipped)
        sys.stdout.write(text)
    sys.stdout.flush()
    code = exit_code(run.result, fail_on)
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command()(review)
