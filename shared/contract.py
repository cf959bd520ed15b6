"""The contract between bpmn/code_review.bpmn and the workers.

Job types, message names and the process id are stable identifiers: the diagram and the
workers must agree on them (tests/unit/test_bpmn_contract.py checks the two sets match).
"""

from dataclasses import dataclass
from typing import Literal

PROCESS_ID = "reviewflow_code_review"


@dataclass(frozen=True)
class Stage:
    number: int
    name: str  # the seed pipeline's stage name
    title: str  # readable name in the diagram
    job_type: str
    kind: Literal["light", "heavy"]


STAGES: tuple[Stage, ...] = (
    Stage(
        1, "ValidateNewCommits", "Validate new commits", "reviewflow.validate-new-commits", "light"
    ),
    Stage(2, "ResolveConfig", "Resolve config", "reviewflow.resolve-config", "light"),
    Stage(3, "ValidateConfig", "Validate config", "reviewflow.validate-config", "light"),
    Stage(4, "FetchChangedFiles", "Fetch changed files", "reviewflow.fetch-changed-files", "light"),
    Stage(
        5,
        "LoadExternalContext",
        "Load external context",
        "reviewflow.load-external-context",
        "light",
    ),
    Stage(6, "FileContextGate", "File context gate", "reviewflow.file-context-gate", "light"),
    Stage(7, "InitialComment", "Post initial comment", "reviewflow.initial-comment", "light"),
    Stage(8, "KodyFineTuning", "Load team feedback", "reviewflow.load-feedback", "light"),
    Stage(9, "CodeAnalysisAST", "Dispatch AST analysis", "reviewflow.ast-analysis", "heavy"),
    Stage(
        10, "ProcessFilesPrLevelReview", "Dispatch PR-level review", "reviewflow.pr-review", "heavy"
    ),
    Stage(11, "ProcessFilesReview", "Dispatch per-file review", "reviewflow.file-review", "heavy"),
    Stage(
        12,
        "CreatePrLevelComments",
        "Post PR-level comments",
        "reviewflow.create-pr-comments",
        "light",
    ),
    Stage(
        13, "CreateFileComments", "Post inline comments", "reviewflow.create-file-comments", "light"
    ),
    Stage(
        14, "CodeAnalysisASTCleanup", "Clean up AST artifacts", "reviewflow.ast-cleanup", "light"
    ),
    Stage(15, "AggregateResults", "Aggregate results", "reviewflow.aggregate-results", "light"),
    Stage(16, "UpdateCommentsAndGenerateSummary", "Write summary", "reviewflow.summarize", "light"),
    Stage(
        17, "RequestChangesOrApprove", "Request changes or approve", "reviewflow.verdict", "light"
    ),
)

# Not one of the 17 stages: tells the user why a run ended early (skip paths, invalid config).
REPORT_SKIP_JOB_TYPE = "reviewflow.report-skip"

JOB_TYPES: frozenset[str] = frozenset({s.job_type for s in STAGES} | {REPORT_SKIP_JOB_TYPE})


@dataclass(frozen=True)
class HeavyBranch:
    """One parallel heavy branch: dispatch task, completion message, outcome variable."""

    key: str  # short name used in variable names and wait keys
    job_type: str
    message_name: str
    outcome_variable: str
    attempt_variable: str
    # the dispatch worker completes its task with a fresh token in this variable; the result
    # message is correlated on it, so a late result of an abandoned attempt matches nothing
    wait_key_variable: str
    # the message by which the AST branch hands its impact context to this branch
    context_message: str | None = None

    @property
    def topic(self) -> str:
        return self.job_type


HEAVY_BRANCHES: tuple[HeavyBranch, ...] = (
    HeavyBranch(
        "ast",
        "reviewflow.ast-analysis",
        "reviewflow.ast-analysis.done",
        "astOutcome",
        "astAttempt",
        "astWaitKey",
    ),
    HeavyBranch(
        "pr",
        "reviewflow.pr-review",
        "reviewflow.pr-review.done",
        "prReviewOutcome",
        "prReviewAttempt",
        "prReviewWaitKey",
        "reviewflow.pr-review.ast-context",
    ),
    HeavyBranch(
        "file",
        "reviewflow.file-review",
        "reviewflow.file-review.done",
        "fileReviewOutcome",
        "fileReviewAttempt",
        "fileReviewWaitKey",
        "reviewflow.file-review.ast-context",
    ),
)

# Start-or-correlate message of a pull request: starts a run, or tells the running one that a
# push arrived (its "new push" event subprocess), keyed by the business key owner/name#N.
PR_EVENT_MESSAGE = "reviewflow.pr-event"


def heavy_branch(key: str) -> HeavyBranch:
    return next(b for b in HEAVY_BRANCHES if b.key == key)


# Business error thrown by ResolveConfig when the configuration is invalid.
ERROR_INVALID_CONFIG = "Err_InvalidConfig"
# Variable thrown with a BPMN error; the boundary event maps it to `configError`.
ERROR_MESSAGE_VARIABLE = "errorMessage"

# Default wait of a heavy branch before its timer fires (ISO-8601 duration, FEEL-overridable
# through the `heavyTimeout` process variable).
DEFAULT_HEAVY_TIMEOUT = "PT10M"
# Completion messages live long enough to outlast any dispatch delay.
MESSAGE_TTL_MS = 60 * 60 * 1000


def correlation_key(run_id: str, branch: str, attempt: int) -> str:
    """Unique per run, branch and attempt: a late message from an abandoned attempt can never
    complete a newer one, and a leftover from an earlier run never completes this run."""
    return f"{run_id}:{branch}:{attempt}"


def stage_by_job_type(job_type: str) -> Stage:
    for stage in STAGES:
        if stage.job_type == job_type:
            return stage
    raise KeyError(job_type)
