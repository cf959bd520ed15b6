"""The LLM path through the real engine: bpmn/code_review.bpmn with every worker, the model
behind an OpenAI-compatible test server (:class:`tests.support.llm_server.FakeLlmServer`).

The workers read ``REVIEWFLOW_LLM_*`` from their environment for every job, so each test points
them at its own server. The API key must reach the server and nothing else: not a process
variable (current or historic), not an artifact, not the event log, not the engine's log or
its database files.
"""

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reviewflow.engine.operaton import OperatonEngine
from reviewflow.review import ReviewRun, local_target, start_review
from reviewflow.sample import make_sample_repo
from shared.git.local import LocalGitHost
from shared.llm.prompts import (
    file_review_system,
    pr_review_system,
    self_check_system,
    summary_system,
)
from tests.integration.conftest import EngineHandle, Workers
from tests.support.llm_server import FakeLlmServer
from workers.runtime import current_settings

MODEL = "reviewflow-test-model"


@pytest.fixture
def api_key() -> str:
    return f"sk-reviewflow-test-{uuid.uuid4().hex}"


def use_llm(monkeypatch: pytest.MonkeyPatch, server: FakeLlmServer, key: str, retries: int) -> None:
    monkeypatch.setenv("REVIEWFLOW_LLM_BASE_URL", server.base_url)
    monkeypatch.setenv("REVIEWFLOW_LLM_API_KEY", key)
    monkeypatch.setenv("REVIEWFLOW_LLM_MODEL", MODEL)
    monkeypatch.setenv("REVIEWFLOW_LLM_MAX_RETRIES", str(retries))
    monkeypatch.setenv("REVIEWFLOW_LLM_TIMEOUT_SECONDS", "10")


class ScriptedModel:
    """Answers each kind of call the reviewer makes; the findings carry ``marker``."""

    def __init__(self, marker: str) -> None:
        self.marker = marker
        self.file_message = f"{marker}: `pending=[]` is one list shared by every call"
        self.pr_title = f"{marker}: orders have no tests"
        self.summary = f"{marker}: adds orders and guards restock against negative amounts"

    def __call__(self, request: dict[str, Any]) -> str:
        messages = request["messages"]
        system, user = str(messages[0]["content"]), str(messages[1]["content"])
        if system == pr_review_system():
            return json.dumps(
                {
                    "findings": [
                        {
                            "category": "maintainability",
                            "severity": "medium",
                            "title": self.pr_title,
                            "message": "inventory/orders.py is new and nothing tests it.",
                            "paths": ["inventory/orders.py"],
                        }
                    ]
                }
            )
        if system == self_check_system():
            return json.dumps(
                {"verdicts": [{"index": i, "keep": True, "reason": "real"} for i in range(20)]}
            )
        if system == summary_system():
            return json.dumps({"summary": self.summary})
        if system.startswith(file_review_system(())[:60]):
            if user.startswith("File: inventory/orders.py"):
                suggestion = {
                    "start_line": 4,
                    "end_line": 4,
                    "category": "bug",
                    "severity": "high",
                    "message": self.file_message,
                    "replacement": "def add_order(order, pending=None):",
                }
                return json.dumps({"suggestions": [suggestion]})
            return json.dumps({"suggestions": []})
        raise AssertionError(f"unexpected call: {system[:80]!r}")


def files_under(root: Path) -> Iterator[Path]:
    return (p for p in root.rglob("*") if p.is_file())


async def assert_key_nowhere(
    key: str, run: ReviewRun, repo: Path, engine: EngineHandle, client: OperatonEngine
) -> None:
    """The key is in none of what the run left behind that a test can read."""
    secret = key.encode()
    assert key not in json.dumps(run.variables)
    assert all(key not in str(e) for e in run.events)
    # what the engine keeps of the instance (its history, which Cockpit shows)
    state = await client.instance(run.instance_id)
    assert state.variables and key not in json.dumps(state.variables)
    # artifacts, event logs, comment state and reports of every run in the state dir
    state_dir = current_settings().state_dir
    leaks = [p for p in files_under(state_dir) if secret in p.read_bytes()]
    assert not leaks, f"API key written to {leaks}"
    host = LocalGitHost(local_target(repo, "main", "feature"), state_dir)
    assert all(key not in c.body for c in host.list_comments())
    if engine.local is None:
        return
    # the engine's own files: its log and its database (H2 in the engine's state directory)
    engine_files = list(files_under(engine.local.engine_dir))
    assert engine_files, f"no files under {engine.local.engine_dir}"
    leaks = [p for p in engine_files if secret in p.read_bytes()]
    assert not leaks, f"API key in the engine's files: {leaks}"


async def test_llm_findings_land_in_the_review_and_the_key_stays_out(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    engine: EngineHandle,
    client: OperatonEngine,
    workers: Workers,
    api_key: str,
) -> None:
    model = ScriptedModel(f"LLM-{uuid.uuid4().hex[:12]}")
    repo = make_sample_repo(tmp_path / "repo")
    with FakeLlmServer(responder=model) as server:
        use_llm(monkeypatch, server, api_key, retries=1)
        run = await start_review(client, local_target(repo, "main", "feature"), timeout_s=180)
        requests = server.requests

    assert run.result is not None and run.skipped is None
    assert not run.result.errors, run.result.errors
    # every call went to the model named, with the key, and was answered
    assert requests and all(r.status == 200 for r in requests)
    assert all(r.body["model"] == MODEL for r in requests)
    assert all(r.headers["authorization"] == f"Bearer {api_key}" for r in requests)
    systems = [str(r.messages[0]["content"]) for r in requests]
    assert systems.count(pr_review_system()) == 1
    assert systems.count(summary_system()) == 1
    assert systems.count(self_check_system()) == 1  # only orders.py had a finding to check

    # the per-file finding: in the result, on the line the model named, posted inline once;
    # it is the problem Ruff reports too (B006), so the two are one finding with Ruff's rule
    # and the model's explanation; Ruff's F632 (`is "express"`) is the other finding
    suggestions = run.result.suggestions
    assert [(s.source, s.rule) for s in suggestions] == [
        ("analyzer", "B006"),
        ("analyzer", "F632"),
    ], suggestions
    finding = suggestions[0]
    assert (finding.path, finding.start_line, finding.message) == (
        "inventory/orders.py",
        4,
        model.file_message,
    )
    assert finding.fingerprint in run.result.posted_fingerprints
    # the PR-level finding
    assert [(f.title, f.source, f.paths) for f in run.result.pr_findings] == [
        (model.pr_title, "llm", ("inventory/orders.py",))
    ]
    assert run.result.tokens > 0
    assert run.variables["prReviewOutcome"]["tokens"] > 0
    assert run.variables["fileReviewOutcome"]["tokens"] > 0
    # what the author sees: the inline comment, the summary, the verdict
    host = LocalGitHost(local_target(repo, "main", "feature"), current_settings().state_dir)
    inline = [c for c in host.list_comments() if c.kind == "inline"]
    # B006's fix spans lines 4-5: the comment covers the range (the host records line 5)
    assert [(c.path, c.line) for c in inline] == [
        ("inventory/orders.py", 5),
        ("inventory/orders.py", 10),
    ]
    assert model.file_message in inline[0].body
    pr_comments = [c for c in host.list_comments() if c.kind == "issue"]
    assert any(model.pr_title in c.body for c in pr_comments)
    report = run.report_path.read_text()
    assert model.summary in report
    assert run.variables["verdict"] in {"comment", "request_changes"}

    await assert_key_nowhere(api_key, run, repo, engine, client)


@pytest.mark.parametrize("failure", ["http-500", "malformed-reply"])
async def test_a_failing_llm_still_completes_the_review_and_says_what_is_missing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    engine: EngineHandle,
    client: OperatonEngine,
    workers: Workers,
    api_key: str,
    failure: str,
) -> None:
    repo = make_sample_repo(tmp_path / "repo")
    # no reply scripted: the server answers 500 to every call; or a 200 that is not JSON
    responder = None if failure == "http-500" else (lambda _request: "Sure! Here is my review.")
    with FakeLlmServer(responder=responder) as server:
        use_llm(monkeypatch, server, api_key, retries=1)
        run = await start_review(client, local_target(repo, "main", "feature"), timeout_s=180)
        requests = server.requests

    # every call was tried twice (one retry) and failed
    assert requests
    expected_status = 500 if failure == "http-500" else 200
    assert all(r.status == expected_status for r in requests)
    calls = [str(r.messages[0]["content"]) for r in requests]
    assert calls.count(pr_review_system()) == 2
    assert calls.count(summary_system()) == 2

    # the run completed and says what is missing
    assert run.result is not None and run.skipped is None
    errors = "\n".join(run.result.errors)
    assert "PR-level review failed" in errors
    assert "per-file review failed" in errors
    assert "AST analysis" not in errors  # the branch without the model is complete
    assert run.variables["prReviewOutcome"]["status"] == "failed"
    assert run.variables["fileReviewOutcome"]["status"] == "failed"
    assert run.variables["astOutcome"]["status"] == "ok"
    assert run.variables["partial"] is True
    assert run.variables["verdict"] == "comment"  # never approve, never block, a partial run
    assert not run.result.suggestions and not run.result.pr_findings
    host = LocalGitHost(local_target(repo, "main", "feature"), current_settings().state_dir)
    (progress,) = [c for c in host.list_comments() if c.fingerprint == "progress"]
    assert "review finished" in progress.body
    assert "Not everything could be reviewed" in progress.body
    assert "PR-level review failed" in progress.body
    # the summary falls back to the plain one and says the model failed
    assert "The model summary failed" in run.report_path.read_text()

    await assert_key_nowhere(api_key, run, repo, engine, client)
