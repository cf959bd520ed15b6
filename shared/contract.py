"""The contract between bpmn/code_review.bpmn (Operaton) and the workers.

Topics, message names, variable names and the process id are stable identifiers: the diagram
and the workers must agree on them (tests/unit/test_bpmn_contract.py checks the diagram against
this module). One stage, one name: a stage's element id (``Task_LoadFeedback``), its external-task
topic (``reviewflow.load-feedback``) and its worker module and function (``load_feedback``) are
spellings of the same name.

Every structured value travels as a JSON **string** variable (the engine has no JSON variable
type; a string variable holds at most 4000 characters): big artifacts stay in the artifact store
and variables hold their ids. The diagram's expressions (JUEL) only read scalars.
"""

from dataclasses import dataclass
from typing import Literal

PROCESS_ID = "reviewflow_code_review"

# Message start event of the process *and* start of the non-interrupting event subprocess "New
# push during the review": the ingress sends it once per pull-request event with the business key
# ``owner/name#N`` (see business_key()); the engine starts a run or marks the running one for a
# rerun, in one `POST /message` call.
PR_EVENT_MESSAGE = "reviewflow.pr-event"


def business_key(repository: str, pr_number: int) -> str:
    """The business key of the one run per pull request: ``owner/name#N`` (GitHub names are
    case-insensitive, so the key is lower-case)."""
    return f"{repository.lower()}#{pr_number}"


@dataclass(frozen=True)
class Stage:
    number: int
    name: str  # snake_case: the worker module and function name, e.g. "load_feedback"
    element_id: str  # the service task in the diagram, e.g. "Task_LoadFeedback"
    title: str  # readable name in the diagram
    topic: str  # external-task topic, e.g. "reviewflow.load-feedback"
    kind: Literal["light", "heavy"]
    seed_name: str  # the seed pipeline's stage name: documentation only, never an identifier

    @property
    def job_type(self) -> str:
        """Alias of :attr:`topic` (the Camunda 8 word for it)."""
        return self.topic


def _stage(
    number: int, name: str, title: str, kind: Literal["light", "heavy"], seed_name: str
) -> Stage:
    element_id = "Task_" + "".join(part.capitalize() for part in name.split("_"))
    topic = "reviewflow." + name.replace("_", "-")
    return Stage(number, name, element_id, title, topic, kind, seed_name)


STAGES: tuple[Stage, ...] = (
    _stage(1, "validate_new_commits", "Validate new commits", "light", "ValidateNewCommits"),
    _stage(2, "resolve_config", "Resolve config", "light", "ResolveConfig"),
    _stage(3, "validate_config", "Validate config", "light", "ValidateConfig"),
    _stage(4, "fetch_changed_files", "Fetch changed files", "light", "FetchChangedFiles"),
    _stage(5, "load_external_context", "Load external context", "light", "LoadExternalContext"),
    _stage(6, "file_context_gate", "File context gate", "light", "FileContextGate"),
    _stage(7, "initial_comment", "Post initial comment", "light", "InitialComment"),
    _stage(8, "load_feedback", "Load team feedback", "light", "KodyFineTuning"),
    _stage(9, "ast_analysis", "Dispatch AST analysis", "heavy", "CodeAnalysisAST"),
    _stage(10, "pr_review", "Dispatch PR-level review", "heavy", "ProcessFilesPrLevelReview"),
    _stage(11, "file_review", "Dispatch per-file review", "heavy", "ProcessFilesReview"),
    _stage(12, "create_pr_comments", "Post PR-level comments", "light", "CreatePrLevelComments"),
    _stage(13, "create_file_comments", "Post inline comments", "light", "CreateFileComments"),
    _stage(14, "ast_cleanup", "Clean up AST artifacts", "light", "CodeAnalysisASTCleanup"),
    _stage(15, "aggregate_results", "Aggregate results", "light", "AggregateResults"),
    _stage(16, "summarize", "Write summary", "light", "UpdateCommentsAndGenerateSummary"),
    _stage(17, "verdict", "Request changes or approve", "light", "RequestChangesOrApprove"),
)

# Not one of the 17 stages: tells the user why a run ended early. Two service tasks use it:
# Task_ReportSkip (input skipKind="skip"; the stage that said no set skipReason) and
# Task_ReportInvalidConfig (skipKind="invalid-config", skipReason="invalid configuration: ...").
REPORT_SKIP_TOPIC = "reviewflow.report-skip"
REPORT_SKIP_NAME = "report_skip"
REPORT_SKIP_ELEMENT_IDS = ("Task_ReportSkip", "Task_ReportInvalidConfig")
REPORT_SKIP_JOB_TYPE = REPORT_SKIP_TOPIC  # alias (Camunda 8 word)

TOPICS: frozenset[str] = frozenset({s.topic for s in STAGES} | {REPORT_SKIP_TOPIC})
JOB_TYPES = TOPICS  # alias (Camunda 8 word)

# camunda:properties of every service task, read by the workers through fetchAndLock with
# includeExtensionProperties=true: how often to retry a failure, and the lock in milliseconds.
RETRIES_PROPERTY = "retries"
LOCK_DURATION_PROPERTY = "lockDuration"


@dataclass(frozen=True)
class HeavyBranch:
    """One parallel heavy branch.

    The dispatch task (topic) completes with a fresh token in ``wait_key_variable``; the worker
    then does the work and correlates ``message_name`` with the process instance id and
    correlationKeys {wait_key_variable: token}, setting ``outcome_variable`` (a JSON string) in
    the message's processVariables. A result for an attempt the process gave up on no longer
    matches and gets 400: a stale result. ``context_message`` (LLM branches only): the AST
    worker correlates it, by process instance id, after its own done message, so the branch can
    start with the AST impact context; the branch goes on without it after ``astContextWait``.
    """

    key: str  # short name of the branch (the workers' and shared.stages' branch key)
    topic: str
    message_name: str
    outcome_variable: str
    attempt_variable: str
    wait_key_variable: str
    context_message: str | None

    @property
    def job_type(self) -> str:
        """Alias of :attr:`topic` (the Camunda 8 word for it)."""
        return self.topic


HEAVY_BRANCHES: tuple[HeavyBranch, ...] = (
    HeavyBranch(
        key="ast",
        topic="reviewflow.ast-analysis",
        message_name="reviewflow.ast-analysis.done",
        outcome_variable="astOutcome",
        attempt_variable="astAttempt",
        wait_key_variable="astWaitKey",
        context_message=None,
    ),
    HeavyBranch(
        key="pr",
        topic="reviewflow.pr-review",
        message_name="reviewflow.pr-review.done",
        outcome_variable="prReviewOutcome",
        attempt_variable="prReviewAttempt",
        wait_key_variable="prReviewWaitKey",
        context_message="reviewflow.pr-review.ast-context",
    ),
    HeavyBranch(
        key="file",
        topic="reviewflow.file-review",
        message_name="reviewflow.file-review.done",
        outcome_variable="fileReviewOutcome",
        attempt_variable="fileReviewAttempt",
        wait_key_variable="fileReviewWaitKey",
        context_message="reviewflow.file-review.ast-context",
    ),
)

# Process variables the diagram itself reads or writes (everything else is the workers' own).
PROCEED_VARIABLE = "proceed"  # Boolean, set by stages 1, 3 and 4; false -> skip with skipReason
SKIP_REASON_VARIABLE = "skipReason"  # String, set by the stage that said no
SKIP_KIND_VARIABLE = "skipKind"  # input of the report-skip tasks: "skip" or "invalid-config"
HEAVY_RETRIES_VARIABLE = "heavyRetries"  # Integer, set by Resolve config: re-dispatches
HEAVY_TIMEOUT_VARIABLE = "heavyTimeout"  # optional ISO-8601 duration per attempt
AST_CONTEXT_WAIT_VARIABLE = "astContextWait"  # optional ISO-8601: LLM branches wait for AST
RERUN_VARIABLE = "rerun"  # Boolean: a push arrived during the run -> one more round
REVIEW_ROUND_VARIABLE = "reviewRound"  # Long: 1, 2, ... within one run of a pull request
TRIGGER_VARIABLE = "trigger"  # String: why the round runs; "synchronize" on a rerun
TARGET_VARIABLE = "target"  # JSON string: what to review

# Business error thrown by Resolve config (POST /external-task/{id}/bpmnError with this
# errorCode and an errorMessage naming the bad key) when the configuration is invalid.
ERROR_INVALID_CONFIG = "Err_InvalidConfig"
# The boundary event stores the error's message in this variable (camunda:errorMessageVariable).
CONFIG_ERROR_VARIABLE = "configError"
# Camunda 8 adapter only: the variable thrown with a BPMN error there.
ERROR_MESSAGE_VARIABLE = "errorMessage"

# Default wait of a heavy branch per attempt, and of the LLM branches for the AST context
# (ISO-8601 durations; the variables above override them).
DEFAULT_HEAVY_TIMEOUT = "PT10M"
DEFAULT_AST_CONTEXT_WAIT = "PT5S"
# The outcome the diagram records when a heavy branch gave up (a JSON string; "error" says how
# many attempts timed out).
TIMEOUT_STATUS = "timeout"

# Camunda 8 adapter only (Zeebe buffers messages; Operaton does not).
MESSAGE_TTL_MS = 60 * 60 * 1000


def correlation_key(run_id: str, branch: str, attempt: int) -> str:
    """Camunda 8 adapter only: unique per run, branch and attempt, so a late message from an
    abandoned attempt never completes a newer one."""
    return f"{run_id}:{branch}:{attempt}"


def heavy_branch(key: str) -> HeavyBranch:
    return next(b for b in HEAVY_BRANCHES if b.key == key)


def stage_by_topic(topic: str) -> Stage:
    for stage in STAGES:
        if stage.topic == topic:
            return stage
    raise KeyError(topic)


stage_by_job_type = stage_by_topic  # alias (Camunda 8 word)


def stage_by_name(name: str) -> Stage:
    for stage in STAGES:
        if stage.name == name:
            return stage
    raise KeyError(name)


# Camunda 8 adapter only (reviewflow/engine/zeebe.py): Zeebe has no business key, so the adapter
# keeps it in this variable (the pull-request messages correlate on it); and FEEL in Zeebe 8.9
# cannot read the process instance key, so the adapter adds it, as a string, to every job it
# completes (messages correlated without keys, e.g. the AST context, are published on it).
BUSINESS_KEY_VARIABLE = "businessKey"
INSTANCE_KEY_VARIABLE = "processInstanceKey"
