"""GitHub webhook ingress: which deliveries start a review, and what the process receives.

This is the contract of the webhook connector start event in ``bpmn/code_review.bpmn``
(``X-Hub-Signature-256`` HMAC, activation condition, result expression, message id), written
once in Python so that it is unit-tested and served by ``reviewflow webhook serve`` where no
connectors runtime runs. Both publish the same start message:

- name :data:`START_MESSAGE`, message id = the ``X-GitHub-Delivery`` header (a redelivery of
  the same delivery is refused by Zeebe while the first message is buffered: one review);
- correlation key = ``owner/name#number``. Zeebe starts at most one instance per correlation
  key at a time and buffers the next message until that instance ends: a push that arrives
  while its PR is being reviewed is reviewed right after, and only its new commits are. Two
  runs never post on the same PR at once.
- variables: only what the process needs (the target, the trigger, and the delivery id as
  the run id), never the payload (it is untrusted and large) and never a secret.

Everything after the signature is still untrusted in shape: :func:`decide` never raises; a
delivery id that is not GUID-shaped, a body that is not strict JSON, and fields of the wrong
type (numbers are JSON integers in range, names follow GitHub's rules) are 400 with a reason.
The delivery id is not covered by the signature: ``reviewflow webhook serve`` also refuses a
replayed body under a new id (:mod:`shared.delivery_ledger`).
"""

import hashlib
import hmac
import json
import re
from typing import Any, Literal

from pydantic import ValidationError

from shared.models import (
    MAX_GITHUB_ID,
    MAX_PR_NUMBER,
    Frozen,
    ReviewTarget,
    is_github_repository,
)

START_MESSAGE = "reviewflow.review-requested"
# a queued push waits at most this long for the run before it to end
START_MESSAGE_TTL_MS = 3_600_000
SIGNATURE_HEADER = "X-Hub-Signature-256"
EVENT_HEADER = "X-GitHub-Event"
DELIVERY_HEADER = "X-GitHub-Delivery"
# the env var the connectors runtime reads as `{{secrets.GITHUB_WEBHOOK_SECRET}}`
SECRET_ENV = "SECRET_GITHUB_WEBHOOK_SECRET"  # noqa: S105 (a variable name, not a secret)

REVIEW_ACTIONS = frozenset({"opened", "synchronize", "reopened", "ready_for_review"})
# "/reviewflow review" in a PR comment by someone with write access forces a review
REVIEW_COMMAND = "/reviewflow review"
TRUSTED_ASSOCIATIONS = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})
MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB
# GitHub sends a GUID; the delivery id becomes the run id, which names files of the artifact
# store, and is logged: letters, digits and hyphens only (starting with a letter or digit)
_DELIVERY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")


class MalformedPayloadError(ValueError):
    """A signed payload that does not have the shape GitHub sends (answered 400)."""


class StartReview(Frozen):
    """Publish the start message: the review of one PR."""

    kind: Literal["start"] = "start"
    message_id: str
    correlation_key: str
    variables: dict[str, Any]


class Ignored(Frozen):
    """A valid delivery that asks for no review (answered 200 with the reason)."""

    kind: Literal["ignored"] = "ignored"
    reason: str


class Rejected(Frozen):
    """A delivery refused (answered with ``status``); nothing starts."""

    kind: Literal["rejected"] = "rejected"
    status: int
    reason: str


Decision = StartReview | Ignored | Rejected


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    """Constant-time check of ``X-Hub-Signature-256``; any header text (non-ASCII included,
    which ``compare_digest`` refuses on ``str``) is compared as UTF-8 bytes, never raised on."""
    if not header or not secret:
        return False
    given = header.strip().encode("utf-8", "surrogatepass")
    return hmac.compare_digest(signature(secret, body).encode("ascii"), given)


def pr_key(repository: str, number: int) -> str:
    return f"{repository.lower()}#{number}"


def decide(secret: str, headers: dict[str, str], body: bytes) -> Decision:
    """What to do with one delivery. ``headers`` keys are lower-case. Never raises on any
    body or header: whatever is not a well-formed GitHub delivery is rejected with a reason."""
    if len(body) > MAX_BODY_BYTES:
        return Rejected(status=413, reason="payload too large")
    if not signature_valid(secret, body, headers.get(SIGNATURE_HEADER.lower())):
        return Rejected(status=401, reason=f"missing or invalid {SIGNATURE_HEADER}")
    event = headers.get(EVENT_HEADER.lower(), "")
    delivery = headers.get(DELIVERY_HEADER.lower(), "").strip()
    if not valid_delivery_id(delivery):
        return Rejected(status=400, reason=f"missing or invalid {DELIVERY_HEADER}")
    try:
        payload = parse_json(body)
    except MalformedPayloadError as exc:
        return Rejected(status=400, reason=str(exc))
    if not isinstance(payload, dict):
        return Rejected(status=400, reason="the body is not a JSON object")
    if event == "ping":
        return Ignored(reason="ping")
    try:
        if event == "pull_request":
            return _pull_request(payload, delivery)
        if event == "issue_comment":
            return _issue_comment(payload, delivery)
    except (KeyError, TypeError, ValueError, ValidationError) as exc:
        return Rejected(status=400, reason=f"malformed {event} payload: {_short(exc)}")
    return Ignored(reason=f"event {event[:64] or '(none)'!r} does not start a review")


def valid_delivery_id(delivery: str) -> bool:
    """``X-GitHub-Delivery`` has the shape GitHub sends (a GUID: letters, digits, hyphens)."""
    return _DELIVERY.fullmatch(delivery) is not None


def _refuse_constant(name: str) -> Any:
    raise MalformedPayloadError(f"the body is not JSON ({name} is not a JSON number)")


def parse_json(body: bytes) -> Any:
    """Strict JSON (no NaN or Infinity); any failure, nesting too deep for the parser
    included, is a :class:`MalformedPayloadError`."""
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except MalformedPayloadError:
        raise
    except RecursionError:
        raise MalformedPayloadError("the body is not JSON we accept: nested too deeply") from None
    except ValueError:  # JSONDecodeError, UnicodeDecodeError, too many digits
        raise MalformedPayloadError("the body is not JSON") from None


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    return str(exc)[:200]


def _object(data: dict[str, Any], key: str, where: str = "") -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise MalformedPayloadError(f"`{where}{key}` must be an object")
    return value


def _optional_object(data: dict[str, Any], key: str) -> dict[str, Any]:
    """An object that may be absent or null (then empty)."""
    if data.get(key) is None:
        return {}
    return _object(data, key)


def _string(data: dict[str, Any], key: str, where: str = "") -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise MalformedPayloadError(f"`{where}{key}` must be a string")
    return value


def _integer(value: Any, name: str, maximum: int) -> int:
    """A JSON integer in 1..maximum: no float, no bool, no numeric string."""
    if type(value) is not int or not 1 <= value <= maximum:
        raise MalformedPayloadError(f"`{name}` must be an integer from 1 to {maximum}")
    return value


def _target(payload: dict[str, Any], number: int) -> ReviewTarget:
    repository = _string(_object(payload, "repository"), "full_name", "repository.")
    if not is_github_repository(repository):
        raise MalformedPayloadError(
            "`repository.full_name` is not a GitHub owner/name: " + repr(repository[:150])
        )
    installation = _optional_object(payload, "installation")
    installation_id = installation.get("id")
    if installation_id is not None:
        installation_id = _integer(installation_id, "installation.id", MAX_GITHUB_ID)
    return ReviewTarget(
        provider="github",
        repository=repository,
        pr_number=number,
        installation_id=installation_id,
    )


def _start(target: ReviewTarget, trigger: str, delivery: str) -> StartReview:
    assert target.pr_number is not None
    return StartReview(
        message_id=delivery,
        correlation_key=pr_key(target.repository, target.pr_number),
        variables={
            "reviewRunId": delivery,
            "target": target.model_dump(mode="json", exclude_none=True),
            "trigger": trigger,
            "deliveryId": delivery,
        },
    )


def _pull_request(payload: dict[str, Any], delivery: str) -> Decision:
    action = _string(payload, "action")
    pull_request = _object(payload, "pull_request")
    number = _integer(pull_request.get("number"), "pull_request.number", MAX_PR_NUMBER)
    target = _target(payload, number)
    if action not in REVIEW_ACTIONS:
        return Ignored(reason=f"pull_request action {action[:64]!r} does not start a review")
    if pull_request.get("state") == "closed":
        return Ignored(reason="the pull request is closed")
    return _start(target, action, delivery)


def _issue_comment(payload: dict[str, Any], delivery: str) -> Decision:
    if payload.get("action") != "created":
        return Ignored(reason="only new comments can ask for a review")
    issue = _object(payload, "issue")
    comment = _object(payload, "comment")
    number = _integer(issue.get("number"), "issue.number", MAX_PR_NUMBER)
    target = _target(payload, number)
    if not issue.get("pull_request"):
        return Ignored(reason="the comment is not on a pull request")
    body = comment.get("body")
    if not isinstance(body, str) or not body.strip().startswith(REVIEW_COMMAND):
        return Ignored(reason=f"the comment is not a {REVIEW_COMMAND} command")
    if comment.get("author_association") not in TRUSTED_ASSOCIATIONS:
        return Ignored(reason=f"{REVIEW_COMMAND} needs an owner, member or collaborator")
    return _start(target, "command", delivery)
