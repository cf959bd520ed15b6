"""GitHubApi against scripted HTTP answers: auth, pagination, rate limits, retries."""

import json
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest

from shared.git.github_api import (
    GitHubApi,
    GitHubAuthError,
    GitHubError,
    GitHubSettings,
    NotFoundError,
    RateLimitedError,
    ValidationFailedError,
    app_jwt,
)
from tests.support.keys import rsa_pair

Handler = Callable[[httpx.Request], httpx.Response]
NOW = 1_800_000_000.0
# the tests run on a fake clock: PyJWT must not check iat/exp against the real one
CLOCKLESS = {"verify_exp": False, "verify_iat": False}


class Clock:
    def __init__(self) -> None:
        self.now = NOW
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def make(
    handler: Handler, clock: Clock | None = None, **settings: Any
) -> tuple[GitHubApi, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    clock = clock or Clock()

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    values: dict[str, Any] = {"token": "tok-123", "api_url": "https://gh.test", **settings}
    api = GitHubApi(
        GitHubSettings.model_validate(values),
        "octo/hello",
        sleep=clock.sleep,
        clock=clock,
        transport=httpx.MockTransport(record),
    )
    return api, seen


def test_no_credentials_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("REVIEWFLOW_GITHUB_TOKEN", raising=False)
    with pytest.raises(GitHubAuthError, match="REVIEWFLOW_GITHUB_TOKEN"):
        GitHubApi(GitHubSettings(), "octo/hello")


def test_token_is_sent_and_never_in_reprs() -> None:
    api, seen = make(lambda r: httpx.Response(200, json={"ok": True}))
    assert api.get_json("/repos/octo/hello") == {"ok": True}
    assert seen[0].headers["authorization"] == "Bearer tok-123"
    assert seen[0].headers["x-github-api-version"] == "2022-11-28"
    assert "tok-123" not in repr(api.settings)


def test_pagination_follows_link_next() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        headers = {}
        if page < 3:
            headers["link"] = (
                f"<https://gh.test/repos/octo/hello/pulls/1/files?per_page=100&page={page + 1}>; "
                'rel="next", <https://gh.test/repos/octo/hello/pulls/1/files?page=3>; rel="last"'
            )
        return httpx.Response(200, json=[{"n": page}], headers=headers)

    api, seen = make(handler)
    assert [i["n"] for i in api.paginate("/repos/octo/hello/pulls/1/files")] == [1, 2, 3]
    assert seen[0].url.params["per_page"] == "100"
    assert len(seen) == 3


def test_paginate_reads_a_named_list_of_an_object() -> None:
    api, _ = make(lambda r: httpx.Response(200, json={"commits": [{"sha": "a"}], "files": []}))
    assert list(api.paginate("/repos/octo/hello/compare/a...b", key="commits")) == [{"sha": "a"}]


def test_short_retry_after_is_waited_out() -> None:
    answers = [
        httpx.Response(429, headers={"retry-after": "3"}, json={"message": "slow down"}),
        httpx.Response(200, json={"ok": 1}),
    ]
    clock = Clock()
    api, seen = make(lambda r: answers.pop(0), clock)
    assert api.get_json("/x") == {"ok": 1}
    assert clock.slept == [3.0]
    assert len(seen) == 2


def test_secondary_limit_without_retry_after_waits_a_minute_or_fails() -> None:
    body = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes."}
    api, _ = make(lambda r: httpx.Response(403, json=body), max_wait_seconds=30)
    with pytest.raises(RateLimitedError) as caught:
        api.get_json("/x")
    assert caught.value.wait == 60.0


def test_primary_limit_waits_until_reset() -> None:
    clock = Clock()
    answers = [
        httpx.Response(
            403,
            headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW + 10))},
            json={"message": "API rate limit exceeded"},
        ),
        httpx.Response(200, json={"ok": 1}),
    ]
    api, _ = make(lambda r: answers.pop(0), clock)
    assert api.get_json("/x") == {"ok": 1}
    assert clock.slept == [11.0]


def test_long_reset_fails_the_call_for_the_engine_to_retry_later() -> None:
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW + 3600))}
    api, _ = make(lambda r: httpx.Response(403, headers=headers, json={"message": "limit"}))
    with pytest.raises(RateLimitedError, match="retry in"):
        api.get_json("/x")


def test_the_last_call_of_the_budget_holds_the_next_one() -> None:
    clock = Clock()
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW + 5))}
    api, seen = make(lambda r: httpx.Response(200, headers=headers, json={}), clock)
    api.get_json("/a")
    api.get_json("/b")
    assert clock.slept == [5.0]
    assert len(seen) == 2


def test_server_errors_are_retried_then_reported() -> None:
    clock = Clock()
    api, seen = make(lambda r: httpx.Response(502, text="bad gateway"), clock, server_retries=2)
    with pytest.raises(GitHubError) as caught:
        api.get_json("/x")
    assert caught.value.status == 502
    assert len(seen) == 3
    assert clock.slept == [2.0, 4.0]


def test_dropped_connections_are_retried() -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ConnectError("reset")
        return httpx.Response(200, json={"ok": 1})

    api, _ = make(handler)
    assert api.get_json("/x") == {"ok": 1}


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, GitHubAuthError), (404, NotFoundError), (422, ValidationFailedError)],
)
def test_errors_are_typed_and_carry_githubs_message(status: int, error: type) -> None:
    body = {"message": "Validation Failed", "errors": [{"message": "could not be resolved"}]}
    api, _ = make(lambda r: httpx.Response(status, json=body))
    with pytest.raises(error, match="could not be resolved"):
        api.get_json("/x")


def test_graphql_errors_raise() -> None:
    api, seen = make(lambda r: httpx.Response(200, json={"errors": [{"message": "bad field"}]}))
    with pytest.raises(GitHubError, match="bad field"):
        api.graphql("query Q { x }", {})
    assert str(seen[0].url) == "https://gh.test/graphql"


def test_enterprise_graphql_url() -> None:
    settings = GitHubSettings.model_validate(
        {"token": "t", "api_url": "https://ghe.example.com/api/v3/"}
    )
    assert settings.graphql_url == "https://ghe.example.com/api/graphql"


def test_app_auth_exchanges_a_jwt_for_an_installation_token_and_caches_it() -> None:
    private, public = rsa_pair()
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.method} {request.url.path}")
        auth = request.headers["authorization"].removeprefix("Bearer ")
        if request.url.path == "/repos/octo/hello/installation":
            claims = jwt.decode(auth, public, algorithms=["RS256"], options=CLOCKLESS)
            assert claims["iss"] == "42"
            return httpx.Response(200, json={"id": 7})
        if request.url.path == "/app/installations/7/access_tokens":
            jwt.decode(auth, public, algorithms=["RS256"], options=CLOCKLESS)
            return httpx.Response(
                201, json={"token": "ghs_install", "expires_at": "2027-01-15T08:00:00Z"}
            )
        assert auth == "ghs_install"
        return httpx.Response(200, json={"ok": True})

    clock = Clock()
    clock.now = 1_780_000_000.0  # well before the token expires
    api, _ = make(handler, clock, token=None, app_id=42, app_private_key=private)
    api.get_json("/repos/octo/hello")
    api.get_json("/repos/octo/hello")
    assert calls == [
        "GET /repos/octo/hello/installation",
        "POST /app/installations/7/access_tokens",
        "GET /repos/octo/hello",
        "GET /repos/octo/hello",
    ]


def test_app_key_with_escaped_newlines_from_an_env_var_works() -> None:
    private, public = rsa_pair()
    settings = GitHubSettings.model_validate(
        {"app_id": 1, "app_private_key": private.replace("\n", "\\n")}
    )
    key = settings.private_key()
    assert key is not None
    token = app_jwt(1, key, now=NOW)
    assert jwt.decode(token, public, algorithms=["RS256"], options=CLOCKLESS)


def test_a_broken_private_key_says_so_without_echoing_it() -> None:
    with pytest.raises(GitHubAuthError) as caught:
        app_jwt(1, "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----")
    assert "not a key" not in str(caught.value)


def test_login_of_a_token_user_and_of_an_app() -> None:
    api, _ = make(lambda r: httpx.Response(200, json={"login": "rf-bot"}))
    assert api.login() == "rf-bot"
    private, _public = rsa_pair()

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/app"
        return httpx.Response(200, json={"slug": "reviewflow"})

    app_api, _ = make(handler, token=None, app_id=3, app_private_key=private)
    assert app_api.login() == "reviewflow[bot]"
    assert json.dumps({"bot": app_api.login()})


def test_blank_settings_from_compose_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("APP_ID", "APP_PRIVATE_KEY", "APP_PRIVATE_KEY_PATH", "BOT_LOGIN", "TOKEN"):
        monkeypatch.setenv(f"REVIEWFLOW_GITHUB_{name}", " ")
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    settings = GitHubSettings()
    assert (settings.app_id, settings.token, settings.bot_login) == (None, None, None)
    with pytest.raises(GitHubAuthError):
        settings.require_credentials()


# ---- error bodies that echo credentials --------------------------------------------------

ECHO_TOKEN = "ghp_EchoedToken1234567890abcdefABCDEFgh"


def echo_authorization(status: int, as_json: bool = True, **headers: str) -> Handler:
    """A proxy that answers ``status`` with the request's Authorization header in its body."""

    def handler(request: httpx.Request) -> httpx.Response:
        auth = request.headers.get("authorization", "")
        if as_json:
            body = {"message": f"proxy rejected Authorization: {auth}", "errors": [auth]}
            return httpx.Response(status, json=body, headers=headers)
        return httpx.Response(status, text=f"<html>denied {auth} (raw {auth[7:]})</html>")

    return handler


def assert_redacted(error: Exception, *secrets: str) -> None:
    text = f"{error} {error!r} {error.args}"
    for secret in secrets:
        assert secret not in text
        assert secret[-8:] not in text
    assert "[redacted]" in text


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422, 500, 502])
@pytest.mark.parametrize("as_json", [True, False])
def test_an_error_body_echoing_the_token_is_redacted(status: int, as_json: bool) -> None:
    api, _ = make(echo_authorization(status, as_json), token=ECHO_TOKEN, server_retries=0)
    with pytest.raises(GitHubError) as caught:
        api.get_json("/repos/octo/hello")
    assert caught.value.status == status
    assert_redacted(caught.value, ECHO_TOKEN)


def test_a_rate_limit_message_echoing_the_token_is_redacted() -> None:
    api, _ = make(echo_authorization(429, **{"retry-after": "3600"}), token=ECHO_TOKEN)
    with pytest.raises(RateLimitedError) as caught:
        api.get_json("/repos/octo/hello")
    assert_redacted(caught.value, ECHO_TOKEN)


def test_graphql_errors_echoing_the_token_are_redacted() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        auth = request.headers["authorization"]
        return httpx.Response(200, json={"errors": [{"message": f"bad {auth}"}], "data": None})

    api, _ = make(handler, token=ECHO_TOKEN)
    with pytest.raises(GitHubError) as caught:
        api.graphql("query { viewer { login } }", {})
    assert_redacted(caught.value, ECHO_TOKEN)


def test_app_jwt_and_installation_token_echoes_are_redacted() -> None:
    private, _public = rsa_pair()
    install = "ghs_InstallationToken0123456789abcdefXY"
    seen_jwt: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        auth = request.headers["authorization"].removeprefix("Bearer ")
        if request.url.path == "/app/installations/7/access_tokens":
            expires = "2027-01-15T08:00:00Z"
            return httpx.Response(201, json={"token": install, "expires_at": expires})
        if request.url.path == "/app":
            seen_jwt.append(auth)
            return httpx.Response(401, text=f"jwt {auth} refused; raw={auth}")
        return httpx.Response(403, json={"message": f"echo {auth}"})

    clock = Clock()
    clock.now = 1_780_000_000.0
    api, _ = make(handler, clock, token=None, app_id=42, app_private_key=private)
    api.installation_id = 7
    with pytest.raises(GitHubError) as caught:
        api.get_json("/repos/octo/hello")
    assert_redacted(caught.value, install)
    with pytest.raises(GitHubAuthError) as refused:
        api.login()
    assert_redacted(refused.value, seen_jwt[0])


def test_a_huge_error_body_is_cut() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, text="x" * 100_000)

    api, _ = make(handler)
    with pytest.raises(GitHubError) as caught:
        api.get_json("/repos/octo/hello")
    assert len(str(caught.value)) < 700
