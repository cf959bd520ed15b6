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


def _signed(event: str, raw: bytes) -> Any:
    headers, _ = delivery(SECRET, event, raw)
    return decide(SECRET, lower(headers), raw)


def _rejected_400(decision: Any) -> str:
    assert isinstance(decision, Rejected), decision
    assert decision.status == 400 and decision.reason
    return decision.reason


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 1000,
        b'{"a":' * 1000 + b"1" + b"}" * 1000,
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_deeply_nested_bodies_are_400(raw: bytes) -> None:
    assert "JSON" in _rejected_400(_signed("pull_request", raw))


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ("pull_request", "installation"),
        ("pull_request", "repository"),
        ("pull_request", "pull_request"),
        ("issue_comment", "issue"),
        ("issue_comment", "comment"),
        ("issue_comment", "installation"),
        ("issue_comment", "repository"),
    ],
)
@pytest.mark.parametrize("value", ["text", 7, [1, 2], True])
def test_fields_that_must_be_objects_are_400_naming_them(
    event: str, field: str, value: Any
) -> None:
    if event == "issue_comment":
        body = _command("/reviewflow review")
    else:
        body = payload("pull_request.opened.payload")
    body[field] = value
    reason = _rejected_400(_signed(event, json.dumps(body).encode()))
    assert field in reason


@pytest.mark.parametrize(
    "number", [1.9, 2.0, True, False, "7", 1e30, 0, -3, 2**31, 10**40, None, [2], {"n": 2}]
)
def test_pr_numbers_must_be_plain_ints_in_range(number: Any) -> None:
    body = payload("pull_request.opened.payload")
    body["pull_request"]["number"] = number
    assert "number" in _rejected_400(_signed("pull_request", json.dumps(body).encode()))


@pytest.mark.parametrize("number", [1.5, True, "2", 2**31])
def test_issue_numbers_must_be_plain_ints_in_range(number: Any) -> None:
    body = _command("/reviewflow review")
    body["issue"]["number"] = number
    assert "number" in _rejected_400(_signed("issue_comment", json.dumps(body).encode()))


@pytest.mark.parametrize("constant", [b"Infinity", b"-Infinity", b"NaN"])
def test_non_finite_numbers_are_400(constant: bytes) -> None:
    raw = json.dumps(payload("pull_request.opened.payload")).encode()
    raw = raw.replace(b'"number": 2,', b'"number": ' + constant + b",", 1)
    assert constant in raw
    _rejected_400(_signed("pull_request", raw))


def test_the_largest_pr_number_is_accepted() -> None:
    body = payload("pull_request.opened.payload")
    body["pull_request"]["number"] = 2**31 - 1
    decision = _signed("pull_request", json.dumps(body).encode())
    assert isinstance(decision, StartReview)
    assert decision.variables["target"]["pr_number"] == 2**31 - 1


@pytest.mark.parametrize("installation_id", [1.5, True, "1", 0])
def test_installation_ids_must_be_plain_positive_ints(installation_id: Any) -> None:
    body = payload("pull_request.opened.payload")
    body["installation"] = {"id": installation_id}
    assert "installation" in _rejected_400(_signed("pull_request", json.dumps(body).encode()))


@pytest.mark.parametrize(
    "full_name",
    [
        "a/..",
        "a/.",
        "-a/b",
        "a-/b",
        "a" * 40 + "/b",
        "a/" + "b" * 101,
        "a_b/c",
        "a/b/c",
        "a/b c",
        "/b",
        "a/",
        "a/b\n",
        7,
        None,
    ],
)
def test_repository_names_follow_githubs_rules(full_name: Any) -> None:
    body = payload("pull_request.opened.payload")
    body["repository"]["full_name"] = full_name
    assert "repository" in _rejected_400(_signed("pull_request", json.dumps(body).encode()))


@pytest.mark.parametrize(
    "full_name", ["a/b", "a-b/.github", "A1/x_y.z-", "a/...", "a" * 39 + "/" + "b" * 100]
)
def test_valid_repository_names_are_accepted(full_name: str) -> None:
    body = payload("pull_request.opened.payload")
    body["repository"]["full_name"] = full_name
    decision = _signed("pull_request", json.dumps(body).encode())
    assert isinstance(decision, StartReview)
    assert decision.variables["target"]["repository"] == full_name


@pytest.mark.parametrize("action", [None, 3, ["opened"], {"a": 1}])
def test_a_non_string_action_is_400(action: Any) -> None:
    body = payload("pull_request.opened.payload")
    body["action"] = action
    assert "action" in _rejected_400(_signed("pull_request", json.dumps(body).encode()))


@pytest.mark.parametrize(
    "delivery_id",
    ["\x1b[2J\x1b[31mFAKE", "abc\x07", "a" * 65, "id.with.dots", "under_score", "-leading", "é"],
)
def test_delivery_ids_outside_the_guid_alphabet_are_400(delivery_id: str) -> None:
    headers, raw = delivery(SECRET, "pull_request", payload("pull_request.opened.payload"))
    headers["X-GitHub-Delivery"] = delivery_id
    decision = decide(SECRET, lower(headers), raw)
    assert isinstance(decision, Rejected) and decision.status == 400
    assert "X-GitHub-Delivery" in decision.reason


@pytest.mark.parametrize(
    "delivery_id", ["72d3162e-cc78-11e3-81ab-4c9367dc0958", "a" * 64, "d-1", "D1"]
)
def test_guid_shaped_delivery_ids_are_accepted(delivery_id: str) -> None:
    decision = run("pull_request", payload("pull_request.opened.payload"), delivery_id=delivery_id)
    assert isinstance(decision, StartReview) and decision.message_id == delivery_id
