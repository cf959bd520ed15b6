#!/usr/bin/env python3
"""Generates bpmn/code_review.bpmn (Operaton / Camunda 7) with its diagram layout, and from the
same model bpmn/camunda8/code_review.bpmn (the same process for Zeebe 8.9, for the optional
adapter to a user's own Camunda 8 cluster).

    .venv/bin/python bpmn/tools/generate_code_review.py          # rewrite both diagrams
    .venv/bin/python bpmn/tools/generate_code_review.py --check  # exit 1 if one is out of date

Also writes bpmn/element-templates/reviewflow-stages.json and
bpmn/camunda8/element-templates/reviewflow-stages.json (one element template per topic / job
type, with the same retries and lock durations).

One model (build()): elements, ids, names, documentation, flows and layout are shared; a node
or flow carries its Camunda 7 form (JUEL, camunda:* extensions, listeners) and its Camunda 8
form (FEEL, zeebe:* extensions: z_ext, z_body, z_condition), written next to each other so
they stay in step. tests/unit/test_bpmn_equivalence.py checks that both diagrams have the same
elements, flows, job types, messages, timers and errors. Topics, element ids, message and variable
names come from shared/contract.py; the documentation texts, retries, lock durations and the
layout live here. Camunda Modeler opens
and edits the result as a Camunda 7 diagram; edits made in the Modeler are overwritten by the
next run of this script, so carry them over here (or stop using the script).

Layout, left to right: the main path on one row; the invalid-config path above it (the error
boundary sits on top of Resolve config); the skip path below it; the three heavy branches
stacked under each other after the fork, each with its timeout/retry row underneath; the
rerun loop along the top (and, for the skip path, along the bottom and the left margin); the
event subprocess as an expanded box at the bottom left.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from shared import contract  # noqa: E402

OUT = ROOT / "bpmn" / "code_review.bpmn"
TEMPLATES_OUT = ROOT / "bpmn" / "element-templates" / "reviewflow-stages.json"
TEMPLATE_SCHEMA = "https://unpkg.com/@camunda/element-templates-json-schema/resources/schema.json"
C8_OUT = ROOT / "bpmn" / "camunda8" / "code_review.bpmn"
C8_TEMPLATES_OUT = ROOT / "bpmn" / "camunda8" / "element-templates" / "reviewflow-stages.json"
ZEEBE_TEMPLATE_SCHEMA = (
    "https://unpkg.com/@camunda/zeebe-element-templates-json-schema/resources/schema.json"
)

# ----------------------------------------------------------------------------- model

SIZES = {
    "task": (100, 80),
    "gateway": (50, 50),
    "event": (36, 36),
}
TAGS = {
    "startEvent": "event",
    "endEvent": "event",
    "boundaryEvent": "event",
    "serviceTask": "task",
    "receiveTask": "task",
    "scriptTask": "task",
    "exclusiveGateway": "gateway",
    "parallelGateway": "gateway",
}


@dataclass
class Node:
    id: str
    tag: str
    name: str | None
    cx: float
    cy: float
    doc: str | None = None
    attrs: dict[str, str] = field(default_factory=dict)
    ext: list[str] = field(default_factory=list)  # lines inside extensionElements
    body: list[str] = field(default_factory=list)  # lines after incoming/outgoing
    label: tuple[float, float, float, float] | None = None  # external label bounds
    parent: str | None = None  # container (event subprocess) id
    # Camunda 8 (Zeebe) form: lines inside extensionElements, and the body when it differs
    # (attrs named camunda:* or scriptFormat are Camunda 7 only and left out there)
    z_ext: list[str] = field(default_factory=list)
    z_body: list[str] | None = None

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        w, h = SIZES[TAGS[self.tag]]
        return (self.cx - w / 2, self.cy - h / 2, w, h)

    def r(self) -> tuple[float, float]:
        x, _, w, _ = self.bounds
        return (x + w, self.cy)

    def l(self) -> tuple[float, float]:  # noqa: E743
        return (self.bounds[0], self.cy)

    def t(self) -> tuple[float, float]:
        return (self.cx, self.bounds[1])

    def b(self) -> tuple[float, float]:
        _, y, _, h = self.bounds
        return (self.cx, y + h)


@dataclass
class Flow:
    id: str
    source: str
    target: str
    name: str | None
    waypoints: list[tuple[float, float]]
    condition: str | None = None
    listeners: list[str] = field(default_factory=list)
    label: tuple[float, float, float, float] | None = None
    parent: str | None = None
    z_condition: str | None = None  # the condition in FEEL (Camunda 8)


class Builder:
    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self.flows: dict[str, Flow] = {}
        self.defaults: dict[str, str] = {}

    def node(self, node: Node) -> Node:
        assert node.id not in self.nodes, node.id
        if node.label is None and node.name and TAGS[node.tag] in ("event", "gateway"):
            node.label = default_label(node)
        self.nodes[node.id] = node
        return node

    def flow(
        self,
        source: str,
        target: str,
        *,
        via: list[tuple[float, float]] | None = None,
        start: str = "r",
        end: str = "l",
        name: str | None = None,
        condition: str | None = None,
        z_condition: str | None = None,
        default: bool = False,
        listeners: list[str] | None = None,
        label_at: tuple[float, float] | None = None,
        fid: str | None = None,
    ) -> Flow:
        src, tgt = self.nodes[source], self.nodes[target]
        fid = fid or f"Flow_{short(source)}To{short(target)}"
        assert fid not in self.flows, fid
        points = [getattr(src, start)(), *(via or []), getattr(tgt, end)()]
        label = None
        if name:
            lx, ly = label_at or (points[0][0] + 6, points[0][1] - 20)
            label = (lx, ly, max(20, 7 * len(name)), 14)
        f = Flow(
            fid,
            source,
            target,
            name,
            points,
            condition,
            list(listeners or []),
            label,
            parent=src.parent,
            z_condition=z_condition,
        )
        assert (condition is None) == (z_condition is None), fid
        self.flows[fid] = f
        if default:
            self.defaults[source] = fid
        return f


def short(element_id: str) -> str:
    return element_id.split("_", 1)[1]


def default_label(node: Node) -> tuple[float, float, float, float]:
    name = node.name or ""
    width = 100 if len(name) > 14 else 80
    lines = max(1, -(-len(name) * 6 // width))
    height = 14 * lines
    _, y, _, h = node.bounds
    if TAGS[node.tag] == "gateway":
        return (node.cx - width / 2, y - height - 6, width, height)
    return (node.cx - width / 2, y + h + 4, width, height)


# ----------------------------------------------------------------------------- content

LIGHT_LOCK_MS = 20_000
DISPATCH_LOCK_MS = 10_000
# Stages that post to the PR retry more (the host's rate limits and hiccups).
POSTING = {"initial_comment", "create_pr_comments", "create_file_comments", "summarize", "verdict"}
LOCKS: dict[str, int] = {}

DOCS = {
    "validate_new_commits": (
        "Finds the last successful review of this PR and reviews only the commits after it "
        "(a full review when that commit is gone after a force-push or rebase). Sets "
        "proceed=false and skipReason when there is nothing new or only merge commits; an "
        "explicit review command always runs."
    ),
    "resolve_config": (
        "Builds the effective config: built-in defaults, org/global, the repository's config "
        "file, then per-directory overrides; sets heavyRetries (and optionally heavyTimeout, "
        "astContextWait). Unknown keys and bad values throw the BPMN error Err_InvalidConfig "
        "whose errorMessage names the bad key."
    ),
    "validate_config": (
        "Decides whether to run: reviews enabled, target branch in baseBranches, title not "
        "matching ignoredTitleKeywords, drafts only if runOnDraft. Sets proceed=false and "
        "skipReason otherwise."
    ),
    "fetch_changed_files": (
        "Lists the files changed since the last reviewed commit, drops removed and ignored "
        "files (ignorePaths and sensible defaults) and fetches contents and numbered patches. "
        "Refuses PRs above maxFiles with a clear reason (proceed=false, skipReason) instead of "
        "failing; proceed=false too when no file is left to review."
    ),
    "load_external_context": (
        "Loads the reference files the config names (team guidelines, architecture notes) as "
        "context for the reviewers."
    ),
    "file_context_gate": (
        "Decides per file which context goes with it (related files, guidelines matching its "
        "path) and which files are worth an LLM call at all (skips trivial or generated "
        "changes)."
    ),
    "initial_comment": (
        "Posts, or reuses, the single 'review in progress' comment on the PR that later stages "
        "update. Idempotent: never posts a second one."
    ),
    "load_feedback": (
        "Loads past suggestions on this repository with their outcomes (accepted or "
        "implemented vs rejected) so later filtering drops suggestion kinds the team keeps "
        "rejecting. Not model training. The seed pipeline called this stage KodyFineTuning."
    ),
    "ast_analysis": (
        "Dispatches the AST analysis (tree-sitter: changed lines to functions/classes, callers "
        "and callees, breaking-change candidates; trusted analyzers on changed lines). The "
        "worker completes this task at once with a fresh token in astWaitKey, does the work, "
        "then correlates reviewflow.ast-analysis.done (processInstanceId + correlationKeys "
        "{astWaitKey: token}) with astOutcome, and after it the AST context messages "
        "reviewflow.pr-review.ast-context and reviewflow.file-review.ast-context."
    ),
    "pr_review": (
        "Dispatches the whole-PR review (cross-file issues, PR-scoped custom rules, "
        "description vs change consistency). The worker completes this task at once with a "
        "fresh token in prReviewWaitKey, does the work, then correlates "
        "reviewflow.pr-review.done (processInstanceId + correlationKeys {prReviewWaitKey: "
        "token}) with prReviewOutcome."
    ),
    "file_review": (
        "Dispatches the per-file review in bounded parallel batches, filtered (categories, "
        "diff, team feedback, self-check) and ranked. The worker completes this task at once "
        "with a fresh token in fileReviewWaitKey, does the work, then correlates "
        "reviewflow.file-review.done (processInstanceId + correlationKeys {fileReviewWaitKey: "
        "token}) with fileReviewOutcome."
    ),
    "create_pr_comments": (
        "Posts the PR-level findings as PR comments, each fingerprinted so a finding is never "
        "posted twice."
    ),
    "create_file_comments": (
        "Applies the severity filter and maxSuggestions limits, groups duplicates and posts "
        "inline comments anchored on lines that exist in the diff; resolves threads whose "
        "suggestion was implemented and records the last reviewed commit."
    ),
    "ast_cleanup": "Deletes the AST artifacts of this run. Errors here never fail the review.",
    "aggregate_results": (
        "Combines per-file, PR-level and discarded results and the three branch outcomes (a "
        "branch may have timed out) into one result for the summary and the review record."
    ),
    "summarize": (
        "Writes the PR summary (replace, concatenate or complement the description, per "
        "config) and turns the 'in progress' comment into the final one with counts, skipped "
        "files and time taken."
    ),
    "verdict": (
        "Requests changes when enabled and a critical finding was posted; approves when "
        "enabled, nothing was posted and the run had no errors; otherwise leaves a plain "
        "comment review. Never approves a run that partially failed."
    ),
}

BRANCH_TITLES = {"ast": "AST analysis", "pr": "PR-level review", "file": "per-file review"}
BRANCH_IDS = {"ast": "Ast", "pr": "PrReview", "file": "FileReview"}


def el(expression: str) -> str:
    """A JUEL expression: ${...}."""
    return "${" + expression + "}"


def set_var(name: str, value: str) -> str:
    return el(f"execution.setVariable('{name}', {value})")


def listener(expression: str, event: str) -> str:
    return (
        f"<camunda:executionListener expression={quoteattr(expression)} event={quoteattr(event)} />"
    )


def properties(retries: int, lock_ms: int) -> list[str]:
    return [
        "<camunda:properties>",
        f'  <camunda:property name="{contract.RETRIES_PROPERTY}" value="{retries}" />',
        f'  <camunda:property name="{contract.LOCK_DURATION_PROPERTY}" value="{lock_ms}" />',
        "</camunda:properties>",
    ]


def input_parameter(name: str, value: str) -> str:
    return (
        f"  <camunda:inputParameter name={quoteattr(name)}>{escape(value)}</camunda:inputParameter>"
    )


def optional_duration(variable: str, default: str) -> str:
    return f"${{execution.getVariable('{variable}') != null ? {variable} : '{default}'}}"


# --- Camunda 8 (Zeebe) spellings of the same things ------------------------------------------


def feel(expression: str) -> str:
    """A FEEL expression as Zeebe reads it: =..."""
    return "=" + expression


def feel_str(text: str) -> str:
    return json.dumps(text)  # a FEEL string literal ("..." with JSON escapes)


def job(topic: str, retries: int, lock_ms: int) -> list[str]:
    """zeebe:taskDefinition (job type = the topic, retries) and lockDuration as a custom header:
    the adapter hands a job's headers to the worker as the task's properties."""
    return [
        f'<zeebe:taskDefinition type="{topic}" retries="{retries}" />',
        "<zeebe:taskHeaders>",
        f'  <zeebe:header key="{contract.LOCK_DURATION_PROPERTY}" value="{lock_ms}" />',
        "</zeebe:taskHeaders>",
    ]


def io_mapping(
    inputs: list[tuple[str, str]] | None = None, outputs: list[tuple[str, str]] | None = None
) -> list[str]:
    """zeebe:ioMapping from (target, FEEL source) pairs."""
    return [
        "<zeebe:ioMapping>",
        *(
            f"  <zeebe:input source={quoteattr(src)} target={quoteattr(tgt)} />"
            for tgt, src in inputs or []
        ),
        *(
            f"  <zeebe:output source={quoteattr(src)} target={quoteattr(tgt)} />"
            for tgt, src in outputs or []
        ),
        "</zeebe:ioMapping>",
    ]


def z_optional_duration(variable: str, default: str) -> str:
    return feel(f"if {variable} = null then {feel_str(default)} else {variable}")


def timer_body(def_id: str, duration: str) -> list[str]:
    return [
        f'<bpmn:timerEventDefinition id="{def_id}">',
        '  <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">'
        f"{escape(duration)}</bpmn:timeDuration>",
        "</bpmn:timerEventDefinition>",
    ]


def z_script(expression: str, result: str) -> list[str]:
    return [
        f"<zeebe:script expression={quoteattr(expression)} resultVariable={quoteattr(result)} />"
    ]


# Zeebe has no take listeners on flows and no JUEL on events, and an output mapping on a service
# task keeps back every job variable it does not map. So the round bookkeeping the Operaton
# diagram does in listeners (process start, the next-round flow, the flow into the fork) happens
# in Camunda 8 on Validate new commits, the first task of every round: its inputs compute the
# round and trigger the worker sees, its outputs write them back with the worker's own results
# (VALIDATE_OUTPUTS: keep in step with workers/light/validate_new_commits.py; a unit test does).
PUSH_COUNT_VARIABLE = "pushCount"  # Camunda 8 only: pushes seen by the event subprocess
ROUND_PUSH_COUNT_VARIABLE = "roundPushCount"  # Camunda 8 only, local: pushCount at round start
VALIDATE_OUTPUTS = (
    "pr",
    "commits",
    contract.PROCEED_VARIABLE,
    "startedAt",
    contract.SKIP_REASON_VARIABLE,
)


def pushes() -> str:
    return f"(if {PUSH_COUNT_VARIABLE} = null then 0 else {PUSH_COUNT_VARIABLE})"


def round_bookkeeping() -> list[str]:
    rnd, rerun = contract.REVIEW_ROUND_VARIABLE, contract.RERUN_VARIABLE
    trigger = contract.TRIGGER_VARIABLE
    return io_mapping(
        inputs=[
            (
                rnd,
                feel(f"if {rnd} = null then 1 else if {rerun} = true then {rnd} + 1 else {rnd}"),
            ),
            (
                trigger,
                feel(
                    f"if {rnd} != null and {rerun} = true then {feel_str('synchronize')} "
                    f"else {trigger}"
                ),
            ),
            (ROUND_PUSH_COUNT_VARIABLE, feel(pushes())),
        ],
        outputs=[
            *((name, feel(name)) for name in VALIDATE_OUTPUTS),
            (rnd, feel(rnd)),
            (trigger, feel(trigger)),
            # a push while this task ran asks for one more round; one before it is in this round
            (rerun, feel(f"{pushes()} > {ROUND_PUSH_COUNT_VARIABLE}")),
            *((br.attempt_variable, feel("1")) for br in contract.HEAVY_BRANCHES),
        ],
    )


MAIN_Y = 300
INVALID_Y = 180
SKIP_Y = 500
SKIP_LOOP_Y = 620
LOOP_Y = 80
LEFT_MARGIN_X = 40
BRANCH_Y = {"ast": 300, "pr": 580, "file": 860}


def build() -> Builder:
    b = Builder()
    stages = {s.name: s for s in contract.STAGES}

    def service(name: str, cx: float, cy: float) -> Node:
        s = stages[name]
        retries, lock = task_settings(name, s.kind)
        return b.node(
            Node(
                s.element_id,
                "serviceTask",
                s.title,
                cx,
                cy,
                doc=f"Stage {s.number}. " + DOCS[name],
                attrs={"camunda:type": "external", "camunda:topic": s.topic},
                ext=properties(retries, lock),
                z_ext=job(s.topic, retries, lock),
            )
        )

    # --- start, round merge --------------------------------------------------------------
    b.node(
        Node(
            "StartEvent_ReviewRequested",
            "startEvent",
            "Review requested",
            118,
            MAIN_Y,
            doc=(
                "A review run started directly (the CLI on a local repository). Variables: "
                "target (JSON string), trigger, optional heavyTimeout and astContextWait "
                "(ISO-8601 durations)."
            ),
        )
    )
    b.node(
        Node(
            "StartEvent_PullRequestEvent",
            "startEvent",
            "Pull request event",
            118,
            420,
            doc=(
                f"Message {contract.PR_EVENT_MESSAGE}: a pull-request event (opened, synchronize, "
                "reopened, ready_for_review, or a review command). Business key owner/name#N: "
                "the ingress starts-or-correlates in one POST /message (messageName, "
                "businessKey, processVariablesLocal, resultEnabled) without processInstanceId, "
                "correlationKeys or all. With no run for the key it starts one here; with a run "
                "it starts the event subprocess 'New push during the review' instead, so one "
                "run per pull request."
            ),
            body=[
                '<bpmn:messageEventDefinition id="MessageEventDefinition_PullRequestEvent" '
                'messageRef="Message_PrEvent" />'
            ],
        )
    )
    b.node(
        Node(
            "Gateway_ReviewRound",
            "exclusiveGateway",
            None,
            230,
            MAIN_Y,
            doc="Start of a review round: the first, or the next after a push during the review.",
        )
    )
    b.node(
        Node(
            "Gateway_NextRound",
            "exclusiveGateway",
            "Next review round",
            230,
            INVALID_Y,
            doc="A push arrived during the review: run one more round on the same instance.",
            label=(125, 135, 95, 14),
        )
    )
    b.flow("StartEvent_ReviewRequested", "Gateway_ReviewRound")
    b.flow("StartEvent_PullRequestEvent", "Gateway_ReviewRound", via=[(230, 420)], end="b")
    b.flow(
        "Gateway_NextRound",
        "Gateway_ReviewRound",
        start="b",
        end="t",
        listeners=[
            set_var(contract.RERUN_VARIABLE, "false"),
            set_var(contract.REVIEW_ROUND_VARIABLE, f"{contract.REVIEW_ROUND_VARIABLE} + 1"),
            set_var(contract.TRIGGER_VARIABLE, "'synchronize'"),
            *(set_var(br.attempt_variable, "1") for br in contract.HEAVY_BRANCHES),
        ],
    )

    # --- stages 1-8 with the skip gateways ---------------------------------------------------
    xs = {
        "validate_new_commits": 360,
        "resolve_config": 610,
        "validate_config": 760,
        "fetch_changed_files": 1010,
        "load_external_context": 1260,
        "file_context_gate": 1410,
        "initial_comment": 1560,
        "load_feedback": 1710,
    }
    for name, x in xs.items():
        service(name, x, MAIN_Y)
    b.nodes["Task_ValidateNewCommits"].z_ext += round_bookkeeping()
    proceed = el(contract.PROCEED_VARIABLE)
    z_proceed = feel(f"{contract.PROCEED_VARIABLE} = true")
    for gid, gname, gx in (
        ("Gateway_NewCommits", "New commits to review?", 490),
        ("Gateway_ReviewAllowed", "Review allowed?", 890),
        ("Gateway_FilesToReview", "Files to review?", 1140),
    ):
        b.node(
            Node(
                gid,
                "exclusiveGateway",
                gname,
                gx,
                MAIN_Y,
                doc=f"Goes on when the stage before set proceed=true; otherwise ({proceed} "
                "false) to Report skip.",
            )
        )
    b.flow("Gateway_ReviewRound", "Task_ValidateNewCommits")
    b.flow("Task_ValidateNewCommits", "Gateway_NewCommits")
    b.flow(
        "Gateway_NewCommits",
        "Task_ResolveConfig",
        name="yes",
        condition=proceed,
        z_condition=z_proceed,
    )
    b.flow("Task_ResolveConfig", "Task_ValidateConfig")
    b.flow("Task_ValidateConfig", "Gateway_ReviewAllowed")
    b.flow(
        "Gateway_ReviewAllowed",
        "Task_FetchChangedFiles",
        name="yes",
        condition=proceed,
        z_condition=z_proceed,
    )
    b.flow("Task_FetchChangedFiles", "Gateway_FilesToReview")
    b.flow(
        "Gateway_FilesToReview",
        "Task_LoadExternalContext",
        name="yes",
        condition=proceed,
        z_condition=z_proceed,
    )
    b.flow("Task_LoadExternalContext", "Task_FileContextGate")
    b.flow("Task_FileContextGate", "Task_InitialComment")
    b.flow("Task_InitialComment", "Task_LoadFeedback")

    # --- rerun gateways (before each end event) ----------------------------------------------
    def rerun_gateway(
        gid: str, cx: float, cy: float, end_id: str, end_name: str, end_doc: str, label_below: bool
    ) -> None:
        label = (cx - 45, cy + 31, 90, 28) if label_below else None
        b.node(
            Node(
                gid,
                "exclusiveGateway",
                "New push during the review?",
                cx,
                cy,
                doc=(
                    "rerun is true when the event subprocess 'New push during the review' ran "
                    "during this round: loop back for one more round (only the new commits get "
                    "reviewed). No wait state follows this gateway, so no push is lost at the end."
                ),
                label=label,
            )
        )
        b.node(Node(end_id, "endEvent", end_name, cx + 100, cy, doc=end_doc))
        b.flow(gid, end_id, name="no", default=True)

    rerun = el(contract.RERUN_VARIABLE)
    z_rerun = feel(f"{contract.RERUN_VARIABLE} = true")

    # --- invalid config path (above the main row) --------------------------------------------
    resolve = b.nodes["Task_ResolveConfig"]
    b.node(
        Node(
            "BoundaryEvent_InvalidConfig",
            "boundaryEvent",
            "Invalid config",
            resolve.cx,
            resolve.bounds[1],
            doc=(
                "Resolve config threw Err_InvalidConfig: its errorMessage (naming the bad key) "
                f"is kept in {contract.CONFIG_ERROR_VARIABLE}."
            ),
            attrs={"attachedToRef": "Task_ResolveConfig"},
            body=[
                '<bpmn:errorEventDefinition id="ErrorEventDefinition_InvalidConfig" '
                'errorRef="Error_InvalidConfig" '
                f'camunda:errorMessageVariable="{contract.CONFIG_ERROR_VARIABLE}" />'
            ],
            z_body=[
                '<bpmn:errorEventDefinition id="ErrorEventDefinition_InvalidConfig" '
                'errorRef="Error_InvalidConfig" />'
            ],
            # the Camunda 8 adapter throws the message along as the variable errorMessage
            z_ext=io_mapping(
                outputs=[(contract.CONFIG_ERROR_VARIABLE, feel(contract.ERROR_MESSAGE_VARIABLE))]
            ),
            label=(resolve.cx + 22, resolve.bounds[1] - 34, 70, 14),
        )
    )
    b.node(
        Node(
            "Task_ReportInvalidConfig",
            "serviceTask",
            "Report invalid config",
            760,
            INVALID_Y,
            doc=(
                "Posts one clear comment naming the bad config key and records the run as ended "
                "early, so the invalid configuration is visible on the PR and in Cockpit. "
                "Inputs: skipKind='invalid-config', skipReason='invalid configuration: ' + "
                "configError."
            ),
            attrs={"camunda:type": "external", "camunda:topic": contract.REPORT_SKIP_TOPIC},
            ext=[
                *properties(5, LIGHT_LOCK_MS),
                "<camunda:inputOutput>",
                input_parameter(contract.SKIP_KIND_VARIABLE, "invalid-config"),
                input_parameter(
                    contract.SKIP_REASON_VARIABLE,
                    "invalid configuration: " + el(contract.CONFIG_ERROR_VARIABLE),
                ),
                "</camunda:inputOutput>",
            ],
            z_ext=[
                *job(contract.REPORT_SKIP_TOPIC, 5, LIGHT_LOCK_MS),
                *io_mapping(
                    inputs=[
                        (contract.SKIP_KIND_VARIABLE, feel(feel_str("invalid-config"))),
                        (
                            contract.SKIP_REASON_VARIABLE,
                            feel(
                                feel_str("invalid configuration: ")
                                + " + "
                                + contract.CONFIG_ERROR_VARIABLE
                            ),
                        ),
                    ]
                ),
            ],
        )
    )
    rerun_gateway(
        "Gateway_RerunAfterInvalidConfig",
        890,
        INVALID_Y,
        "EndEvent_InvalidConfig",
        "Invalid config reported",
        "The run ended early on an invalid configuration; the PR says which key is wrong.",
        label_below=True,
    )
    b.flow(
        "BoundaryEvent_InvalidConfig",
        "Task_ReportInvalidConfig",
        start="t",
        via=[(resolve.cx, INVALID_Y)],
    )
    b.flow("Task_ReportInvalidConfig", "Gateway_RerunAfterInvalidConfig")

    # --- skip path (below the main row) ------------------------------------------------------
    b.node(
        Node(
            "Gateway_SkipMerge",
            "exclusiveGateway",
            None,
            1140,
            SKIP_Y,
            doc="Every reason to skip ends here: nothing new, review not allowed, no files.",
        )
    )
    b.node(
        Node(
            "Task_ReportSkip",
            "serviceTask",
            "Report skip",
            1260,
            SKIP_Y,
            doc=(
                "Tells the user why the run ended early (nothing new, review not allowed, no "
                "files to review): skipReason, set by the stage that said no, goes to the PR "
                "(comment or status) and Cockpit. Input: skipKind='skip'."
            ),
            attrs={"camunda:type": "external", "camunda:topic": contract.REPORT_SKIP_TOPIC},
            ext=[
                *properties(5, LIGHT_LOCK_MS),
                "<camunda:inputOutput>",
                input_parameter(contract.SKIP_KIND_VARIABLE, "skip"),
                "</camunda:inputOutput>",
            ],
            z_ext=[
                *job(contract.REPORT_SKIP_TOPIC, 5, LIGHT_LOCK_MS),
                *io_mapping(inputs=[(contract.SKIP_KIND_VARIABLE, feel(feel_str("skip")))]),
            ],
        )
    )
    rerun_gateway(
        "Gateway_RerunAfterSkip",
        1390,
        SKIP_Y,
        "EndEvent_Skipped",
        "Review skipped",
        "The run ended early with a reason the PR shows.",
        label_below=False,
    )
    b.flow(
        "Gateway_NewCommits",
        "Gateway_SkipMerge",
        start="b",
        end="b",
        via=[(490, 560), (1140, 560)],
        name="no",
        default=True,
        label_at=(497, 335),
    )
    b.flow(
        "Gateway_ReviewAllowed",
        "Gateway_SkipMerge",
        start="b",
        via=[(890, SKIP_Y)],
        name="no",
        default=True,
        label_at=(897, 335),
    )
    b.flow(
        "Gateway_FilesToReview",
        "Gateway_SkipMerge",
        start="b",
        end="t",
        name="no",
        default=True,
        label_at=(1147, 335),
    )
    b.flow("Gateway_SkipMerge", "Task_ReportSkip")
    b.flow("Task_ReportSkip", "Gateway_RerunAfterSkip")

    # --- heavy stages --------------------------------------------------------------------------
    fork = b.node(
        Node(
            "Gateway_HeavyFork",
            "parallelGateway",
            "Run heavy stages",
            1840,
            MAIN_Y,
            doc=(
                "Starts the three heavy stages in parallel; each branch writes only its own "
                "attempt, wait-key and outcome variables."
            ),
        )
    )
    b.flow(
        "Task_LoadFeedback",
        "Gateway_HeavyFork",
        listeners=[set_var(br.attempt_variable, "1") for br in contract.HEAVY_BRANCHES],
    )
    join = b.node(
        Node(
            "Gateway_HeavyJoin",
            "parallelGateway",
            "Heavy stages done",
            3090,
            MAIN_Y,
            doc="Waits for all three heavy branches, each with a result or a timeout outcome.",
        )
    )
    heavy_timeout = optional_duration(
        contract.HEAVY_TIMEOUT_VARIABLE, contract.DEFAULT_HEAVY_TIMEOUT
    )
    context_wait = optional_duration(
        contract.AST_CONTEXT_WAIT_VARIABLE, contract.DEFAULT_AST_CONTEXT_WAIT
    )
    z_heavy_timeout = z_optional_duration(
        contract.HEAVY_TIMEOUT_VARIABLE, contract.DEFAULT_HEAVY_TIMEOUT
    )
    z_context_wait = z_optional_duration(
        contract.AST_CONTEXT_WAIT_VARIABLE, contract.DEFAULT_AST_CONTEXT_WAIT
    )
    for br in contract.HEAVY_BRANCHES:
        k, title, y = BRANCH_IDS[br.key], BRANCH_TITLES[br.key], BRANCH_Y[br.key]
        dispatch = next(s for s in contract.STAGES if s.topic == br.topic)
        att = br.attempt_variable
        first = f"Gateway_{k}Attempt"
        if br.context_message is not None:
            ctx_id = f"Task_Wait{k}AstContext"
            ctx = b.node(
                Node(
                    ctx_id,
                    "receiveTask",
                    "Wait for AST context",
                    1960,
                    y,
                    doc=(
                        f"Waits for message {br.context_message} (correlated by processInstanceId "
                        "only), which the AST worker sends after its own result, so the "
                        f"{title} can use the AST impact context. Goes on without it after "
                        f"astContextWait (default {contract.DEFAULT_AST_CONTEXT_WAIT})."
                    ),
                    attrs={"messageRef": f"Message_{k}AstContext"},
                )
            )
            b.node(
                Node(
                    f"BoundaryEvent_{k}AstContextLate",
                    "boundaryEvent",
                    "AST context late",
                    ctx.cx,
                    ctx.bounds[1] + ctx.bounds[3],
                    doc=(
                        "No AST context within astContextWait (default "
                        f"{contract.DEFAULT_AST_CONTEXT_WAIT}): the {title} goes on without it."
                    ),
                    attrs={"attachedToRef": ctx_id},
                    body=timer_body(f"TimerEventDefinition_{k}AstContextLate", context_wait),
                    z_body=timer_body(f"TimerEventDefinition_{k}AstContextLate", z_context_wait),
                    label=(ctx.cx + 4, ctx.bounds[1] + ctx.bounds[3] + 20, 90, 14),
                )
            )
            b.node(
                Node(
                    f"Gateway_{k}AstContext",
                    "exclusiveGateway",
                    None,
                    2090,
                    y,
                    doc="With or without the AST context, on to the dispatch.",
                )
            )
            b.flow("Gateway_HeavyFork", ctx_id, start="b", via=[(fork.cx, y)])
            b.flow(ctx_id, f"Gateway_{k}AstContext")
            b.flow(
                f"BoundaryEvent_{k}AstContextLate",
                f"Gateway_{k}AstContext",
                start="b",
                end="b",
                via=[(ctx.cx, y + 80), (2090, y + 80)],
            )
        attempt_doc = f"Dispatch attempt of the {title} (first, or again after a timeout)."
        b.node(Node(first, "exclusiveGateway", None, 2190, y, doc=attempt_doc))
        if br.context_message is not None:
            b.flow(f"Gateway_{k}AstContext", first)
        else:
            b.flow("Gateway_HeavyFork", first)
        service(dispatch.name, 2310, y)
        wait_id = f"Task_Wait{k}Result"
        wait = b.node(
            Node(
                wait_id,
                "receiveTask",
                f"Wait for {title} result",
                2460,
                y,
                doc=(
                    f"Waits for message {br.message_name}, correlated with processInstanceId and "
                    f"correlationKeys {{{br.wait_key_variable}: token}}: the token the dispatch "
                    "worker completed its task with, so a late result of an abandoned attempt "
                    "never matches (400). The message's processVariables set "
                    f'{br.outcome_variable} (a JSON string: status "ok" | "failed", artifact id, '
                    "counts)."
                ),
                attrs={"messageRef": f"Message_{k}Done"},
            )
        )
        timer_id = f"BoundaryEvent_{k}Timeout"
        b.node(
            Node(
                timer_id,
                "boundaryEvent",
                "No result in time",
                wait.cx,
                wait.bounds[1] + wait.bounds[3],
                doc=(
                    "Fires when no result arrived within heavyTimeout (default "
                    f"{contract.DEFAULT_HEAVY_TIMEOUT})."
                ),
                attrs={"attachedToRef": wait_id},
                body=timer_body(f"TimerEventDefinition_{k}Timeout", heavy_timeout),
                z_body=timer_body(f"TimerEventDefinition_{k}Timeout", z_heavy_timeout),
                label=(wait.cx + 4, wait.bounds[1] + wait.bounds[3] + 20, 90, 14),
            )
        )
        count_id = f"Task_Count{k}Attempt"
        b.node(
            Node(
                count_id,
                "scriptTask",
                f"Count {title} attempt",
                2610,
                y + 120,
                doc=f"Counts the timed-out attempt: {att} + 1.",
                attrs={"scriptFormat": "juel", "camunda:resultVariable": att},
                body=[f"<bpmn:script>{escape(el(f'{att} + 1'))}</bpmn:script>"],
                z_body=[],
                z_ext=z_script(feel(f"{att} + 1"), att),
            )
        )
        retry_id = f"Gateway_{k}Retry"
        b.node(
            Node(
                retry_id,
                "exclusiveGateway",
                f"Retry {title}?",
                2740,
                y + 120,
                doc=(
                    f"Re-dispatches while {att} <= heavyRetries + 1 (heavyRetries re-dispatches "
                    "after the first attempt); otherwise gives up."
                ),
            )
        )
        mark_id = f"Task_Mark{k}TimedOut"
        timeout_json = (
            f'{{"status":"{contract.TIMEOUT_STATUS}",'
            f'"error":"no result after {el(att + " - 1")} attempt(s)"}}'
        )
        b.node(
            Node(
                mark_id,
                "scriptTask",
                f"Mark {title} timed out",
                2860,
                y + 120,
                doc=(
                    f"No result after heavyRetries + 1 attempts: sets {br.outcome_variable} to the "
                    f'JSON string {{"status":"timeout", "error": ...}} so the later stages report '
                    "the gap instead of failing."
                ),
                attrs={"scriptFormat": "juel", "camunda:resultVariable": br.outcome_variable},
                body=[f"<bpmn:script>{escape(timeout_json)}</bpmn:script>"],
                z_body=[],
                # a FEEL context: the workers' branch_outcome takes it as well as the JSON string
                z_ext=z_script(
                    feel(
                        f"{{status: {feel_str(contract.TIMEOUT_STATUS)}, error: "
                        f"{feel_str('no result after ')} + string({att} - 1) + "
                        f"{feel_str(' attempt(s)')}}}"
                    ),
                    br.outcome_variable,
                ),
            )
        )
        result_id = f"Gateway_{k}Result"
        b.node(
            Node(
                result_id,
                "exclusiveGateway",
                None,
                2990,
                y,
                doc=f"The {title} result or its timeout outcome: one token on to the join.",
            )
        )
        b.flow(first, dispatch.element_id)
        b.flow(dispatch.element_id, wait_id)
        b.flow(wait_id, result_id)
        b.flow(timer_id, count_id, start="b", via=[(wait.cx, y + 120)])
        b.flow(count_id, retry_id)
        b.flow(
            retry_id,
            first,
            start="b",
            end="b",
            via=[(2740, y + 185), (2190, y + 185)],
            name="retry",
            condition=el(f"{att} <= {contract.HEAVY_RETRIES_VARIABLE} + 1"),
            z_condition=feel(f"{att} <= {contract.HEAVY_RETRIES_VARIABLE} + 1"),
            label_at=(2748, y + 152),
        )
        b.flow(retry_id, mark_id, name="give up", default=True)
        b.flow(mark_id, result_id, end="b", via=[(2990, y + 120)])
        if y == MAIN_Y:
            b.flow(result_id, "Gateway_HeavyJoin")
        else:
            b.flow(result_id, "Gateway_HeavyJoin", end="b", via=[(join.cx, y)])

    # --- stages 12-17, end ---------------------------------------------------------------------
    previous = "Gateway_HeavyJoin"
    for i, name in enumerate(
        [
            "create_pr_comments",
            "create_file_comments",
            "ast_cleanup",
            "aggregate_results",
            "summarize",
            "verdict",
        ]
    ):
        node = service(name, 3210 + 150 * i, MAIN_Y)
        b.flow(previous, node.id)
        previous = node.id
    rerun_gateway(
        "Gateway_RerunAfterReview",
        4090,
        MAIN_Y,
        "EndEvent_ReviewDone",
        "Review complete",
        "The review of this pull request is complete (for every push it saw).",
        label_below=True,
    )
    b.flow(previous, "Gateway_RerunAfterReview")

    # --- rerun loops ---------------------------------------------------------------------------
    nxt = b.nodes["Gateway_NextRound"]
    b.flow(
        "Gateway_RerunAfterReview",
        "Gateway_NextRound",
        start="t",
        end="t",
        via=[(4090, LOOP_Y), (nxt.cx, LOOP_Y)],
        name="yes",
        condition=rerun,
        z_condition=z_rerun,
        label_at=(4098, 250),
    )
    b.flow(
        "Gateway_RerunAfterInvalidConfig",
        "Gateway_NextRound",
        start="t",
        end="r",
        via=[(890, 120), (300, 120), (300, INVALID_Y)],
        name="yes",
        condition=rerun,
        z_condition=z_rerun,
        label_at=(898, 130),
    )
    b.flow(
        "Gateway_RerunAfterSkip",
        "Gateway_NextRound",
        start="b",
        end="l",
        via=[(1390, SKIP_LOOP_Y), (LEFT_MARGIN_X, SKIP_LOOP_Y), (LEFT_MARGIN_X, INVALID_Y)],
        name="yes",
        condition=rerun,
        z_condition=z_rerun,
        label_at=(1398, 530),
    )

    # --- event subprocess ----------------------------------------------------------------------
    b.node(
        Node(
            "StartEvent_NewPush",
            "startEvent",
            "New push",
            220,
            760,
            doc=(
                f"Message {contract.PR_EVENT_MESSAGE} for this run's business key while it runs "
                "(non-interrupting): the review goes on and sets rerun=true, synchronously, in "
                "this event's end listener."
            ),
            attrs={"isInterrupting": "false"},
            ext=[listener(set_var(contract.RERUN_VARIABLE, "true"), "end")],
            # Zeebe: no listener on a start event; its output mappings do the same (and keep
            # the push's own variables out of the running round)
            z_ext=io_mapping(
                outputs=[
                    (contract.RERUN_VARIABLE, feel("true")),
                    (PUSH_COUNT_VARIABLE, feel(pushes() + " + 1")),
                ]
            ),
            body=[
                '<bpmn:messageEventDefinition id="MessageEventDefinition_NewPush" '
                'messageRef="Message_PrEvent" />'
            ],
            parent="SubProcess_NewPush",
        )
    )
    b.node(
        Node(
            "EndEvent_NewPushNoted",
            "endEvent",
            "Rerun requested",
            400,
            760,
            doc="Nothing else happens here: the rerun gateway before the end loops once more.",
            parent="SubProcess_NewPush",
        )
    )
    b.flow("StartEvent_NewPush", "EndEvent_NewPushNoted")
    return b


SUBPROCESS = {
    "id": "SubProcess_NewPush",
    "name": "New push during the review",
    "bounds": (130, 690, 360, 150),
    "doc": (
        "A push (or another pull-request event) arrived while this run reviews the pull "
        "request: remember it in rerun=true. The rerun gateway before each end event then "
        "loops back for one more round, which reviews the new commits. No external task runs "
        "in here: a wait in here could let the main path end first and lose the push."
    ),
}

PROCESS_DOC = (
    "AI pull-request review: 17 stages as external tasks; the three heavy ones run in parallel, "
    "report back by message and are re-dispatched on timeout (then a timeout outcome, and the "
    "review goes on). The two LLM branches first wait briefly for the AST impact context. Skips "
    "and invalid configuration end the run cleanly with a visible reason. One run per pull "
    "request (business key owner/name#N): a push during the run sets rerun, and the run loops "
    "once more before it ends."
)


# ----------------------------------------------------------------------------- XML


def fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.1f}"


C7 = "camunda7"
C8 = "camunda8"
PLATFORMS = {
    C7: (
        'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"',
        'modeler:executionPlatform="Camunda Platform" modeler:executionPlatformVersion="7.24.0"',
    ),
    C8: (
        'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"',
        'modeler:executionPlatform="Camunda Cloud" modeler:executionPlatformVersion="8.9.0"',
    ),
}


def camunda7_only(attr: str) -> bool:
    return attr.startswith("camunda:") or attr == "scriptFormat"


def message_keys() -> dict[str, str]:
    """Camunda 8: the FEEL correlation key of each message, matching what the adapter
    (reviewflow/engine/zeebe.py) publishes on: the business key for a pull-request event, the
    attempt's wait key for a branch result, and the process instance key for the AST context
    (the AST worker correlates it without keys)."""
    keys = {"Message_PrEvent": feel(contract.BUSINESS_KEY_VARIABLE)}
    for br in contract.HEAVY_BRANCHES:
        k = BRANCH_IDS[br.key]
        keys[f"Message_{k}Done"] = feel(br.wait_key_variable)
        if br.context_message:
            keys[f"Message_{k}AstContext"] = feel(contract.INSTANCE_KEY_VARIABLE)
    return keys


def render(b: Builder, platform: str = C7) -> str:
    zeebe = platform == C8
    out: list[str] = []
    w = out.append
    w('<?xml version="1.0" encoding="UTF-8"?>')
    namespace, execution_platform = PLATFORMS[platform]
    w(
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
        'xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
        'xmlns:di="http://www.omg.org/spec/DD/20100524/DI" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f"{namespace} "
        'xmlns:modeler="http://camunda.org/schema/modeler/1.0" '
        'id="Definitions_CodeReview" targetNamespace="http://reviewflow.io/bpmn" '
        'exporter="reviewflow bpmn/tools/generate_code_review.py" exporterVersion="1.0" '
        f"{execution_platform}>"
    )
    if zeebe:
        w(f'  <bpmn:process id="{contract.PROCESS_ID}" name="Code review" isExecutable="true">')
        w(f"    <bpmn:documentation>{escape(PROCESS_DOC)}</bpmn:documentation>")
    else:
        w(
            f'  <bpmn:process id="{contract.PROCESS_ID}" name="Code review" isExecutable="true" '
            'camunda:historyTimeToLive="P7D">'
        )
        w(f"    <bpmn:documentation>{escape(PROCESS_DOC)}</bpmn:documentation>")
        w("    <bpmn:extensionElements>")
        w("      " + listener(set_var(contract.RERUN_VARIABLE, "false"), "start"))
        w("      " + listener(set_var(contract.REVIEW_ROUND_VARIABLE, "1"), "start"))
        w("    </bpmn:extensionElements>")

    def node_xml(n: Node, ind: str) -> None:
        attrs = {"id": n.id}
        if n.name:
            attrs["name"] = n.name
        attrs.update({k: v for k, v in n.attrs.items() if k in ("isInterrupting",)})
        if n.id in b.defaults:
            attrs["default"] = b.defaults[n.id]
        attrs.update({k: v for k, v in n.attrs.items() if k not in ("isInterrupting",)})
        if zeebe:
            attrs = {k: v for k, v in attrs.items() if not camunda7_only(k)}
        w(f"{ind}<bpmn:{n.tag} " + " ".join(f"{k}={quoteattr(v)}" for k, v in attrs.items()) + ">")
        if n.doc:
            w(f"{ind}  <bpmn:documentation>{escape(n.doc)}</bpmn:documentation>")
        ext = n.z_ext if zeebe else n.ext
        if ext:
            w(f"{ind}  <bpmn:extensionElements>")
            for line in ext:
                w(f"{ind}    {line}")
            w(f"{ind}  </bpmn:extensionElements>")
        for f in b.flows.values():
            if f.target == n.id:
                w(f"{ind}  <bpmn:incoming>{f.id}</bpmn:incoming>")
        for f in b.flows.values():
            if f.source == n.id:
                w(f"{ind}  <bpmn:outgoing>{f.id}</bpmn:outgoing>")
        body = n.z_body if zeebe and n.z_body is not None else n.body
        for line in body:
            w(f"{ind}  {line}")
        w(f"{ind}</bpmn:{n.tag}>")

    def flow_xml(f: Flow, ind: str) -> None:
        attrs = {"id": f.id}
        if f.name:
            attrs["name"] = f.name
        attrs.update(sourceRef=f.source, targetRef=f.target)
        head = f"{ind}<bpmn:sequenceFlow " + " ".join(
            f"{k}={quoteattr(v)}" for k, v in attrs.items()
        )
        condition = f.z_condition if zeebe else f.condition
        listeners = [] if zeebe else f.listeners
        if not condition and not listeners:
            w(head + " />")
            return
        w(head + ">")
        if listeners:
            w(f"{ind}  <bpmn:extensionElements>")
            for expr in listeners:
                w(f"{ind}    " + listener(expr, "take"))
            w(f"{ind}  </bpmn:extensionElements>")
        if condition:
            w(
                f'{ind}  <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">'
                f"{escape(condition)}</bpmn:conditionExpression>"
            )
        w(f"{ind}</bpmn:sequenceFlow>")

    top = [n for n in b.nodes.values() if n.parent is None]
    # boundary events after their hosts, as the Modeler writes them
    for n in sorted(top, key=lambda n: n.tag == "boundaryEvent"):
        node_xml(n, "    ")
    sp = SUBPROCESS
    w(f'    <bpmn:subProcess id="{sp["id"]}" name="{sp["name"]}" triggeredByEvent="true">')
    w(f"      <bpmn:documentation>{escape(sp['doc'])}</bpmn:documentation>")
    for n in b.nodes.values():
        if n.parent == sp["id"]:
            node_xml(n, "      ")
    for f in b.flows.values():
        if f.parent == sp["id"]:
            flow_xml(f, "      ")
    w("    </bpmn:subProcess>")
    for f in b.flows.values():
        if f.parent is None:
            flow_xml(f, "    ")
    w("  </bpmn:process>")

    messages = [("Message_PrEvent", contract.PR_EVENT_MESSAGE)]
    for br in contract.HEAVY_BRANCHES:
        k = BRANCH_IDS[br.key]
        messages.append((f"Message_{k}Done", br.message_name))
        if br.context_message:
            messages.append((f"Message_{k}AstContext", br.context_message))
    keys = message_keys()
    for mid, mname in messages:
        if not zeebe:
            w(f'  <bpmn:message id="{mid}" name="{mname}" />')
            continue
        w(f'  <bpmn:message id="{mid}" name="{mname}">')
        w("    <bpmn:extensionElements>")
        w(f"      <zeebe:subscription correlationKey={quoteattr(keys[mid])} />")
        w("    </bpmn:extensionElements>")
        w("  </bpmn:message>")
    w(
        '  <bpmn:error id="Error_InvalidConfig" name="Invalid config" '
        f'errorCode="{contract.ERROR_INVALID_CONFIG}" />'
    )

    # --- DI
    w('  <bpmndi:BPMNDiagram id="BPMNDiagram_CodeReview">')
    w(f'    <bpmndi:BPMNPlane id="BPMNPlane_CodeReview" bpmnElement="{contract.PROCESS_ID}">')

    def bounds_xml(ind: str, x: float, y: float, wd: float, h: float) -> None:
        w(f'{ind}<dc:Bounds x="{fmt(x)}" y="{fmt(y)}" width="{fmt(wd)}" height="{fmt(h)}" />')

    def shape(n: Node) -> None:
        extra = ' isMarkerVisible="true"' if n.tag == "exclusiveGateway" else ""
        w(f'      <bpmndi:BPMNShape id="{n.id}_di" bpmnElement="{n.id}"{extra}>')
        bounds_xml("        ", *n.bounds)
        if n.label:
            w("        <bpmndi:BPMNLabel>")
            bounds_xml("          ", *n.label)
            w("        </bpmndi:BPMNLabel>")
        w("      </bpmndi:BPMNShape>")

    def edge(f: Flow) -> None:
        w(f'      <bpmndi:BPMNEdge id="{f.id}_di" bpmnElement="{f.id}">')
        for x, y in f.waypoints:
            w(f'        <di:waypoint x="{fmt(x)}" y="{fmt(y)}" />')
        if f.label:
            w("        <bpmndi:BPMNLabel>")
            bounds_xml("          ", *f.label)
            w("        </bpmndi:BPMNLabel>")
        w("      </bpmndi:BPMNEdge>")

    for n in top:
        if n.tag != "boundaryEvent":
            shape(n)
    w(f'      <bpmndi:BPMNShape id="{sp["id"]}_di" bpmnElement="{sp["id"]}" isExpanded="true">')
    bounds_xml("        ", *sp["bounds"])
    w("      </bpmndi:BPMNShape>")
    for n in b.nodes.values():
        if n.parent == sp["id"]:
            shape(n)
    for n in top:
        if n.tag == "boundaryEvent":
            shape(n)
    for f in b.flows.values():
        edge(f)
    w("    </bpmndi:BPMNPlane>")
    w("  </bpmndi:BPMNDiagram>")
    w("</bpmn:definitions>")
    return "\n".join(out) + "\n"


def task_settings(name: str, kind: str) -> tuple[int, int]:
    """retries and lockDuration (ms) of a stage's service task."""
    retries = 5 if name in POSTING else 3
    lock = DISPATCH_LOCK_MS if kind == "heavy" else LOCKS.get(name, LIGHT_LOCK_MS)
    return retries, lock


def templates() -> list[dict[str, object]]:
    """One Camunda 7 element template per topic, with the diagram's retries and lock duration."""

    def template(
        topic: str, title: str, description: str, retries: int, lock: int
    ) -> dict[str, object]:
        return {
            "$schema": TEMPLATE_SCHEMA,
            "id": "io.reviewflow." + topic.removeprefix("reviewflow."),
            "name": f"Reviewflow: {title}",
            "description": description,
            "version": 1,
            "appliesTo": ["bpmn:ServiceTask"],
            "elementType": {"value": "bpmn:ServiceTask"},
            "groups": [{"id": "externalTask", "label": "External task"}],
            "properties": [
                {
                    "type": "Hidden",
                    "value": "external",
                    "binding": {"type": "property", "name": "camunda:type"},
                },
                {
                    "label": "Topic",
                    "type": "Hidden",
                    "value": topic,
                    "binding": {"type": "property", "name": "camunda:topic"},
                },
                {
                    "id": "retries",
                    "label": "Retries",
                    "group": "externalTask",
                    "type": "String",
                    "value": str(retries),
                    "description": (
                        "How often the worker retries a failed task before the engine raises "
                        "an incident (read by the worker as the extension property 'retries')."
                    ),
                    "binding": {"type": "camunda:property", "name": contract.RETRIES_PROPERTY},
                    "constraints": {
                        "notEmpty": True,
                        "pattern": {"value": "^[0-9]+$", "message": "Must be a whole number."},
                    },
                },
                {
                    "id": "lockDuration",
                    "label": "Lock duration (ms)",
                    "group": "externalTask",
                    "type": "String",
                    "value": str(lock),
                    "description": (
                        "How long a worker holds the task before the engine hands it out "
                        "again; workers extend the lock for longer work."
                    ),
                    "binding": {
                        "type": "camunda:property",
                        "name": contract.LOCK_DURATION_PROPERTY,
                    },
                    "constraints": {
                        "notEmpty": True,
                        "pattern": {"value": "^[0-9]+$", "message": "Must be a whole number."},
                    },
                },
            ],
        }

    out = []
    for stage in contract.STAGES:
        retries, lock = task_settings(stage.name, stage.kind)
        out.append(template(stage.topic, stage.title, DOCS[stage.name], retries, lock))
    report = template(
        contract.REPORT_SKIP_TOPIC,
        "Report skip",
        "Tells the user why a run ended early (skip paths, invalid configuration): posts the "
        "reason (skipReason) on the PR and records it. The invalid-config task also maps "
        "skipReason = 'invalid configuration: ${configError}' as an input.",
        5,
        LIGHT_LOCK_MS,
    )
    report["groups"] = [*report["groups"], {"id": "skip", "label": "Skip"}]  # type: ignore[misc]
    report["properties"] = [  # type: ignore[misc]
        *report["properties"],
        {
            "id": "skipKind",
            "label": "Skip kind",
            "group": "skip",
            "type": "Dropdown",
            "value": "skip",
            "choices": [
                {"name": "Skip (nothing to review / not allowed)", "value": "skip"},
                {"name": "Invalid configuration", "value": "invalid-config"},
            ],
            "binding": {"type": "camunda:inputParameter", "name": contract.SKIP_KIND_VARIABLE},
        },
    ]
    out.append(report)
    return out


def zeebe_templates() -> list[dict[str, object]]:
    """The same templates for Camunda 8: job type, retries and the lockDuration header."""

    def template(
        topic: str, title: str, description: str, retries: int, lock: int
    ) -> dict[str, object]:
        return {
            "$schema": ZEEBE_TEMPLATE_SCHEMA,
            "id": "io.reviewflow." + topic.removeprefix("reviewflow."),
            "name": f"Reviewflow: {title}",
            "description": description,
            "version": 1,
            "category": {"id": "reviewflow", "name": "Reviewflow"},
            "appliesTo": ["bpmn:ServiceTask"],
            "elementType": {"value": "bpmn:ServiceTask"},
            "engines": {"camunda": "^8.9"},
            "groups": [{"id": "job", "label": "Job"}],
            "properties": [
                {
                    "type": "Hidden",
                    "value": topic,
                    "binding": {"type": "zeebe:taskDefinition", "property": "type"},
                },
                {
                    "id": "retries",
                    "label": "Retries",
                    "group": "job",
                    "type": "String",
                    "value": str(retries),
                    "description": (
                        "How often Zeebe hands the job out again after a failure before it "
                        "raises an incident."
                    ),
                    "binding": {"type": "zeebe:taskDefinition", "property": "retries"},
                    "constraints": {
                        "notEmpty": True,
                        "pattern": {"value": "^[0-9]+$", "message": "Must be a whole number."},
                    },
                },
                {
                    "id": "lockDuration",
                    "label": "Lock duration (ms)",
                    "group": "job",
                    "type": "String",
                    "value": str(lock),
                    "description": (
                        "While a worker runs the job it keeps setting the job's timeout to "
                        "this, so a worker that died holds the job for at most this long (a "
                        "custom header: the adapter hands it over as the task property "
                        "'lockDuration')."
                    ),
                    "binding": {"type": "zeebe:taskHeader", "key": contract.LOCK_DURATION_PROPERTY},
                    "constraints": {
                        "notEmpty": True,
                        "pattern": {"value": "^[0-9]+$", "message": "Must be a whole number."},
                    },
                },
            ],
        }

    out = []
    for stage in contract.STAGES:
        retries, lock = task_settings(stage.name, stage.kind)
        out.append(template(stage.topic, stage.title, DOCS[stage.name], retries, lock))
    report = template(
        contract.REPORT_SKIP_TOPIC,
        "Report skip",
        "Tells the user why a run ended early (skip paths, invalid configuration): posts the "
        "reason (skipReason) on the PR and records it. The invalid-config task also maps "
        'skipReason = "invalid configuration: " + configError as an input.',
        5,
        LIGHT_LOCK_MS,
    )
    report["groups"] = [*report["groups"], {"id": "skip", "label": "Skip"}]  # type: ignore[misc]
    report["properties"] = [  # type: ignore[misc]
        *report["properties"],
        {
            "id": "skipKind",
            "label": "Skip kind",
            "group": "skip",
            "type": "Dropdown",
            "value": feel(feel_str("skip")),
            "choices": [
                {"name": "Skip (nothing to review / not allowed)", "value": feel(feel_str("skip"))},
                {"name": "Invalid configuration", "value": feel(feel_str("invalid-config"))},
            ],
            "binding": {"type": "zeebe:input", "name": contract.SKIP_KIND_VARIABLE},
        },
    ]
    out.append(report)
    return out


def outputs() -> dict[Path, str]:
    """Every file this script writes, with its text: both diagrams and both template sets."""
    model = build()
    return {
        OUT: render(model, C7),
        TEMPLATES_OUT: json.dumps(templates(), indent=2, ensure_ascii=False) + "\n",
        C8_OUT: render(model, C8),
        C8_TEMPLATES_OUT: json.dumps(zeebe_templates(), indent=2, ensure_ascii=False) + "\n",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if the file is out of date")
    args = parser.parse_args()
    files = outputs()
    stale = [p for p, text in files.items() if not p.exists() or p.read_text("utf-8") != text]
    if args.check:
        for p in stale:
            print(f"{p.relative_to(ROOT)} is out of date: run {Path(__file__).relative_to(ROOT)}")
        return 1 if stale else 0
    for p, text in files.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        print(f"wrote {p.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
