"""Light stages: each module holds one router serving one job type."""

from workers.light import (
    aggregate_results,
    ast_cleanup,
    create_file_comments,
    create_pr_comments,
    fetch_changed_files,
    file_context_gate,
    initial_comment,
    load_external_context,
    load_feedback,
    report_skip,
    resolve_config,
    summarize,
    validate_config,
    validate_new_commits,
    verdict,
)
from workers.runtime import Router

# explicit registration list, in pipeline order
ROUTERS: tuple[Router, ...] = (
    validate_new_commits.router,
    resolve_config.router,
    validate_config.router,
    fetch_changed_files.router,
    load_external_context.router,
    file_context_gate.router,
    initial_comment.router,
    load_feedback.router,
    create_pr_comments.router,
    create_file_comments.router,
    ast_cleanup.router,
    aggregate_results.router,
    summarize.router,
    verdict.router,
    report_skip.router,
)
