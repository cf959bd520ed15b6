"""``reviewflow webhook serve``: the GitHub webhook endpoint in front of the engine.

It serves ``POST /inbound/{context}`` and applies the contract of :mod:`shared.ingress`
(signature, which deliveries start a review, what enters the process). A review request is a
start-or-correlate of the ``reviewflow.pr-event`` message on the PR's business key
(``owner/name#N``): it starts a run when none runs for the PR; otherwise the running instance's
"new push" event subprocess marks it to review again when its round ends, so runs of one PR
never overlap and a push during a run is never lost. The secret is read from
``SECRET_GITHUB_WEBHOOK_SECRET``.

Answers: 202 a review was requested (started, or queued behind the PR's running review), 200 a
delivery that asks for nothing (with the reason) or a delivery already received (the same
delivery id, or the same signed body under another id: see :mod:`shared.delivery_ledger`), 400
a malformed body, 401 a bad or missing signature, 404 an unknown context, 413 a body over 25 MB
(refused while it is read, never buffered whole), 503 the engine could not be reached (GitHub
shows the failed delivery, which can be redelivered: nothing is lost).
"""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from reviewflow.engine.port import EnginePort, EngineRequestError, EngineUnavailable, StartKind
from shared.contract import PR_EVENT_MESSAGE
from shared.delivery_ledger import (
    DeliveryLedger,
    SqliteDeliveryLedger,
    body_digest,
    default_ledger_path,
)
from shared.ingress import (
    MAX_BODY_BYTES,
    Ignored,
    Rejected,
    StartReview,
    decide,
)
from shared.logsafe import loggable

logger = logging.getLogger("reviewflow.webhook")

DEFAULT_CONTEXT = "reviewflow-github"



@dataclass(frozen=True)
class Published:
    """What the engine did with a review request."""

    # "started": a new run; "queued": the PR's running review reviews again after this round
    status: str
    instance_id: str | None = None


# starts the review (or tells the PR's running review about the push)
Publisher = Callable[[StartReview], Awaitable[Published]]

# what enters the process from a delivery: never the payload, never a secret
START_VARIABLES = ("target", "trigger", "deliveryId")


def engine_publisher(engine: EnginePort) -> Publisher:
    """Start-or-correlate on the PR's business key: a new run when none runs for the PR,
    otherwise the running one's "new push" event, after which it reviews what is new."""

    async def publish(start: StartReview) -> Published:
        variables = {k: v for k, v in start.variables.items() if k in START_VARIABLES}
        result = await engine.start_or_correlate(
            PR_EVENT_MESSAGE, start.correlation_key, variables
        )
        status = "queued" if result.kind is StartKind.CORRELATED else "started"
        return Published(status, result.process_instance_id)

    return publish


async def _start_once(
    start: StartReview, digest: str, publish: Publisher, ledger: DeliveryLedger
) -> JSONResponse:
    """Publish ``start`` unless its delivery id or body was seen before. The delivery is
    recorded first (atomically, so concurrent copies publish once) and the record undone when
    publishing fails, so that GitHub's redelivery goes through."""
    delivery = start.message_id
    if await run_in_threadpool(ledger.seen_or_record, delivery, digest):
        logger.info("delivery %s: duplicate (delivery id or body seen before)", delivery)
        return JSONResponse(
            {"status": "duplicate", "reason": "this delivery or its body was received before"}
        )
    try:
        published = await publish(start)
    except BaseException as exc:
        ledger.forget(delivery, digest)  # also on cancellation, hence not in a thread
        if not isinstance(exc, EngineUnavailable | EngineRequestError | OSError):
            raise
        logger.error("delivery %s: the engine refused the message: %s", delivery, loggable(exc))
        return JSONResponse(
            {"error": f"the engine is unavailable ({type(exc).__name__}); redeliver later"},
            status_code=503,
        )
    result: dict[str, Any] = {
        "status": "accepted",
        "review": published.status,
        "pullRequest": start.correlation_key,
        "processInstanceId": published.instance_id,
    }
    logger.info("delivery %s: %s %s", delivery, published.status, start.correlation_key)
    return JSONResponse(result, status_code=202)


class BodyRefusedError(Exception):
    """The request body is refused before it is read whole (``status`` is the answer)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _declared_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()):
        raise BodyRefusedError(400, "invalid Content-Length")
    return int(value)


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, read from the stream and refused (413) as soon as it passes ``limit``: a
    too-large ``Content-Length`` before any byte is read, a chunked upload at the first chunk
    past the limit (the rest stays unread)."""
    declared = _declared_length(request)
    if declared is not None and declared > limit:
        raise BodyRefusedError(413, "payload too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyRefusedError(413, "payload too large")
    return bytes(body)


def create_app(
    secret: str,
    publish: Publisher,
    context: str = DEFAULT_CONTEXT,
    ledger: DeliveryLedger | None = None,
) -> Starlette:
    """The webhook app. ``ledger`` remembers the deliveries that started a review (by delivery
    id and by body digest); by default a SQLite file in the state directory."""
    if not secret:
        raise ValueError(
            "no webhook secret: set SECRET_GITHUB_WEBHOOK_SECRET (the same value as the "
            "GitHub webhook's secret)"
        )
    deliveries = ledger if ledger is not None else SqliteDeliveryLedger(default_ledger_path())

    async def inbound(request: Request) -> JSONResponse:
        if request.path_params["context"] != context:
            return JSONResponse({"error": "unknown webhook"}, status_code=404)
        try:
            body = await read_body(request)
        except BodyRefusedError as exc:
            logger.warning("delivery refused before reading it: %s", exc.reason)
            return JSONResponse({"error": exc.reason}, status_code=exc.status)
        headers = {k.lower(): v for k, v in request.headers.items()}
        decision = decide(secret, headers, body)
        # unvalidated header text: logged escaped (see shared.logsafe)
        delivery = loggable(headers.get("x-github-delivery", "?"), 100)
        if isinstance(decision, Rejected):
            logger.warning("delivery %s rejected: %s", delivery, loggable(decision.reason))
            return JSONResponse({"error": decision.reason}, status_code=decision.status)
        if isinstance(decision, Ignored):
            logger.info("delivery %s ignored: %s", delivery, loggable(decision.reason))
            return JSONResponse({"status": "ignored", "reason": decision.reason})
        return await _start_once(decision, body_digest(body), publish, deliveries)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "UP"})

    return Starlette(
        routes=[
            Route("/inbound/{context}", inbound, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ]
    )
