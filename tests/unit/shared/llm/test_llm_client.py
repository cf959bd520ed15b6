"""LlmReviewer against a real local OpenAI-compatible HTTP server (tests/support/llm_server)."""

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from shared.config import ModelConfig, Rule
from shared.llm import LlmError, LlmReviewer, LlmSettings
from shared.llm.client import parse_retry_after
from shared.models import Category, ChangedFile, FileStatus, Severity, Suggestion
from tests.support.llm_server import Failure, FakeLlmServer

API_KEY = "sk-test-5f3a9c1e7b2d4f60"
# short backoff keeps the retry tests fast
BACKOFF_BASE = 0.01
BACKOFF_MAX = 0.05

PATCH = "\n".join(
    [
        "@@ -1,4 +1,5 @@",
        " def total(items):",
        "-    return sum(items)",
        "+    result = 0",
        "+    for item in items: result += item.price",
        "+    return result",
        " ",
        "@@ -20,2 +21,3 @@ def other():",
        "     pass",
        '+    print("debug")',
    ]
)

CONTENT = "\n".join(
    [
        "def total(items):",
        "    result = 0",
        "    for item in items: result += item.price",
        "    return result",
        "",
        *[f"# filler {n}" for n in range(6, 21)],
        "def other():",
        "    pass",
        '    print("debug")',
    ]
)

FILE = ChangedFile(
    path="src/shop/cart.py",
    status=FileStatus.MODIFIED,
    patch=PATCH,
    content=CONTENT,
    additions=4,
    deletions=1,
)
OTHER = ChangedFile(
    path="src/shop/api.py",
    status=FileStatus.MODIFIED,
    patch="@@ -3,1 +3,1 @@\n-def total(items):\n+def total(items, tax):\n",
    additions=1,
    deletions=1,
)
CHANGED = {2, 3, 4, 23}


@pytest.fixture
def server() -> Iterator[FakeLlmServer]:
    with FakeLlmServer() as srv:
        yield srv


def settings_for(server: FakeLlmServer, **overrides: Any) -> LlmSettings:
    values: dict[str, Any] = {
        "base_url": server.base_url,
        "api_key": API_KEY,
        "model": "review-model",
        "timeout_seconds": 5.0,
        "max_retries": 3,
    }
    values.update(overrides)
    return LlmSettings(**values)


def reviewer_for(
    server: FakeLlmServer, model: ModelConfig | None = None, **overrides: Any
) -> LlmReviewer:
    return LlmReviewer(
        settings_for(server, **overrides), model, backoff_base=BACKOFF_BASE, backoff_max=BACKOFF_MAX
    )


def suggestion(**fields: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "start_line": 3,
        "end_line": 3,
        "category": "bug",
        "severity": "high",
        "message": "item.price fails for plain numbers",
    }
    item.update(fields)
    return item


# -- settings -------------------------------------------------------------------------------


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWFLOW_LLM_BASE_URL", "http://llm.internal/v1")
    monkeypatch.setenv("REVIEWFLOW_LLM_API_KEY", API_KEY)
    monkeypatch.setenv("REVIEWFLOW_LLM_MODEL", "qwen-coder")
    monkeypatch.setenv("REVIEWFLOW_LLM_TIMEOUT_SECONDS", "12.5")
    settings = LlmSettings()
    assert settings.configured
    assert settings.base_url == "http://llm.internal/v1"
    assert settings.model == "qwen-coder"
    assert settings.timeout_seconds == 12.5
    assert settings.max_retries == 4
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == API_KEY
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert API_KEY not in text


def test_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BASE_URL", "API_KEY", "MODEL", "TIMEOUT_SECONDS", "MAX_RETRIES"):
        monkeypatch.delenv(f"REVIEWFLOW_LLM_{name}", raising=False)
    settings = LlmSettings()
    assert (settings.timeout_seconds, settings.max_retries) == (60.0, 4)
    assert not settings.configured


@pytest.mark.parametrize("missing", ["base_url", "api_key", "model"])
@pytest.mark.parametrize("value", [None, "", "   "])
def test_configured_needs_all_three(
    monkeypatch: pytest.MonkeyPatch, missing: str, value: str | None
) -> None:
    for name in ("BASE_URL", "API_KEY", "MODEL"):
        monkeypatch.delenv(f"REVIEWFLOW_LLM_{name}", raising=False)
    values: dict[str, Any] = {"base_url": "http://x/v1", "api_key": API_KEY, "model": "m"}
    assert LlmSettings(**values).configured
    values[missing] = value
    settings = LlmSettings(**values)
    assert not settings.configured
    with pytest.raises(LlmError, match="not configured"):
        LlmReviewer(settings)


# -- happy paths ----------------------------------------------------------------------------


async def test_review_file(server: FakeLlmServer) -> None:
    rules = [
        Rule(
            name="no-print",
            paths=("src/**",),
            instruction="No print().",
            severity=Severity.CRITICAL,
        ),
        Rule(name="docs-only", paths=("docs/**",), instruction="Docs rule."),
        Rule(name="pr-wide", scope="pr", instruction="PR rule."),
    ]
    server.queue_reply(
        {
            "suggestions": [
                suggestion(replacement="    for item in items: result += item"),
                suggestion(
                    start_line=23,
                    end_line=None,
                    category="Maintainability",
                    severity="low",
                    message="debug print left in",
                    rule="No-Print",
                ),
                suggestion(start_line=4, end_line=2, rule="invented-rule", replacement="  "),
                suggestion(category="nitpick"),
                suggestion(severity="blocker"),
                suggestion(start_line=0),
                suggestion(message="   "),
                "not an object",
            ]
        }
    )
    model = ModelConfig(name=None, temperature=0.2, max_output_tokens=900)
    async with reviewer_for(server, model) as reviewer:
        result = await reviewer.review_file(
            FILE, CHANGED, "Team guideline: money is Decimal.", rules, [Category.BUG]
        )

    assert result == [
        Suggestion(
            path=FILE.path,
            start_line=3,
            end_line=3,
            category=Category.BUG,
            severity=Severity.HIGH,
            message="item.price fails for plain numbers",
            replacement="    for item in items: result += item",
            source="llm",
        ),
        Suggestion(
            path=FILE.path,
            start_line=23,
            end_line=23,
            category=Category.MAINTAINABILITY,
            severity=Severity.CRITICAL,  # the rule's severity wins
            message="debug print left in",
            rule="no-print",
            source="llm",
        ),
        Suggestion(
            path=FILE.path,
            start_line=2,
            end_line=4,
            category=Category.BUG,
            severity=Severity.HIGH,
            message="item.price fails for plain numbers",
            source="llm",
        ),
    ]
    assert reviewer.dropped_items == 5
    assert reviewer.drop_reasons["category: enum"] == 1
    assert reviewer.drop_reasons["severity: enum"] == 1

    (request,) = server.requests
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.body["model"] == "review-model"
    assert request.body["response_format"] == {"type": "json_object"}
    assert request.body["temperature"] == 0.2
    assert request.body["max_tokens"] == 900
    system, user = (m["content"] for m in request.messages)
    assert '["bug"]' in system and '"critical"' in system
    assert "Changed lines (new side): 2-4, 23" in user
    assert "     3 +     for item in items: result += item.price" in user
    assert "Team guideline: money is Decimal." in user
    assert "no-print" in user
    assert "docs-only" not in user and "pr-wide" not in user
    assert reviewer.truncations == ()


async def test_review_file_model_name_from_repository_config(server: FakeLlmServer) -> None:
    server.queue_reply({"suggestions": []})
    async with reviewer_for(server, ModelConfig(name="repo-model")) as reviewer:
        assert await reviewer.review_file(FILE, CHANGED, "", [], list(Category)) == []
    assert server.requests[0].body["model"] == "repo-model"


async def test_review_file_accepts_fenced_json(server: FakeLlmServer) -> None:
    server.queue_reply("```json\n" + json.dumps({"suggestions": [suggestion()]}) + "\n```")
    async with reviewer_for(server) as reviewer:
        result = await reviewer.review_file(FILE, CHANGED, "", [], [Category.BUG])
    assert [s.start_line for s in result] == [3]
    assert len(server.requests) == 1


async def test_binary_file_makes_no_call(server: FakeLlmServer) -> None:
    binary = ChangedFile(path="logo.png", status=FileStatus.ADDED, binary=True)
    async with reviewer_for(server) as reviewer:
        assert await reviewer.review_file(binary, set(), "", [], [Category.BUG]) == []
    assert server.requests == []


async def test_review_pr(server: FakeLlmServer) -> None:
    rules = [
        Rule(name="changelog", scope="pr", instruction="Update CHANGELOG.", severity=Severity.LOW),
        Rule(name="web-only", scope="pr", paths=("web/**",), instruction="Web rule."),
        Rule(name="file-rule", instruction="File rule."),
    ]
    server.queue_reply(
        {
            "findings": [
                {
                    "category": "breaking_change",
                    "severity": "high",
                    "title": "total() signature changed",
                    "message": "api.py passes tax, cart.py does not accept it",
                    "paths": [OTHER.path, FILE.path, "not/changed.py", OTHER.path],
                },
                {
                    "category": "docs",
                    "severity": "medium",
                    "title": "No changelog entry",
                    "message": "The change is user-visible.",
                    "rule": "changelog",
                },
                {"category": "bug", "severity": "high", "title": "", "message": "x"},
                {"category": "vibes", "severity": "high", "title": "t", "message": "m"},
            ]
        }
    )
    async with reviewer_for(server) as reviewer:
        findings = await reviewer.review_pr(
            [FILE, OTHER], "Add tax", "Adds tax to totals.", "Guidelines here.", rules
        )
    assert [(f.category, f.severity, f.title, f.paths, f.rule, f.source) for f in findings] == [
        (
            Category.BREAKING_CHANGE,
            Severity.HIGH,
            "total() signature changed",
            (OTHER.path, FILE.path),
            "",
            "llm",
        ),
        (Category.DOCS, Severity.LOW, "No changelog entry", (), "changelog", "llm"),
    ]
    assert reviewer.dropped_items == 2
    user = server.requests[0].messages[1]["content"]
    assert "Title: Add tax" in user and "Adds tax to totals." in user
    assert f'<diff path="{OTHER.path}"' in user and f'<diff path="{FILE.path}"' in user
    assert "changelog" in user and "web-only" not in user and "file-rule" not in user
    assert "Guidelines here." in user


def _suggestions() -> list[Suggestion]:
    return [
        Suggestion(
            path=FILE.path,
            start_line=n,
            end_line=n,
            category=Category.BUG,
            severity=Severity.MEDIUM,
            message=f"finding {n}",
            source="llm",
        )
        for n in (2, 3, 23)
    ]


async def test_self_check(server: FakeLlmServer) -> None:
    server.queue_reply(
        {
            "verdicts": [
                {"index": 2, "keep": False, "reason": "cosmetic"},
                {"index": 0, "keep": True, "reason": "real bug"},
                {"index": 1, "keep": False, "reason": "wrong"},
                {"index": 1, "keep": True, "reason": "duplicate verdict, ignored"},
                {"index": 7, "keep": True},
            ]
        }
    )
    async with reviewer_for(server) as reviewer:
        assert await reviewer.self_check(FILE, _suggestions()) == [True, False, False]
        assert await reviewer.self_check(FILE, []) == []
    (request,) = server.requests
    user = request.messages[1]["content"]
    assert "finding 23" in user and '"index": 2' in user


async def test_self_check_incomplete_reply_is_retried(server: FakeLlmServer) -> None:
    server.queue_reply({"verdicts": [{"index": 0, "keep": True}]})
    server.queue_reply(
        {
            "verdicts": [
                {"index": 0, "keep": True, "reason": "ok"},
                {"index": 1, "keep": True, "reason": "ok"},
                {"index": 2, "keep": False, "reason": "speculative"},
            ]
        }
    )
    async with reviewer_for(server) as reviewer:
        verdicts = await reviewer.self_check_verdicts(FILE, _suggestions())
    assert [(v.keep, v.reason) for v in verdicts] == [
        (True, "ok"),
        (True, "ok"),
        (False, "speculative"),
    ]
    assert len(server.requests) == 2
    assert reviewer.retries == 1


async def test_summarize(server: FakeLlmServer) -> None:
    server.queue_reply({"summary": "  Adds tax to cart totals.\n\n- cart.py: new loop  "})
    async with reviewer_for(server) as reviewer:
        summary = await reviewer.summarize(
            "Add tax", "", [FILE, OTHER], "1 high: bug in cart.py", "Write in French."
        )
    assert summary == "Adds tax to cart totals.\n\n- cart.py: new loop"
    user = server.requests[0].messages[1]["content"]
    assert "1 high: bug in cart.py" in user
    assert "Write in French." in user
    assert "(no description)" in user


# -- retries --------------------------------------------------------------------------------


async def test_retry_after_429_honours_retry_after(server: FakeLlmServer) -> None:
    server.queue_failure(Failure.http(429, retry_after="0.4"))
    server.queue_reply({"suggestions": [suggestion()]})
    async with reviewer_for(server) as reviewer:
        result = await reviewer.review_file(FILE, CHANGED, "", [], [Category.BUG])
    assert len(result) == 1
    first, second = server.requests
    assert first.status == 429 and second.status == 200
    # the jittered backoff alone would wait at most 0.01 s
    assert second.received_at - first.received_at >= 0.38
    assert reviewer.retries == 1


async def test_retry_after_500_with_backoff(server: FakeLlmServer) -> None:
    server.queue_failure(Failure.http(500))
    server.queue_failure(Failure.http(502))
    server.queue_reply({"summary": "fine"})
    async with reviewer_for(server) as reviewer:
        assert await reviewer.summarize("t", "b", [FILE], "", "") == "fine"
    assert [r.status for r in server.requests] == [500, 502, 200]
    assert reviewer.retries == 2


async def test_malformed_json_then_success(server: FakeLlmServer) -> None:
    server.queue_reply("this is not JSON {")
    server.queue_reply({"wrong_key": []})
    server.queue_reply({"suggestions": [suggestion()]})
    async with reviewer_for(server) as reviewer:
        result = await reviewer.review_file(FILE, CHANGED, "", [], [Category.BUG])
        usage = reviewer.usage
    assert len(result) == 1
    assert len(server.requests) == 3
    # the two bad replies were billed too
    assert usage.requests == 3
    assert usage.prompt_tokens == sum(r.usage["prompt_tokens"] for r in server.requests if r.usage)


async def test_malformed_body_then_success(server: FakeLlmServer) -> None:
    server.queue_failure(Failure.malformed_body())
    server.queue_reply({"summary": "ok"})
    async with reviewer_for(server) as reviewer:
        assert await reviewer.summarize("t", "", [FILE], "", "") == "ok"
    assert len(server.requests) == 2


async def test_gives_up_after_max_retries(server: FakeLlmServer) -> None:
    for _ in range(4):
        server.queue_failure(Failure.http(503))
    server.queue_reply({"summary": "never reached"})
    async with reviewer_for(server, max_retries=3) as reviewer:
        with pytest.raises(LlmError) as caught:
            await reviewer.summarize("t", "", [FILE], "", "")
    assert len(server.requests) == 4
    assert caught.value.attempts == 4
    assert caught.value.retryable
    assert "after 4 attempts" in str(caught.value)
    assert "HTTP 503" in str(caught.value) and "HTTP 503" in caught.value.last_failure
    assert server.pending_replies == 1


async def test_gives_up_on_invalid_replies(server: FakeLlmServer) -> None:
    for _ in range(2):
        server.queue_reply('{"suggestions": "nope"}')
    async with reviewer_for(server, max_retries=1) as reviewer:
        with pytest.raises(LlmError, match=r"invalid JSON reply: suggestions: list_type"):
            await reviewer.review_file(FILE, CHANGED, "", [], [Category.BUG])
    assert len(server.requests) == 2


async def test_client_errors_are_not_retried(server: FakeLlmServer) -> None:
    server.queue_failure(Failure.http(401))
    server.queue_reply({"summary": "never reached"})
    async with reviewer_for(server) as reviewer:
        with pytest.raises(LlmError, match="HTTP 401") as caught:
            await reviewer.summarize("t", "", [FILE], "", "")
    assert not caught.value.retryable
    assert caught.value.attempts == 1
    assert len(server.requests) == 1


async def test_timeout_is_retried(server: FakeLlmServer) -> None:
    server.queue_failure(Failure.hang(3.0))
    server.queue_reply({"summary": "after the hang"})
    started = time.monotonic()
    async with reviewer_for(server, timeout_seconds=0.25) as reviewer:
        assert await reviewer.summarize("t", "", [FILE], "", "") == "after the hang"
    assert time.monotonic() - started < 2.0
    assert len(server.requests) == 2
    # the server saw the client give up (its handler notices within a few polls)
    deadline = time.monotonic() + 2.0
    while server.requests[0].status is None and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert server.requests[0].status == 499


async def test_timeouts_exhaust_retries(server: FakeLlmServer) -> None:
    for _ in range(2):
        server.queue_failure(Failure.hang(3.0))
    async with reviewer_for(server, timeout_seconds=0.2, max_retries=1) as reviewer:
        with pytest.raises(LlmError, match=r"timed out after 0\.2s"):
            await reviewer.summarize("t", "", [FILE], "", "")
    assert len(server.requests) == 2


async def test_connection_error_is_retried_then_reported() -> None:
    with FakeLlmServer() as gone:
        url = gone.base_url  # nothing listens there once the server has stopped
    settings = LlmSettings(base_url=url, api_key=API_KEY, model="m", max_retries=2)
    async with LlmReviewer(
        settings, backoff_base=BACKOFF_BASE, backoff_max=BACKOFF_MAX
    ) as reviewer:
        with pytest.raises(LlmError, match="connection error") as caught:
            await reviewer.summarize("t", "", [FILE], "", "")
    assert caught.value.attempts == 3
    assert reviewer.retries == 2


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers) == expected


def test_parse_retry_after_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=7), usegmt=True)
    assert parse_retry_after({"retry-after": header}, now=now) == 7.0
    past = format_datetime(now - timedelta(seconds=7), usegmt=True)
    assert parse_retry_after({"retry-after": past}, now=now) == 0.0


# -- concurrency, accounting, budget ---------------------------------------------------------


async def test_concurrency_bound_is_respected() -> None:
    def respond(request: dict[str, Any]) -> str:
        return json.dumps({"suggestions": [suggestion()]})

    with FakeLlmServer(responder=respond, latency=0.15) as server:
        async with reviewer_for(server, ModelConfig(max_concurrency=2)) as reviewer:
            files = [FILE.model_copy(update={"path": f"src/f{n}.py"}) for n in range(6)]
            results = await asyncio.gather(
                *(reviewer.review_file(f, CHANGED, "", [], [Category.BUG]) for f in files)
            )
        assert [r[0].path for r in results] == [f.path for f in files]
        assert len(server.requests) == 6
        assert server.max_in_flight == 2


async def test_token_usage_is_accumulated(server: FakeLlmServer) -> None:
    server.queue_reply({"suggestions": [suggestion()]})
    server.queue_reply({"findings": []})
    server.queue_reply({"summary": "s"})
    async with reviewer_for(server) as reviewer:
        assert reviewer.usage.total_tokens == 0
        await reviewer.review_file(FILE, CHANGED, "", [], [Category.BUG])
        await reviewer.review_pr([FILE], "t", "", "", [])
        await reviewer.summarize("t", "", [FILE], "", "")
        usage = reviewer.usage
    reported = [r.usage for r in server.requests if r.usage]
    assert len(reported) == 3
    assert usage.prompt_tokens == sum(u["prompt_tokens"] for u in reported)
    assert usage.completion_tokens == sum(u["completion_tokens"] for u in reported)
    assert usage.total_tokens == sum(u["total_tokens"] for u in reported) > 0
    assert reviewer.total_tokens == usage.total_tokens
    assert usage.requests == 3


async def test_long_file_is_truncated_to_budget_diff_first(server: FakeLlmServer) -> None:
    lines = [f"value_{n} = compute({n})  # some long-ish line of code" for n in range(1, 3001)]
    hunks = []
    for start in (100, 1500, 2900):
        hunks.append(
            f"@@ -{start},2 +{start},2 @@\n-old_{start} = 0\n+{lines[start - 1]}\n {lines[start]}"
        )
    big = ChangedFile(
        path="src/big.py",
        status=FileStatus.MODIFIED,
        patch="\n".join(hunks) + "\n",
        content="\n".join(lines),
    )
    server.queue_reply({"suggestions": []})
    guidelines = "GUIDELINE " * 5000
    async with reviewer_for(server, ModelConfig(file_token_budget=500)) as reviewer:
        await reviewer.review_file(big, {100, 1500, 2900}, guidelines, [], [Category.BUG])
    (truncation,) = reviewer.truncations
    assert truncation.path == "src/big.py"
    assert truncation.budget_tokens == 500
    assert truncation.kept_tokens <= 500 < truncation.original_tokens
    assert "file content outside the changed regions" in truncation.dropped
    assert "external context" in truncation.dropped
    user = server.requests[0].messages[1]["content"]
    # every hunk made it, annotated with its new-side line numbers
    for start in (100, 1500, 2900):
        assert f"{start:>6} + {lines[start - 1]}" in user
    # the file material stays within the budget (the fixed framing comes on top)
    assert len(user) <= 500 * 4 + 600
    assert "left out to fit the review budget" in user


async def test_diff_alone_over_budget_keeps_leading_hunks(server: FakeLlmServer) -> None:
    hunks = [
        f"@@ -{n * 100},1 +{n * 100},1 @@\n-a\n+" + f"changed_line_{n} " * 40 for n in range(1, 21)
    ]
    big = ChangedFile(path="src/wide.py", status=FileStatus.MODIFIED, patch="\n".join(hunks))
    server.queue_reply({"suggestions": []})
    async with reviewer_for(server, ModelConfig(file_token_budget=500)) as reviewer:
        await reviewer.review_file(big, {n * 100 for n in range(1, 21)}, "", [], [Category.BUG])
    (truncation,) = reviewer.truncations
    user = server.requests[0].messages[1]["content"]
    assert "changed_line_1 " in user
    assert "changed_line_20 " not in user
    kept = sum(1 for n in range(1, 21) if f"changed_line_{n} " in user)
    assert truncation.dropped == (f"diff: {20 - kept} of 20 hunks",)


# -- the key never leaks ---------------------------------------------------------------------


async def test_api_key_reaches_server_but_never_logs_or_errors(
    server: FakeLlmServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # an upstream proxy that echoes the credentials in its error body
    echo = json.dumps({"error": {"message": f"upstream said: bad key Bearer {API_KEY}"}})
    server.queue_failure(Failure.http(429, retry_after="0"))
    server.queue_reply({"suggestions": [suggestion()]})
    settings = settings_for(server, max_retries=2)
    async with LlmReviewer(
        settings, backoff_base=BACKOFF_BASE, backoff_max=BACKOFF_MAX
    ) as reviewer:
        assert len(await reviewer.review_file(FILE, CHANGED, "", [], [Category.BUG])) == 1
        for _ in range(3):
            server.queue_failure(Failure.http(500, body=echo))
        with pytest.raises(LlmError) as caught:
            await reviewer.summarize("t", "", [FILE], "", "")
        described = repr(reviewer)

    assert [r.status for r in server.requests] == [429, 200, 500, 500, 500]
    assert all(r.headers["authorization"] == f"Bearer {API_KEY}" for r in server.requests)
    assert "upstream said" in caught.value.last_failure  # the body was reported...
    assert API_KEY not in str(caught.value)  # ...with the key scrubbed
    assert API_KEY not in caught.value.last_failure
    assert "[redacted]" in str(caught.value)
    assert API_KEY not in described and API_KEY not in repr(settings)
    assert caplog.records, "logging was not captured"
    assert any(r.name.startswith("openai") for r in caplog.records)
    for record in caplog.records:
        assert API_KEY not in record.getMessage(), record.name
