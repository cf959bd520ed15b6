"""Heavy stages: each module builds one router (one job type) over the shared runtime."""

from collections.abc import Callable

from workers.heavy import ast_analysis, file_review, pr_review
from workers.heavy.runtime import HeavyRuntime, Work
from workers.runtime import Router

# explicit registration list: branch key -> router factory
ROUTER_FACTORIES: dict[str, Callable[[HeavyRuntime], Router]] = {
    "ast": ast_analysis.make_router,
    "pr": pr_review.make_router,
    "file": file_review.make_router,
}

# the same branches' work functions, for running them in process (tests, the bench)
WORK_FACTORIES: dict[str, Callable[[HeavyRuntime], Work]] = {
    "ast": ast_analysis.make_work,
    "pr": pr_review.make_work,
    "file": file_review.make_work,
}
