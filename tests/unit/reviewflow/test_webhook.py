"""The webhook endpoint's HTTP answers, with the engine replaced by a recording publisher."""

import threading
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from reviewflow.webhook import Published, create_app
from shared.delivery_ledger import LEDGER_FILE_NAME, SqliteDeliveryLedger
from shared.ingress import StartReview
from tests.support.webhooks import delivery, payload

SECRET = "webhook-test-secret"
URL = "/inbound/reviewflow-github"


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.published: list[StartReview] = []
        self.seen: set[str] = set()
        self.fail = fail

    async def __call__(self, start: StartReview) -> Published:
        if self.fail:
            raise ConnectionRefusedError(111, "connection refused")
        self.published.append(start)
        return Published("started", f"pi-{len(self.published)}")


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return tmp_path / LEDGER_FILE_NAME


@pytest.fixture
def ledger(ledger_path: Path) -> SqliteDeliveryLedger:
    return SqliteDeliveryLedger(ledger_path)


@pytest.fixture
def client(recorder: Recorder, ledger: SqliteDeliveryLedger) -> TestClient:
    return TestClient(create_app(SECRET, recorder, ledger=ledger))


def post(client: TestClient, event: str, body: Any, **kwargs: Any) -> Any:
    headers, raw = delivery(SECRET, event, body, **kwargs)
    return client.post(URL, content=raw, headers=headers)


def test_opened_is_accepted_and_published(client: TestClient, recorder: Recorder) -> None:
    response = post(client, "pull_request", payload("pull_request.opened.payload"))
    assert response.status_code == 202
    assert response.json()["pullRequest"] == "codertocat/hello-world#2"
    assert len(recorder.published) == 1


def test_the_same_delivery_twice_publishes_once(client: TestClient, recorder: Recorder) -> None:
    body = payload("pull_request.opened.payload")
    first = post(client, "pull_request", body, delivery_id="same")
    second = post(client, "pull_request", body, delivery_id="same")
    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json()["status"] == "duplicate"
    assert len(recorder.published) == 1


def test_unsigned_is_401_and_publishes_nothing(client: TestClient, recorder: Recorder) -> None:
    response = post(client, "pull_request", payload("pull_request.opened.payload"), signed=False)
    assert response.status_code == 401
    assert recorder.published == []


def test_labeled_is_200_ignored_with_reason(client: TestClient, recorder: Recorder) -> None:
    response = post(client, "pull_request", payload("pull_request.labeled.payload"))
    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    assert "labeled" in response.json()["reason"]
    assert recorder.published == []


def test_malformed_body_is_400_and_the_server_keeps_serving(
    client: TestClient, recorder: Recorder
) -> None:
    assert post(client, "pull_request", b"{broken").status_code == 400
    assert post(client, "pull_request", payload("pull_request.opened.payload")).status_code == 202


def test_unknown_context_is_404(client: TestClient) -> None:
    headers, raw = delivery(SECRET, "pull_request", payload("pull_request.opened.payload"))
    assert client.post("/inbound/other", content=raw, headers=headers).status_code == 404


def test_engine_down_is_503_so_github_can_redeliver(ledger: SqliteDeliveryLedger) -> None:
    client = TestClient(create_app(SECRET, Recorder(fail=True), ledger=ledger))
    response = post(client, "pull_request", payload("pull_request.opened.payload"))
    assert response.status_code == 503
    assert "redeliver" in response.json()["error"]


def test_no_secret_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="SECRET_GITHUB_WEBHOOK_SECRET"):
        create_app("", Recorder())


def test_a_non_ascii_signature_is_401(client: TestClient, recorder: Recorder) -> None:
    headers, raw = delivery(SECRET, "pull_request", payload("pull_request.opened.payload"))
    # raw header bytes: Starlette decodes them as latin-1, so the app sees "sha256=\xe9"
    sent = {k: v.encode() for k, v in headers.items()}
    sent["X-Hub-Signature-256"] = b"sha256=\xe9"
    response = client.post(URL, content=raw, headers=sent)
    assert response.status_code == 401
    assert recorder.published == []


ESCAPES = "\x1b[2J\x1b]0;owned\x07\x9b31m\r\nFAKE 202 accepted"


@pytest.mark.parametrize("signed", [False, True])
def test_request_text_is_logged_without_control_characters(
    client: TestClient, recorder: Recorder, caplog: pytest.LogCaptureFixture, signed: bool
) -> None:
    headers, raw = delivery(
        SECRET, "pull_request", payload("pull_request.opened.payload"), signed=signed
    )
    sent = {k: v.encode() for k, v in headers.items()}
    sent["X-GitHub-Delivery"] = ESCAPES.encode("latin-1")
    sent["X-GitHub-Event"] = ESCAPES.encode("latin-1")
    with caplog.at_level("DEBUG", logger="reviewflow.webhook"):
        response = client.post(URL, content=raw, headers=sent)
    assert response.status_code == (400 if signed else 401)
    assert recorder.published == []
    messages = [record.getMessage() for record in caplog.records]
    assert messages, "the rejection is logged"
    for message in messages:
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in message), repr(message)
        assert "\\x1b" in message  # shown escaped, so an operator still sees what came


def test_an_ignored_events_name_is_logged_escaped(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    headers, raw = delivery(SECRET, "push", {"ref": "refs/heads/main"})
    sent = {k: v.encode() for k, v in headers.items()}
    sent["X-GitHub-Event"] = b"push\x1b[31m"
    with caplog.at_level("INFO", logger="reviewflow.webhook"):
        assert client.post(URL, content=raw, headers=sent).json()["status"] == "ignored"
    assert all("\x1b" not in record.getMessage() for record in caplog.records)
    assert any("\\x1b" in record.getMessage() for record in caplog.records)


MB = 1024 * 1024


class ChunkedBody:
    """An ASGI ``receive`` sending ``count`` chunks of 1 MiB; counts what the app consumed."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.consumed = 0

    async def __call__(self) -> dict[str, Any]:
        if self.consumed >= self.count:
            return {"type": "http.disconnect"}
        self.consumed += 1
        more = self.consumed < self.count
        return {"type": "http.request", "body": b"x" * MB, "more_body": more}


async def asgi_post(
    app: Any, receive: Any, headers: list[tuple[bytes, bytes]]
) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": URL,
        "raw_path": URL.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8085),
    }
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body


async def test_a_chunked_upload_over_the_limit_is_413_and_not_read_to_the_end(
    recorder: Recorder,
) -> None:
    app = create_app(SECRET, recorder, ledger=SqliteDeliveryLedger(Path("/nonexistent/l")))
    body = ChunkedBody(count=200)  # 200 MiB if the app read it all
    status, answer = await asgi_post(
        app, body, [(b"x-github-event", b"pull_request"), (b"transfer-encoding", b"chunked")]
    )
    assert status == 413, answer
    assert body.consumed <= 26  # stopped just past 25 MiB
    assert recorder.published == []


async def test_a_too_large_content_length_is_413_before_reading(recorder: Recorder) -> None:
    app = create_app(SECRET, recorder, ledger=SqliteDeliveryLedger(Path("/nonexistent/l")))
    body = ChunkedBody(count=30)
    status, _ = await asgi_post(
        app, body, [(b"x-github-event", b"pull_request"), (b"content-length", b"31457280")]
    )
    assert status == 413
    assert body.consumed == 0


@pytest.mark.parametrize("length", [b"abc", b"-1", b"1e9", b"\xe9"])
async def test_a_malformed_content_length_is_400(recorder: Recorder, length: bytes) -> None:
    body = ChunkedBody(count=1)
    app = create_app(SECRET, recorder, ledger=SqliteDeliveryLedger(Path("/nonexistent/l")))
    status, _ = await asgi_post(app, body, [(b"content-length", length)])
    assert status == 400
    assert body.consumed == 0


class Counter:
    """A publisher that starts every message it gets (no message-id dedup of its own), so the
    ingress's own deduplication is what is tested."""

    def __init__(self) -> None:
        self.published: list[StartReview] = []
        self.lock = threading.Lock()

    async def __call__(self, start: StartReview) -> Published:
        with self.lock:
            self.published.append(start)
        return Published("started", "pi")


def test_one_signed_body_under_new_delivery_ids_starts_one_review(
    ledger: SqliteDeliveryLedger,
) -> None:
    counter = Counter()
    client = TestClient(create_app(SECRET, counter, ledger=ledger))
    body = payload("pull_request.opened.payload")
    answers = [post(client, "pull_request", body, delivery_id=f"replay-{i}") for i in range(20)]
    assert [a.status_code for a in answers] == [202] + [200] * 19
    assert {a.json()["status"] for a in answers[1:]} == {"duplicate"}
    assert len(counter.published) == 1


def test_the_same_delivery_id_twice_starts_one_review_even_with_another_body(
    ledger: SqliteDeliveryLedger,
) -> None:
    counter = Counter()
    client = TestClient(create_app(SECRET, counter, ledger=ledger))
    first = post(client, "pull_request", payload("pull_request.opened.payload"), delivery_id="x")
    again = post(
        client, "pull_request", payload("pull_request.synchronize.payload"), delivery_id="x"
    )
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["status"] == "duplicate"
    assert len(counter.published) == 1


def test_deliveries_stay_known_across_a_restart(ledger_path: Path) -> None:
    body = payload("pull_request.opened.payload")
    before, after = Counter(), Counter()
    app = create_app(SECRET, before, ledger=SqliteDeliveryLedger(ledger_path))
    assert post(TestClient(app), "pull_request", body).status_code == 202
    restarted = create_app(SECRET, after, ledger=SqliteDeliveryLedger(ledger_path))
    assert post(TestClient(restarted), "pull_request", body).json()["status"] == "duplicate"
    assert (len(before.published), len(after.published)) == (1, 0)


def test_concurrent_replays_start_one_review(ledger: SqliteDeliveryLedger) -> None:
    counter = Counter()
    app = create_app(SECRET, counter, ledger=ledger)
    body = payload("pull_request.opened.payload")
    barrier = threading.Barrier(12)
    codes: list[int] = []

    def replay(index: int) -> None:
        client = TestClient(app)
        headers, raw = delivery(SECRET, "pull_request", body, delivery_id=f"race-{index}")
        barrier.wait()
        codes.append(client.post(URL, content=raw, headers=headers).status_code)

    threads = [threading.Thread(target=replay, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [200] * 11 + [202]
    assert len(counter.published) == 1


def test_a_failed_publish_is_not_recorded_so_the_redelivery_starts_the_review(
    ledger: SqliteDeliveryLedger,
) -> None:
    body = payload("pull_request.opened.payload")
    down = TestClient(create_app(SECRET, Recorder(fail=True), ledger=ledger))
    assert post(down, "pull_request", body, delivery_id="retry-me").status_code == 503
    counter = Counter()
    up = TestClient(create_app(SECRET, counter, ledger=ledger))
    assert post(up, "pull_request", body, delivery_id="retry-me").status_code == 202
    assert len(counter.published) == 1


def test_ignored_and_rejected_deliveries_are_not_recorded(
    client: TestClient, recorder: Recorder
) -> None:
    body = payload("pull_request.opened.payload")
    assert post(client, "pull_request", body, delivery_id="same", signed=False).status_code == 401
    assert post(client, "push", body, delivery_id="same").json()["status"] == "ignored"
    assert post(client, "pull_request", body, delivery_id="same").status_code == 202
