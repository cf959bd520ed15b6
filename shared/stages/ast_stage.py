"""Stage 9 (CodeAnalysisAST): the tree-sitter analysis and the trusted analyzers, together.

The analyzers are subprocesses, so they run in a thread while tree-sitter parses in this one:
the stage takes about as long as the slower of the two.
"""

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from shared.analysis.ast_report import AstReport, analyze_change
from shared.analyzers.runner import RUFF_CONFIG_FILES, run_analyzers
from shared.config import ReviewConfig
from shared.models import ChangedFile

__all__ = ["RUFF_CONFIG_FILES", "ast_stage"]


def ast_stage(
    files: Sequence[ChangedFile],
    changed_lines: Mapping[str, set[int]],
    base_sources: Mapping[str, str],
    repo_sources: Mapping[str, str],
    repo_configs: Mapping[str, str],
    config: ReviewConfig,
) -> AstReport:
    """The AST report of a change, carrying the analyzers' findings on changed lines.

    ``repo_configs`` holds the head text of the analyzers' configuration files that exist
    (``RUFF_CONFIG_FILES``), read as data."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        analyzers = pool.submit(run_analyzers, files, changed_lines, repo_configs, config)
        report = analyze_change(
            list(files), dict(changed_lines), dict(base_sources), dict(repo_sources)
        )
        found = analyzers.result()
    return report.model_copy(
        update={"analyzer_findings": found.findings, "analyzer_runs": found.runs}
    )
