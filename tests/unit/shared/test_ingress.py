"""Which deliveries start a review: signature, actions, commands, mapping, malformed input."""

import json
from typing import Any

import pytest

from shared.ingress import (
    REVIEW_ACTIONS,
    START_MESSAGE_TTL_MS,
    Ignored,
    Rejected,
    StartReview,
    decide,
    signature,
    signature_valid,
)
from shared.models import ReviewTarget
from tests.support.webhooks import delivery, payload

SECRET = "It's a Secret to Everybody"


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def run(event: str, body: dict[str, Any] | bytes, **kwargs: Any) -> Any:
    headers, raw = delivery(SECRET, event, body, **kwargs)
    return decide(SECRET, lower(headers), raw)


def test_signature_matches_githubs_documented_example() -> None:
    # the example of GitHub's "Validating webhook deliveries" page
    assert (
        signature(SECRET, b"Hello, World!")
        == "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )


@pytest.mark.parametrize("header", [None, "", "sha256=00", "sha1=abc", signature("other", b"x")])
def test_bad_signatures_are_refused(header: str | None) -> None:
    assert not signature_valid(SECRET, b"x", header)


@pytest.mark.parametrize(
    "fixture",
    [
        "pull_request.opened.payload",
        "pull_request.opened.with-null-body",
        "pull_request.synchronize.payload",
        "pull_request.reopened.payload",
        "pull_request.ready_for_review.with-installation.payload",
    ],
)
def test_review_actions_start_a_review(fixture: str) -> None:
    body = payload(fixture)
    decision = run("pull_request", body, delivery_id="d-1")
    assert isinstance(decision, StartReview)
    assert body["action"] in REVIEW_ACTIONS
    assert decision.message_id == "d-1"
    assert decision.correlation_key == "codertocat/hello-world#2"
    assert decision.variables["reviewRunId"] == "d-1"
    assert decision.variables["trigger"] == body["action"]
    target = ReviewTarget.model_validate(decision.variables["target"])
    assert (target.provider, target.repository, target.pr_number) == (
        "github",
        "Codertocat/Hello-World",
        2,
    )
    assert START_MESSAGE_TTL_MS >= 60 * 60 * 1000


def test_only_the_needed_fields_reach_the_process() -> None:
    decision = run("pull_request", payload("pull_request.opened.payload"))
    assert isinstance(decision, StartReview)
    assert set(decision.variables) == {"reviewRunId", "target", "trigger", "deliveryId"}
    assert "pull_request" not in json.dumps(decision.variables)
    assert decision.variables["target"]["installation_id"] == 1


@pytest.mark.parametrize(
    "fixture",
    [
        "pull_request.labeled.payload",
        "pull_request.closed.payload",
        "pull_request.converted_to_draft.payload",
    ],
)
def test_other_actions_start_nothing_and_say_why(fixture: str) -> None:
    decision = run("pull_request", payload(fixture))
    assert isinstance(decision, Ignored)
    assert "does not start a review" in decision.reason


def test_a_closed_pr_is_not_reviewed_even_on_synchronize() -> None:
    body = payload("pull_request.synchronize.payload")
    body["pull_request"]["state"] = "closed"
    decision = run("pull_request", body)
    assert isinstance(decision, Ignored) and "closed" in decision.reason


def test_ping_and_other_events_are_ignored() -> None:
    assert isinstance(run("ping", payload("ping.payload")), Ignored)
    decision = run("push", {"ref": "refs/heads/main"})
    assert isinstance(decision, Ignored) and "push" in decision.reason


def test_missing_or_wrong_signature_is_401_and_starts_nothing() -> None:
    assert run("pull_request", payload("pull_request.opened.payload"), signed=False) == Rejected(
        status=401, reason="missing or invalid X-Hub-Signature-256"
    )
    headers, raw = delivery(SECRET, "pull_request", payload("pull_request.opened.payload"))
    tampered = raw.replace(b'"opened"', b'"closed"', 1)
    decision = decide(SECRET, lower(headers), tampered)
    assert isinstance(decision, Rejected) and decision.status == 401


def test_signature_is_checked_before_anything_is_parsed() -> None:
    decision = run("pull_request", b"{not json", signed=False)
    assert isinstance(decision, Rejected) and decision.status == 401


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b""])
def test_malformed_bodies_are_400(body: bytes) -> None:
    decision = run("pull_request", body)
    assert isinstance(decision, Rejected) and decision.status == 400


def test_a_payload_missing_fields_is_400_naming_the_field() -> None:
    body = payload("pull_request.opened.payload")
    del body["repository"]
    decision = run("pull_request", body)
    assert isinstance(decision, Rejected) and decision.status == 400
    assert "repository" in decision.reason


def test_a_bad_repository_name_is_400() -> None:
    body = payload("pull_request.opened.payload")
    body["repository"]["full_name"] = "../../etc"
    decision = run("pull_request", body)
    assert isinstance(decision, Rejected) and decision.status == 400


@pytest.mark.parametrize("delivery_id", ["", "../x", "a" * 101, "id with space"])
def test_bad_delivery_ids_are_400(delivery_id: str) -> None:
    headers, raw = delivery(SECRET, "pull_request", payload("pull_request.opened.payload"))
    headers["X-GitHub-Delivery"] = delivery_id
    decision = decide(SECRET, lower(headers), raw)
    assert isinstance(decision, Rejected) and decision.status == 400


def _command(body: str, association: str = "OWNER", on_pr: bool = True) -> dict[str, Any]:
    data = payload("issue_comment.created.with-installation.payload")
    data["comment"]["body"] = body
    data["comment"]["author_association"] = association
    if on_pr:
        data["issue"]["pull_request"] = {"url": "https://api.github.com/repos/x/y/pulls/1"}
    return data


def test_review_command_from_a_collaborator_forces_a_review() -> None:
    decision = run("issue_comment", _command("/reviewflow review please"))
    assert isinstance(decision, StartReview)
    assert decision.variables["trigger"] == "command"
    assert decision.variables["target"]["pr_number"] == 1


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (_command("/reviewflow review", association="NONE"), "owner, member or collaborator"),
        (_command("looks good"), "not a /reviewflow review command"),
        (_command("/reviewflow review", on_pr=False), "not on a pull request"),
    ],
)
def test_other_comments_start_nothing(data: dict[str, Any], why: str) -> None:
    decision = run("issue_comment", data)
    assert isinstance(decision, Ignored) and why in decision.reason


@pytest.mark.parametrize(
    "header", ["sha256=\xe9", "sha256=" + "é" * 64, "\u202esha256=00", "sha256=\ud800"]
)
def test_non_ascii_signatures_are_refused_not_raised(header: str) -> None:
    assert not signature_valid(SECRET, b"x", header)
    headers, raw = delivery(SECRET, "pull_request", payload("pull_request.opened.payload"))
    headers["X-Hub-Signature-256"] = header
    decision = decide(SECRET, lower(headers), raw)
    assert isinstance(decision, Rejected) and decision.status == 401
