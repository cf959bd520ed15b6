"""The same stages, one after another in one process: the sequential reviewer the bench
compares the engine with, and what tests use to run a whole review without an engine."""

from concurrent.futures import ProcessPoolExecutor

from workers.heavy import WORK_FACTORIES
from workers.heavy.runtime import HeavyRuntime, Work
from workers.light.aggregate_results import aggregate_results
from workers.light.ast_cleanup import ast_cleanup
from workers.light.create_file_comments import create_file_comments
from workers.light.create_pr_comments import create_pr_comments
from workers.light.fetch_changed_files import fetch_changed_files
from workers.light.file_context_gate import file_context_gate
from workers.light.initial_comment import initial_comment
from workers.light.load_external_context import load_external_context
from workers.light.load_feedback import load_feedback
from workers.light.resolve_config import resolve_config
from workers.light.summarize import summarize
from workers.light.validate_config import validate_config
from workers.light.validate_new_commits import validate_new_commits
from workers.light.verdict import verdict
from workers.runtime import StageFunction

# stages 1-8, in the diagram's order
BEFORE_HEAVY: tuple[StageFunction, ...] = (
    validate_new_commits,
    resolve_config,
    validate_config,
    fetch_changed_files,
    load_external_context,
    file_context_gate,
    initial_comment,
    load_feedback,
)
# stages 12-17, after the join
AFTER_HEAVY: tuple[StageFunction, ...] = (
    create_pr_comments,
    create_file_comments,
    ast_cleanup,
    aggregate_results,
    summarize,
    verdict,
)


def heavy_bodies(pool: ProcessPoolExecutor | None = None, concurrency: int = 4) -> dict[str, Work]:
    """The three heavy branches' work functions (stages 9-11), keyed by branch."""
    runtime = HeavyRuntime(concurrency, pool)
    return {key: factory(runtime) for key, factory in WORK_FACTORIES.items()}
