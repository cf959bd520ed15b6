"""An OpenAI-compatible chat completions server for tests (a test double of the LLM endpoint).

``with FakeLlmServer() as server:`` serves ``POST /v1/chat/completions`` on 127.0.0.1 at an
ephemeral port from a background thread; ``server.base_url`` is what a client is pointed at.

What it answers, per request, in this order:

1. the next queued :class:`Failure`, if any (HTTP error with optional ``Retry-After``, a 200
   whose body is not a chat completion, or a hang before answering);
2. the next queued reply (the assistant message *content*, usually a JSON string);
3. the ``responder`` callable given the request JSON, if any;
4. otherwise HTTP 500 "no reply scripted".

Every request is recorded (headers, JSON body, arrival time, usage returned) and the server
measures the maximum number of requests in flight at once. ``latency`` delays every answer.
"""

import asyncio
import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.support.loopback import LoopbackServer

Responder = Callable[[dict[str, Any]], str]


@dataclass(frozen=True)
class Failure:
    """One scripted failure. Build with :meth:`http`, :meth:`malformed_body` or :meth:`hang`."""

    status: int = 500
    retry_after: str | None = None
    body: str | None = None
    malformed: bool = False
    # seconds to wait before answering; the request is abandoned if the client goes away
    hang_seconds: float = 0.0

    @classmethod
    def http(cls, status: int, retry_after: str | None = None, body: str | None = None) -> Self:
        return cls(status=status, retry_after=retry_after, body=body)

    @classmethod
    def malformed_body(cls) -> Self:
        """HTTP 200, JSON content type, a body that is not JSON at all."""
        return cls(status=200, malformed=True)

    @classmethod
    def hang(cls, seconds: float) -> Self:
        """Wait ``seconds`` (longer than the client timeout), then answer normally if the client
        is still there."""
        return cls(status=200, hang_seconds=seconds)


@dataclass
class ReceivedRequest:
    headers: dict[str, str]
    body: dict[str, Any]
    received_at: float
    # usage reported in the reply, when the reply was a chat completion
    usage: dict[str, int] | None = None
    status: int | None = None

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages = self.body.get("messages", [])
        return messages if isinstance(messages, list) else []

    def text(self) -> str:
        """All message contents, joined."""
        return "\n".join(str(m.get("content", "")) for m in self.messages)


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


@dataclass
class _State:
    replies: deque[str] = field(default_factory=deque)
    failures: deque[Failure] = field(default_factory=deque)
    requests: list[ReceivedRequest] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0


class FakeLlmServer:
    def __init__(
        self,
        *,
        responder: Responder | None = None,
        latency: float = 0.0,
        model: str = "fake-model",
    ) -> None:
        self.responder = responder
        self.latency = latency
        self.model = model
        self._lock = threading.Lock()
        self._state = _State()
        self._loopback: LoopbackServer | None = None
        self._port: int | None = None

    # -- scripting -------------------------------------------------------------------------

    def queue_reply(self, content: str | dict[str, Any]) -> None:
        """Queue an assistant message content (a dict is JSON-encoded)."""
        text = content if isinstance(content, str) else json.dumps(content)
        with self._lock:
            self._state.replies.append(text)

    def queue_failure(self, failure: Failure) -> None:
        with self._lock:
            self._state.failures.append(failure)

    # -- observation -----------------------------------------------------------------------

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._state.requests)

    @property
    def max_in_flight(self) -> int:
        with self._lock:
            return self._state.max_in_flight

    @property
    def pending_replies(self) -> int:
        with self._lock:
            return len(self._state.replies)

    @property
    def pending_failures(self) -> int:
        with self._lock:
            return len(self._state.failures)

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError("FakeLlmServer is not running")
        return f"http://127.0.0.1:{self._port}/v1"

    # -- HTTP ------------------------------------------------------------------------------

    def _completion(self, request_body: dict[str, Any], content: str) -> dict[str, Any]:
        messages = request_body.get("messages", [])
        prompt_text = "".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
        prompt_tokens = _tokens(prompt_text) + 4 * len(messages)
        completion_tokens = _tokens(content)
        return {
            "id": f"chatcmpl-fake-{time.monotonic_ns()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(request_body.get("model", self.model)),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    async def _wait(self, request: Request, seconds: float) -> bool:
        """Sleep ``seconds``; False if the client disconnected meanwhile."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if await request.is_disconnected():
                return False
            await asyncio.sleep(min(0.02, left))
        return True

    async def _handle(self, request: Request) -> Response:
        raw = await request.body()
        try:
            payload = json.loads(raw)
        except ValueError:
            return JSONResponse({"error": {"message": "body is not JSON"}}, status_code=400)
        if not isinstance(payload, dict):
            return JSONResponse({"error": {"message": "body is not an object"}}, status_code=400)
        record = ReceivedRequest(
            headers={k.lower(): v for k, v in request.headers.items()},
            body=payload,
            received_at=time.monotonic(),
        )
        with self._lock:
            state = self._state
            state.requests.append(record)
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
            failure = state.failures.popleft() if state.failures else None
        try:
            response = await self._answer(request, payload, failure, record)
            record.status = response.status_code
            return response
        finally:
            with self._lock:
                self._state.in_flight -= 1

    async def _answer(
        self,
        request: Request,
        payload: dict[str, Any],
        failure: Failure | None,
        record: ReceivedRequest,
    ) -> Response:
        if self.latency and not await self._wait(request, self.latency):
            return Response(status_code=499)
        if failure is not None:
            if failure.hang_seconds and not await self._wait(request, failure.hang_seconds):
                return Response(status_code=499)
            if failure.malformed:
                return Response(
                    '{"id": "chatcmpl-broken", "choices": [', media_type="application/json"
                )
            if failure.status != 200:
                headers = {"retry-after": failure.retry_after} if failure.retry_after else {}
                body = failure.body or json.dumps(
                    {"error": {"message": f"scripted failure {failure.status}", "type": "fake"}}
                )
                return Response(
                    body,
                    status_code=failure.status,
                    headers=headers,
                    media_type="application/json",
                )
        with self._lock:
            content = self._state.replies.popleft() if self._state.replies else None
        if content is None and self.responder is not None:
            content = self.responder(payload)
        if content is None:
            return PlainTextResponse("FakeLlmServer: no reply scripted", status_code=500)
        completion = self._completion(payload, content)
        record.usage = dict(completion["usage"])
        return JSONResponse(completion)

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> Self:
        app = Starlette(routes=[Route("/v1/chat/completions", self._handle, methods=["POST"])])
        self._loopback = LoopbackServer(app, "fake-llm-server")
        self._port = self._loopback.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._loopback is not None:
            self._loopback.stop()
        self._loopback = None
        self._port = None
