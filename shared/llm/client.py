"""The LLM reviewer: per-file review, PR-level review, self-check and summary over any
OpenAI-compatible chat completions endpoint.

Retries are ours, not the SDK's (``max_retries=0`` on the client): exponential backoff with
jitter on HTTP 408/409/429/5xx, timeouts, connection errors and replies that are not the JSON
asked for; ``Retry-After`` / ``retry-after-ms`` wins when the server sends it. Other HTTP errors
(400, 401, 403, 404, 422...) fail at once. Every request holds a slot of a semaphore sized by
``ModelConfig.max_concurrency``; the backoff sleeps do not. Token usage of every reply (failed
ones too: they were billed) is added up in :attr:`LlmReviewer.usage`.

The API key goes to the HTTP client and nowhere else: it is never logged, never part of an
error message (server error bodies are scrubbed of it) and never in ``repr``.
"""

import asyncio
import email.utils
import json
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Self, TypeVar

import openai
from openai.types.chat import ChatCompletionMessageParam
from openai.types.completion_usage import CompletionUsage
from pydantic import BaseModel, ValidationError

from shared.config import ModelConfig, Rule, path_matches
from shared.llm.prompts import (
    FileReviewReply,
    PrFindingItem,
    PrReviewReply,
    SelfCheckItem,
    SelfCheckReply,
    SuggestionItem,
    SummaryReply,
    Truncation,
    build_file_review_prompt,
    build_pr_review_prompt,
    build_self_check_prompt,
    build_summary_prompt,
    file_review_system,
    pr_review_system,
    self_check_system,
    strip_code_fence,
    summary_system,
)
from shared.llm.settings import LlmSettings
from shared.models import Category, ChangedFile, PrFinding, Suggestion
from shared.redact import redact

log = logging.getLogger(__name__)

ReplyT = TypeVar("ReplyT", bound=BaseModel)

# PR-level calls (PR review, summary) see every file: their budget is this many file budgets
# unless the constructor is given one.
PR_BUDGET_FILES = 4

_RETRYABLE_STATUS = frozenset({408, 409, 429})


class LlmError(RuntimeError):
    """A call to the LLM that did not produce a usable reply.

    ``last_failure`` names what went wrong on the last attempt; ``attempts`` is how many
    requests were made; ``retryable`` is False when the failure was not worth retrying (for
    instance HTTP 401)."""

    def __init__(self, message: str, *, attempts: int, last_failure: str, retryable: bool) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.last_failure = last_failure
        self.retryable = retryable


@dataclass(frozen=True)
class TokenUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # replies that reported usage (successful or not)
    requests: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class SelfCheckVerdict:
    keep: bool
    reason: str = ""


@dataclass(frozen=True)
class _Failure:
    description: str
    retryable: bool
    retry_after: float | None = None


def parse_retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(float(millis) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def _validation_problem(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(part) for part in err["loc"]) or "(root)"
    return f"{loc}: {err['type']}"


class LlmReviewer:
    """Review calls against one OpenAI-compatible endpoint.

    ``backoff_base`` is the first retry's nominal delay in seconds (doubling each retry, capped
    at ``backoff_max``, with jitter between half and the full value); ``max_retry_after`` caps
    how long a server's ``Retry-After`` may make us wait. ``pr_token_budget`` bounds the diff
    material of PR-level calls (default: ``PR_BUDGET_FILES`` x ``file_token_budget``).
    """

    def __init__(
        self,
        settings: LlmSettings,
        model: ModelConfig | None = None,
        *,
        backoff_base: float = 1.0,
        backoff_max: float = 30.0,
        max_retry_after: float = 120.0,
        pr_token_budget: int | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if not settings.configured or settings.api_key is None or settings.base_url is None:
            raise LlmError(
                "LLM is not configured: set REVIEWFLOW_LLM_BASE_URL, REVIEWFLOW_LLM_API_KEY "
                "and REVIEWFLOW_LLM_MODEL",
                attempts=0,
                last_failure="not configured",
                retryable=False,
            )
        self._config = model or ModelConfig()
        self._model_name = self._config.name or settings.model or ""
        self._base_url = settings.base_url
        self._timeout = settings.timeout_seconds
        self._max_retries = settings.max_retries
        self._secret = settings.api_key.get_secret_value()
        self._client = openai.AsyncOpenAI(
            base_url=settings.base_url,
            api_key=self._secret,
            max_retries=0,
            timeout=settings.timeout_seconds,
        )
        self._semaphore = asyncio.Semaphore(self._config.max_concurrency)
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._max_retry_after = max_retry_after
        self._pr_budget = pr_token_budget or PR_BUDGET_FILES * self._config.file_token_budget
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._prompt_tokens = 0
        self._completion_tokens = 0
        self._usage_replies = 0
        self._retries = 0
        self._drops: Counter[str] = Counter()
        self._truncations: list[Truncation] = []

    def __repr__(self) -> str:
        return f"LlmReviewer(model={self._model_name!r}, base_url={self._base_url!r})"

    # -- lifecycle -----------------------------------------------------------------------------

    async def aclose(self) -> None:
        await self._client.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- what happened so far ------------------------------------------------------------------

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def usage(self) -> TokenUsage:
        return TokenUsage(self._prompt_tokens, self._completion_tokens, self._usage_replies)

    @property
    def total_tokens(self) -> int:
        return self._prompt_tokens + self._completion_tokens

    @property
    def retries(self) -> int:
        """Requests repeated after a retryable failure."""
        return self._retries

    @property
    def dropped_items(self) -> int:
        """Items of otherwise valid replies that were dropped (unknown category, bad lines...)."""
        return sum(self._drops.values())

    @property
    def drop_reasons(self) -> dict[str, int]:
        return dict(self._drops)

    @property
    def truncations(self) -> tuple[Truncation, ...]:
        """Prompts that were cut to fit the token budget, with what was left out."""
        return tuple(self._truncations)

    # -- review calls --------------------------------------------------------------------------

    async def review_file(
        self,
        file: ChangedFile,
        changed_lines: set[int],
        context: str,
        rules: Sequence[Rule],
        categories: Iterable[Category],
    ) -> list[Suggestion]:
        """Line-anchored suggestions for one file (``source="llm"``).

        Only ``scope: file`` rules whose globs match the file are sent. Lines are not checked
        against ``changed_lines`` here (the pipeline does that); items with an unknown category
        or severity, bad line numbers or an empty message are dropped and counted."""
        if file.binary or not (file.patch or file.content):
            return []
        file_rules = [
            r
            for r in rules
            if r.scope == "file" and any(path_matches(file.path, g) for g in r.paths)
        ]
        prompt = build_file_review_prompt(
            file, changed_lines, context, file_rules, self._config.file_token_budget
        )
        self._note_truncation(prompt.truncation)
        reply = await self._complete(
            f"review of {file.path}",
            file_review_system(tuple(categories)),
            prompt.text,
            FileReviewReply,
        )
        rules_by_name = {r.name.strip().lower(): r for r in file_rules}
        suggestions: list[Suggestion] = []
        for raw in reply.suggestions:
            try:
                item = SuggestionItem.model_validate(raw)
            except ValidationError as exc:
                self._drop(file.path, "suggestion", _validation_problem(exc))
                continue
            start = item.start_line
            end = item.end_line if item.end_line is not None else start
            start, end = min(start, end), max(start, end)
            rule = rules_by_name.get((item.rule or "").strip().lower())
            replacement = (
                item.replacement if item.replacement and item.replacement.strip() else None
            )
            suggestions.append(
                Suggestion(
                    path=file.path,
                    start_line=start,
                    end_line=end,
                    category=item.category,
                    severity=rule.severity if rule else item.severity,
                    message=item.message,
                    replacement=replacement,
                    rule=rule.name if rule else "",
                    source="llm",
                )
            )
        return suggestions

    async def review_pr(
        self,
        files: Sequence[ChangedFile],
        title: str,
        body: str,
        context: str,
        rules: Sequence[Rule],
    ) -> list[PrFinding]:
        """PR-level findings. Only ``scope: pr`` rules matching at least one changed file are
        sent; finding paths that are not changed files are removed from the finding."""
        paths = {f.path for f in files}
        pr_rules = [
            r
            for r in rules
            if r.scope == "pr" and any(path_matches(p, g) for p in paths for g in r.paths)
        ]
        prompt = build_pr_review_prompt(files, title, body, context, pr_rules, self._pr_budget)
        self._note_truncation(prompt.truncation)
        reply = await self._complete("PR review", pr_review_system(), prompt.text, PrReviewReply)
        rules_by_name = {r.name.strip().lower(): r for r in pr_rules}
        findings: list[PrFinding] = []
        for raw in reply.findings:
            try:
                item = PrFindingItem.model_validate(raw)
            except ValidationError as exc:
                self._drop("(pull request)", "finding", _validation_problem(exc))
                continue
            rule = rules_by_name.get((item.rule or "").strip().lower())
            findings.append(
                PrFinding(
                    category=item.category,
                    severity=rule.severity if rule else item.severity,
                    title=item.title,
                    message=item.message,
                    paths=tuple(dict.fromkeys(p for p in item.paths if p in paths)),
                    rule=rule.name if rule else "",
                    source="llm",
                )
            )
        return findings

    async def self_check_verdicts(
        self, file: ChangedFile, suggestions: Sequence[Suggestion]
    ) -> list[SelfCheckVerdict]:
        """Keep/discard verdict with a reason for each suggestion, in order.

        A reply that leaves out a verdict for any suggestion is invalid and retried."""
        if not suggestions:
            return []
        count = len(suggestions)
        prompt = build_self_check_prompt(file, suggestions, self._config.file_token_budget)
        self._note_truncation(prompt.truncation)

        def first_per_index(reply: SelfCheckReply) -> dict[int, SelfCheckItem]:
            by_index: dict[int, SelfCheckItem] = {}
            for verdict in reply.verdicts:
                if verdict.index < count:
                    by_index.setdefault(verdict.index, verdict)
            return by_index

        def missing(reply: SelfCheckReply) -> str | None:
            absent = sorted(set(range(count)) - first_per_index(reply).keys())
            return f"no verdict for suggestion(s) {absent}" if absent else None

        reply = await self._complete(
            f"self-check of {file.path}", self_check_system(), prompt.text, SelfCheckReply, missing
        )
        by_index = first_per_index(reply)
        return [
            SelfCheckVerdict(by_index[i].keep, by_index[i].reason.strip()) for i in range(count)
        ]

    async def self_check(self, file: ChangedFile, suggestions: Sequence[Suggestion]) -> list[bool]:
        """Keep (True) or discard (False) for each suggestion, in order."""
        return [v.keep for v in await self.self_check_verdicts(file, suggestions)]

    async def summarize(
        self,
        title: str,
        body: str,
        files: Sequence[ChangedFile],
        findings_text: str,
        custom_instructions: str,
    ) -> str:
        """Markdown summary of the pull request."""
        prompt = build_summary_prompt(
            title, body, files, findings_text, custom_instructions, self._pr_budget
        )
        self._note_truncation(prompt.truncation)
        reply = await self._complete("summary", summary_system(), prompt.text, SummaryReply)
        return reply.summary

    # -- plumbing ------------------------------------------------------------------------------

    def _redact(self, text: str, limit: int | None = None) -> str:
        """``text`` without the API key or anything credential-shaped (redacted, then cut)."""
        return redact(text, [self._secret], limit=limit)

    def _drop(self, where: str, kind: str, reason: str) -> None:
        self._drops[reason] += 1
        log.info("LLM reply for %s: dropped a %s (%s)", where, kind, reason)

    def _note_truncation(self, truncation: Truncation | None) -> None:
        if truncation is None:
            return
        self._truncations.append(truncation)
        log.info(
            "LLM prompt for %s cut to the budget of %d tokens (about %d of %d kept); left out: %s",
            truncation.path,
            truncation.budget_tokens,
            truncation.kept_tokens,
            truncation.original_tokens,
            "; ".join(truncation.dropped),
        )

    def _account(self, usage: CompletionUsage | None) -> None:
        if usage is None:
            return
        prompt: object = getattr(usage, "prompt_tokens", None)
        completion: object = getattr(usage, "completion_tokens", None)
        if not isinstance(prompt, int) or not isinstance(completion, int):
            log.debug("LLM reply without usable token counts")
            return
        self._prompt_tokens += prompt
        self._completion_tokens += completion
        self._usage_replies += 1

    def _delay(self, retry_number: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self._max_retry_after)
        nominal = min(self._backoff_max, self._backoff_base * 2.0 ** (retry_number - 1))
        return nominal / 2 + self._rng.uniform(0.0, nominal / 2)

    async def _complete(
        self,
        purpose: str,
        system: str,
        user: str,
        reply_type: type[ReplyT],
        check: Callable[[ReplyT], str | None] | None = None,
    ) -> ReplyT:
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ]
        attempts = self._max_retries + 1
        failure: _Failure | None = None
        for attempt in range(1, attempts + 1):
            if failure is not None:
                delay = self._delay(attempt - 1, failure.retry_after)
                log.warning(
                    "LLM %s: attempt %d of %d failed (%s); retrying in %.2fs",
                    purpose,
                    attempt - 1,
                    attempts,
                    failure.description,
                    delay,
                )
                self._retries += 1
                await asyncio.sleep(delay)
            outcome = await self._attempt(messages, reply_type, check)
            if not isinstance(outcome, _Failure):
                return outcome
            failure = outcome
            if not failure.retryable:
                log.warning("LLM %s failed (not retryable): %s", purpose, failure.description)
                raise LlmError(
                    f"LLM {purpose} failed: {failure.description}",
                    attempts=attempt,
                    last_failure=failure.description,
                    retryable=False,
                )
        assert failure is not None
        log.warning(
            "LLM %s: giving up after %d attempts: %s", purpose, attempts, failure.description
        )
        raise LlmError(
            f"LLM {purpose} failed after {attempts} attempts; last failure: {failure.description}",
            attempts=attempts,
            last_failure=failure.description,
            retryable=True,
        )

    async def _attempt(
        self,
        messages: list[ChatCompletionMessageParam],
        reply_type: type[ReplyT],
        check: Callable[[ReplyT], str | None] | None,
    ) -> ReplyT | _Failure:
        started = time.monotonic()
        try:
            async with self._semaphore:
                completion = await self._client.chat.completions.create(
                    model=self._model_name,
                    messages=messages,
                    temperature=self._config.temperature,
                    max_tokens=self._config.max_output_tokens,
                    response_format={"type": "json_object"},
                )
        except openai.APITimeoutError:
            return _Failure(f"request timed out after {self._timeout:g}s", retryable=True)
        except openai.APIConnectionError as exc:
            cause = exc.__cause__
            detail = f": {type(cause).__name__}" if cause is not None else ""
            return _Failure(self._redact(f"connection error{detail}"), retryable=True)
        except openai.APIStatusError as exc:
            status = exc.status_code
            return _Failure(
                self._redact(f"HTTP {status}: {exc.message}", limit=300),
                retryable=status in _RETRYABLE_STATUS or status >= 500,
                retry_after=parse_retry_after(exc.response.headers),
            )
        except openai.APIResponseValidationError as exc:
            return _Failure(
                f"malformed response body (HTTP {exc.status_code}, not a chat completion)",
                retryable=True,
            )
        except openai.APIError as exc:
            return _Failure(self._redact(f"API error: {exc.message}", limit=300), retryable=True)
        except json.JSONDecodeError:
            return _Failure("malformed response body (not JSON)", retryable=True)
        log.debug("LLM request answered in %.2fs", time.monotonic() - started)

        # The SDK does not validate replies strictly (OpenAI-compatible servers differ in the
        # optional fields), so the parts used here are checked by hand.
        self._account(completion.usage)
        choices: object = completion.choices
        if not isinstance(choices, list) or not choices:
            return _Failure("malformed response body (no choices)", retryable=True)
        message = getattr(choices[0], "message", None)
        finish_reason = getattr(choices[0], "finish_reason", None)
        content = getattr(message, "content", None)
        if not isinstance(content, str) or not content.strip():
            refusal = getattr(message, "refusal", None)
            what = f"model refused: {refusal[:200]}" if isinstance(refusal, str) else "empty reply"
            return _Failure(self._redact(f"{what} (finish_reason={finish_reason})"), retryable=True)
        try:
            reply = reply_type.model_validate_json(strip_code_fence(content))
        except ValidationError as exc:
            cut = " (finish_reason=length: reply cut short)" if finish_reason == "length" else ""
            return _Failure(f"invalid JSON reply: {_validation_problem(exc)}{cut}", retryable=True)
        problem = check(reply) if check is not None else None
        if problem:
            return _Failure(f"invalid JSON reply: {problem}", retryable=True)
        return reply
