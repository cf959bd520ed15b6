"""Property-based fuzzing of the webhook endpoint, through the Starlette app of
:func:`reviewflow.webhook.create_app` with a recording publisher.

Bodies: random JSON-ish values (NaN and Infinity included, deep nesting), random bytes, and
GitHub's real payloads (tests/fixtures/github-webhooks) with fields replaced, deleted, or
bytes flipped and cut. Headers: real and random event names and delivery ids; signatures
valid, missing, forged (another secret) or garbage. The properties:

- never a 5xx, whatever comes in;
- an unsigned or forged delivery is a 401 and publishes nothing;
- a 400 always says why;
- only a signed ``pull_request``/``issue_comment`` delivery whose target is a valid GitHub PR
  can publish, at most once per body, and only when answered 202.

Each property runs ``REVIEWFLOW_FUZZ_EXAMPLES`` examples (default 200, to keep the unit
suite fast). For a long run, e.g. 10,000 examples per property::

    REVIEWFLOW_FUZZ_EXAMPLES=10000 .venv/bin/python -m pytest \\
        tests/unit/reviewflow/test_webhook_fuzz.py
"""

import json
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from reviewflow.webhook import Published, create_app
from shared.delivery_ledger import SqliteDeliveryLedger
from shared.ingress import StartReview, signature
from shared.models import ReviewTarget
from tests.support.webhooks import FIXTURES

SECRET = "fuzz-secret"
URL = "/inbound/reviewflow-github"
EXAMPLES = int(os.environ.get("REVIEWFLOW_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PAYLOADS = [json.loads(p.read_text()) for p in sorted(FIXTURES.glob("*.json"))]
EVENTS = ["pull_request", "issue_comment", "ping", "push", ""]


class Recorder:
    def __init__(self) -> None:
        self.published: list[StartReview] = []

    async def __call__(self, start: StartReview) -> Published:
        self.published.append(start)
        return Published("started", "pi")


RECORDER = Recorder()
LEDGER = SqliteDeliveryLedger(Path(tempfile.mkdtemp(prefix="reviewflow-fuzz-")) / "ledger.db")
CLIENT = TestClient(create_app(SECRET, RECORDER, ledger=LEDGER))

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=40)
    | st.sampled_from(["opened", "synchronize", "created", "closed", "/reviewflow review"])
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)


def dumps(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


@st.composite
def mutated_payloads(draw: st.DrawFn) -> bytes:
    """A real payload with one of its fields (at any depth) replaced or deleted."""
    data = json.loads(json.dumps(PAYLOADS[draw(st.integers(0, len(PAYLOADS) - 1))]))
    node = data
    for _ in range(draw(st.integers(0, 3))):
        children = [k for k, v in node.items() if isinstance(v, dict)]
        if not children:
            break
        node = node[draw(st.sampled_from(sorted(children)))]
    if not node:
        return dumps(data)
    key = draw(st.sampled_from(sorted(node)))
    if draw(st.booleans()):
        del node[key]
    else:
        node[key] = draw(json_values)
    return dumps(data)


@st.composite
def damaged_payloads(draw: st.DrawFn) -> bytes:
    """A real payload's bytes with bytes flipped, inserted, or the end cut off."""
    raw = bytearray(dumps(PAYLOADS[draw(st.integers(0, len(PAYLOADS) - 1))]))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(raw) - 1))
        action = draw(st.sampled_from(["flip", "insert", "cut"]))
        if action == "flip":
            raw[at] = draw(st.integers(0, 255))
        elif action == "insert":
            raw[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:
            del raw[at:]
        if not raw:
            break
    return bytes(raw)


deep = st.integers(1, 5000).flatmap(
    lambda n: st.sampled_from(
        [b"[" * n, b"[" * n + b"]" * n, b'{"a":' * n + b"1" + b"}" * n, b'{"pull_request":' * n]
    )
)
bodies = (
    json_values.map(dumps)
    | st.binary(max_size=512)
    | mutated_payloads()
    | damaged_payloads()
    | deep
    | st.integers(0, len(PAYLOADS) - 1).map(lambda i: dumps(PAYLOADS[i]))
)
events = st.sampled_from(EVENTS) | st.text(max_size=20)
deliveries = st.builds(lambda: str(uuid.uuid4())) | st.text(max_size=70)


def header(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def post(body: bytes, event: str, delivery: str, sig: str | None) -> Any:
    headers = {"x-github-event": header(event), "x-github-delivery": header(delivery)}
    if sig is not None:
        headers["x-hub-signature-256"] = header(sig)
    return CLIENT.post(URL, content=body, headers=headers)


STARTED_BODIES: set[bytes] = set()


def check_published(before: int, response: Any, body: bytes, event: str) -> None:
    new = RECORDER.published[before:]
    if not new:
        assert response.status_code != 202
        return
    assert response.status_code == 202
    assert len(new) == 1 and event in ("pull_request", "issue_comment")
    target = ReviewTarget.model_validate(new[0].variables["target"])
    assert target.provider == "github" and target.pr_number is not None
    assert body not in STARTED_BODIES, "one body started two reviews"
    STARTED_BODIES.add(body)


@FUZZ
@given(body=bodies, event=events, delivery=deliveries)
def test_signed_deliveries_never_fail_and_publish_only_valid_reviews(
    body: bytes, event: str, delivery: str
) -> None:
    before = len(RECORDER.published)
    response = post(body, event, delivery, signature(SECRET, body))
    assert response.status_code < 500, response.text
    if response.status_code == 400:
        assert response.json()["error"]
    check_published(before, response, body, event)


@FUZZ
@given(
    body=bodies,
    event=events,
    delivery=deliveries,
    sig=st.none()
    | st.text(max_size=80)
    | st.builds(lambda b: signature("another-secret", b), st.binary(max_size=8))
    | st.just("sha256=\xe9"),
)
def test_unsigned_or_forged_deliveries_are_401_and_publish_nothing(
    body: bytes, event: str, delivery: str, sig: str | None
) -> None:
    if sig is not None and sig.strip() == signature(SECRET, body):
        return  # astronomically unlikely: a valid signature
    before = len(RECORDER.published)
    response = post(body, event, delivery, sig)
    assert response.status_code == 401, response.text
    assert len(RECORDER.published) == before


@FUZZ
@given(body=bodies, event=st.sampled_from(["ping", "push", "", "issues", "pull_request_review"]))
def test_irrelevant_events_publish_nothing(body: bytes, event: str) -> None:
    before = len(RECORDER.published)
    response = post(body, event, str(uuid.uuid4()), signature(SECRET, body))
    assert response.status_code in (200, 400), response.text
    assert len(RECORDER.published) == before


def test_the_real_payloads_do_start_reviews_through_this_app(tmp_path: Path) -> None:
    """The signed property is not vacuous: an untouched review payload publishes."""
    recorder = Recorder()
    client = TestClient(create_app(SECRET, recorder, ledger=SqliteDeliveryLedger(tmp_path / "l")))
    body = dumps(json.loads((FIXTURES / "pull_request.opened.payload.json").read_text()))
    headers = {
        "x-github-event": "pull_request",
        "x-github-delivery": str(uuid.uuid4()),
        "x-hub-signature-256": signature(SECRET, body),
    }
    assert client.post(URL, content=body, headers=headers).status_code == 202
    assert len(recorder.published) == 1
