"""``reviewflow webhook serve``: the GitHub webhook endpoint in front of the engine.

It serves ``POST /inbound/{context}`` and applies the contract of :mod:`shared.ingress`
(signature, which deliveries start a review, what enters the process). A review request is a
start-or-correlate of the ``reviewflow.pr-event`` message on the PR's business key
(``owner/name#N``): it starts a run when none runs for the PR; otherwise the running instance's
"new push" event subprocess marks it to review again when its round ends, so runs of one PR
never overlap and a push during a run is never lost. The secret is read from
``SECRET_GITHUB_WEBHOOK_SECRET``.

Answers: 202 a review was requested (started, or queued behind the PR's running review), 200 a
delivery that asks for nothing (with the reason) or a delivery already received, 400 a
malformed body, 401 a bad or missing signature, 404 an unknown context, 503 the engine could
not be reached (GitHub shows the failed delivery, which can be redelivered: nothing is lost).
"""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from reviewflow.engine.port import EnginePort, EngineRequestError, EngineUnavailable, StartKind
from shared.contract import PR_EVENT_MESSAGE
from shared.ingress import (
    Ignored,
    Rejected,
    StartReview,
    decide,
)

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
        result = await engine.start_or_correlate(PR_EVENT_MESSAGE, start.correlation_key, variables)
        status = "queued" if result.kind is StartKind.CORRELATED else "started"
        return Published(status, result.process_instance_id)

    return publish


def create_app(secret: str, publish: Publisher, context: str = DEFAULT_CONTEXT) -> Starlette:
    if not secret:
        raise ValueError(
            "no webhook secret: set SECRET_GITHUB_WEBHOOK_SECRET (the same value as the "
            "GitHub webhook's secret)"
        )

    async def inbound(request: Request) -> JSONResponse:
        if request.path_params["context"] != context:
            return JSONResponse({"error": "unknown webhook"}, status_code=404)
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        decision = decide(secret, headers, body)
        delivery = headers.get("x-github-delivery", "?")[:100]
        if isinstance(decision, Rejected):
            logger.warning("delivery %s rejected: %s", delivery, decision.reason)
            return JSONResponse({"error": decision.reason}, status_code=decision.status)
        if isinstance(decision, Ignored):
            logger.info("delivery %s ignored: %s", delivery, decision.reason)
            return JSONResponse({"status": "ignored", "reason": decision.reason})
        try:
            published = await publish(decision)
        except (EngineUnavailable, EngineRequestError, OSError) as exc:
            logger.error("delivery %s: the engine refused the message: %s", delivery, exc)
            return JSONResponse(
                {"error": f"the engine is unavailable ({type(exc).__name__}); redeliver later"},
                status_code=503,
            )
        result: dict[str, Any] = {
            "status": "accepted",
            "review": published.status,
            "pullRequest": decision.correlation_key,
            "processInstanceId": published.instance_id,
        }
        logger.info("delivery %s: %s %s", delivery, published.status, decision.correlation_key)
        return JSONResponse(result, status_code=202)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "UP"})

    return Starlette(
        routes=[
            Route("/inbound/{context}", inbound, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ]
    )
