"""GitHub's REST and GraphQL APIs over httpx: authentication, rate limits, pagination.

Auth is a token (``REVIEWFLOW_GITHUB_TOKEN`` or ``GITHUB_TOKEN``) or a GitHub App (app id +
private key exchanged for an installation token). Both come only from the environment; the
token is unwrapped when a request is sent and never logged or returned.

Rate limits: a ``Retry-After`` (primary 403/429 or secondary limit) or an exhausted
``X-RateLimit-Remaining`` with its ``X-RateLimit-Reset`` is waited out in place when the wait
is short (``max_wait_seconds``); a longer one raises :class:`RateLimitedError`, a
:class:`GitHostError`, so the job fails and the engine retries it after its backoff.
Server errors (5xx) and dropped connections are retried here a few times with backoff.
"""

import base64
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.git.base import GitHostError
from shared.redact import redact
from shared.settings_util import blank_is_unset, blank_secret_is_unset

logger = logging.getLogger("reviewflow.github")

API_VERSION = "2022-11-28"
USER_AGENT = "reviewflow"
PER_PAGE = 100
# GitHub asks for at least a minute when a secondary limit comes without Retry-After
SECONDARY_DEFAULT_WAIT = 60.0


# longest error text kept from a GitHub answer
MAX_ERROR_TEXT = 600


class GitHubError(GitHostError):
    """A GitHub call failed; ``status`` is the HTTP status (0 when there was no answer).

    The message is redacted (credential shapes: tokens, JWTs, an echoed Authorization
    header) and cut; :class:`GitHubApi` also redacts the exact values it holds."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(redact(message, limit=MAX_ERROR_TEXT))
        self.status = status


class GitHubAuthError(GitHubError):
    """Credentials missing or refused (401, or the App token exchange failed)."""


class NotFoundError(GitHubError):
    pass


class ValidationFailedError(GitHubError):
    """422: GitHub refused the request's content (e.g. a comment line outside the diff)."""


class RateLimitedError(GitHubError):
    """A rate limit whose wait is longer than we wait in place; ``wait`` in seconds."""

    def __init__(self, message: str, wait: float, status: int) -> None:
        super().__init__(message, status)
        self.wait = wait


class GitHubSettings(BaseSettings):
    """Where GitHub is and how we authenticate, from ``REVIEWFLOW_GITHUB_*``."""

    model_config = SettingsConfigDict(
        env_prefix="REVIEWFLOW_GITHUB_",
        extra="ignore",
        frozen=True,
        populate_by_name=True,
        # a validation error never prints its input (the token or the App key)
        hide_input_in_errors=True,
    )

    api_url: str = "https://api.github.com"
    token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("REVIEWFLOW_GITHUB_TOKEN", "GITHUB_TOKEN")
    )
    app_id: int | None = None
    # the App's private key: PEM text, or a path to the PEM file
    app_private_key: SecretStr | None = None
    app_private_key_path: Path | None = None
    # the login our comments are posted as; found from the credentials when unset
    bot_login: str | None = None
    timeout_seconds: float = Field(30.0, gt=0)
    # longest rate-limit wait done in place; longer waits fail the job (engine backoff)
    max_wait_seconds: float = Field(30.0, ge=0)
    # retries of 5xx answers and dropped connections within one call
    server_retries: int = Field(3, ge=0, le=10)

    # `export X=` (or compose's `${X:-}`) means unset, not an empty value
    _blank_secret_is_unset = field_validator("token", "app_private_key", mode="before")(
        blank_secret_is_unset
    )
    _blank_is_unset = field_validator(
        "app_id", "app_private_key_path", "bot_login", mode="before"
    )(blank_is_unset)

    @field_validator("api_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"REVIEWFLOW_GITHUB_API_URL must be an http(s) URL, got {value!r}")
        return value

    @property
    def graphql_url(self) -> str:
        # github.com: api.github.com/graphql; GitHub Enterprise: HOST/api/v3 -> HOST/api/graphql
        if self.api_url.endswith("/api/v3"):
            return self.api_url[: -len("/v3")] + "/graphql"
        return self.api_url + "/graphql"

    def private_key(self) -> str | None:
        if self.app_private_key is not None:
            return self.app_private_key.get_secret_value().replace("\\n", "\n")
        if self.app_private_key_path is not None:
            try:
                return self.app_private_key_path.read_text()
            except OSError as exc:
                raise GitHubAuthError(
                    f"cannot read REVIEWFLOW_GITHUB_APP_PRIVATE_KEY_PATH: {exc.strerror}"
                ) from None
        return None

    @property
    def uses_app(self) -> bool:
        return self.app_id is not None

    def require_credentials(self) -> None:
        """Raise :class:`GitHubAuthError` naming the settings when none are given."""
        if self.token is None and not self.uses_app:
            raise GitHubAuthError(
                "no GitHub credentials: set REVIEWFLOW_GITHUB_TOKEN (or GITHUB_TOKEN), or "
                "REVIEWFLOW_GITHUB_APP_ID with REVIEWFLOW_GITHUB_APP_PRIVATE_KEY(_PATH)"
            )


def app_jwt(app_id: int, private_key: str, now: float | None = None) -> str:
    """The short-lived JWT a GitHub App signs to ask for installation tokens."""
    issued = int(now if now is not None else time.time()) - 60  # clock drift allowance
    try:
        return jwt.encode(
            {"iat": issued, "exp": issued + 9 * 60, "iss": str(app_id)}, private_key, "RS256"
        )
    except (ValueError, TypeError, jwt.PyJWTError) as exc:
        raise GitHubAuthError(
            f"the GitHub App private key cannot sign a JWT: {type(exc).__name__}"
        ) from None


_NEXT_LINK = re.compile(r'<([^>]+)>;\s*rel="next"')


def next_link(response: httpx.Response) -> str | None:
    match = _NEXT_LINK.search(response.headers.get("link", ""))
    return match.group(1) if match else None


def _header_float(headers: httpx.Headers, name: str) -> float | None:
    try:
        return float(headers[name])
    except (KeyError, ValueError):
        return None


@dataclass
class _Token:
    value: str
    expires_at: float  # epoch seconds; inf for a personal token


class GitHubApi:
    """One authenticated connection to GitHub for one repository (thread-safe)."""

    def __init__(
        self,
        settings: GitHubSettings,
        repository: str,
        installation_id: int | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        settings.require_credentials()
        self.settings = settings
        self.repository = repository
        self.installation_id = installation_id
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.RLock()
        self._token: _Token | None = None
        self._blocked_until = 0.0
        self._login: str | None = None
        self._http = httpx.Client(
            base_url=settings.api_url,
            timeout=settings.timeout_seconds,
            transport=transport,
            headers={
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": USER_AGENT,
            },
        )

    def close(self) -> None:
        self._http.close()

    # ---- auth -------------------------------------------------------------------------
    def _auth_header(self) -> str:
        with self._lock:
            if self.settings.token is not None and not self.settings.uses_app:
                return f"Bearer {self.settings.token.get_secret_value()}"
            if self._token is None or self._token.expires_at - 60 < self._clock():
                self._token = self._installation_token()
            return f"Bearer {self._token.value}"

    def _app_bearer(self) -> dict[str, str]:
        key = self.settings.private_key()
        if key is None or self.settings.app_id is None:
            raise GitHubAuthError(
                "REVIEWFLOW_GITHUB_APP_ID needs REVIEWFLOW_GITHUB_APP_PRIVATE_KEY or "
                "REVIEWFLOW_GITHUB_APP_PRIVATE_KEY_PATH"
            )
        return {"Authorization": f"Bearer {app_jwt(self.settings.app_id, key, self._clock())}"}

    def _installation_token(self) -> _Token:
        headers = self._app_bearer()
        installation = self.installation_id
        if installation is None:
            found = self._send("GET", f"/repos/{self.repository}/installation", headers=headers)
            installation = int(found.json()["id"])
            self.installation_id = installation
        response = self._send(
            "POST", f"/app/installations/{installation}/access_tokens", headers=headers
        )
        data = response.json()
        expires = data.get("expires_at")
        try:
            expires_at = datetime.fromisoformat(str(expires).replace("Z", "+00:00")).timestamp()
        except ValueError:
            expires_at = self._clock() + 50 * 60
        return _Token(value=str(data["token"]), expires_at=expires_at)

    def login(self) -> str:
        """The login our comments carry: only comments by it are ours (anyone can paste a
        fingerprint into a comment of their own)."""
        if self._login is None:
            if self.settings.bot_login:
                self._login = self.settings.bot_login
            elif self.settings.uses_app:
                app = self._send("GET", "/app", headers=self._app_bearer()).json()
                self._login = f"{app['slug']}[bot]"
            else:
                self._login = str(self.get_json("/user")["login"])
        return self._login

    def _redact(self, text: str) -> str:
        """``text`` without any credential this connection holds (token, installation token,
        App key) or anything credential-shaped."""
        held = [self._token.value if self._token is not None else None]
        if self.settings.token is not None:
            held.append(self.settings.token.get_secret_value())
        if self.settings.app_private_key is not None:
            held.append(self.settings.app_private_key.get_secret_value())
        return redact(text, held, limit=MAX_ERROR_TEXT)

    # ---- requests ---------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        """An authenticated call; raises :class:`GitHubError` subclasses on failure."""
        return self._send(method, path, params=params, json=json, authenticate=True)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        authenticate: bool = False,
    ) -> httpx.Response:
        server_failures = 0
        while True:
            self._wait_if_blocked()
            call_headers = dict(headers or {})
            if authenticate:
                call_headers["Authorization"] = self._auth_header()
            try:
                response = self._http.request(
                    method, path, params=params, json=json, headers=call_headers
                )
            except httpx.TransportError as exc:
                server_failures += 1
                if server_failures > self.settings.server_retries:
                    raise GitHubError(f"GitHub unreachable: {type(exc).__name__}") from None
                self._sleep(min(2.0**server_failures, 30.0))
                continue
            self._note_budget(response)
            if response.is_success:
                return response
            wait = self._rate_limit_wait(response)
            if wait is not None:
                if wait > self.settings.max_wait_seconds:
                    raise RateLimitedError(
                        self._redact(
                            f"GitHub rate limit on {method} {_path_only(path)}: retry in "
                            f"{wait:.0f} s ({_message(response)})"
                        ),
                        wait=wait,
                        status=response.status_code,
                    )
                logger.warning(
                    "GitHub rate limit on %s %s: waiting %.1f s",
                    method,
                    _path_only(path),
                    wait,
                )
                self._sleep(wait)
                continue
            if response.status_code >= 500:
                server_failures += 1
                if server_failures <= self.settings.server_retries:
                    self._sleep(min(2.0**server_failures, 30.0))
                    continue
            raise _error_for(method, path, response, self._redact)

    def _note_budget(self, response: httpx.Response) -> None:
        """After the last call of the budget, hold the next until the window resets."""
        remaining = _header_float(response.headers, "x-ratelimit-remaining")
        reset = _header_float(response.headers, "x-ratelimit-reset")
        if remaining is not None and remaining <= 0 and reset is not None and response.is_success:
            with self._lock:
                self._blocked_until = max(self._blocked_until, reset)

    def _wait_if_blocked(self) -> None:
        with self._lock:
            wait = self._blocked_until - self._clock()
        if wait <= 0:
            return
        if wait > self.settings.max_wait_seconds:
            raise RateLimitedError(
                f"GitHub rate limit exhausted: resets in {wait:.0f} s", wait=wait, status=403
            )
        self._sleep(wait)

    def _rate_limit_wait(self, response: httpx.Response) -> float | None:
        """Seconds to wait when ``response`` is a rate-limit refusal, else None."""
        if response.status_code not in (403, 429):
            return None
        retry_after = _header_float(response.headers, "retry-after")
        if retry_after is not None:
            return max(0.0, retry_after)
        remaining = _header_float(response.headers, "x-ratelimit-remaining")
        reset = _header_float(response.headers, "x-ratelimit-reset")
        if remaining is not None and remaining <= 0 and reset is not None:
            return max(0.0, reset - self._clock()) + 1.0
        if response.status_code == 429 or "secondary rate limit" in _message(response).lower():
            return SECONDARY_DEFAULT_WAIT
        return None

    # ---- helpers ----------------------------------------------------------------------
    def get_json(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        return self.request("GET", path, params=params).json()

    def paginate(
        self,
        path: str,
        params: Mapping[str, str | int] | None = None,
        max_pages: int = 100,
        key: str | None = None,
    ) -> Iterator[Any]:
        """Every item of a list endpoint, following ``Link: rel="next"``; ``key`` names the
        list inside an object answer (``commits`` of a compare)."""
        query: dict[str, str | int] = {"per_page": PER_PAGE, **(params or {})}
        response = self.request("GET", path, params=query)
        pages = 1
        while True:
            data = response.json()
            items = data.get(key, []) if key is not None and isinstance(data, dict) else data
            if not isinstance(items, list):
                raise GitHubError(f"GitHub GET {_path_only(path)}: expected a list")
            yield from items
            link = next_link(response)
            if link is None or pages >= max_pages:
                return
            response = self.request("GET", link)
            pages += 1

    def graphql(self, query: str, variables: Mapping[str, Any]) -> Any:
        response = self.request(
            "POST", self.settings.graphql_url, json={"query": query, "variables": variables}
        )
        data = response.json()
        if data.get("errors"):
            messages = "; ".join(str(e.get("message", e)) for e in data["errors"])
            raise GitHubError(
                self._redact(f"GitHub GraphQL error: {messages}"), response.status_code
            )
        return data["data"]


def decode_content(data: Mapping[str, Any]) -> bytes | None:
    """The bytes of a ``contents`` API answer (None when GitHub left them out: over 1 MB)."""
    if data.get("type") != "file" or data.get("encoding") != "base64":
        return None
    return base64.b64decode(str(data.get("content", "")))


def _message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(data, dict):
        message = str(data.get("message", ""))
        errors = data.get("errors")
        if isinstance(errors, list) and errors:
            details = "; ".join(
                str(e.get("message") or e.get("code") or e) if isinstance(e, dict) else str(e)
                for e in errors
            )
            message = f"{message}: {details}" if message else details
        return message[:500]
    return str(data)[:200]


def _path_only(path: str) -> str:
    return path.split("?", 1)[0]


def _error_for(
    method: str, path: str, response: httpx.Response, scrub: Callable[[str], str] = redact
) -> GitHubError:
    status = response.status_code
    text = scrub(f"GitHub {method} {_path_only(path)}: {status} {_message(response)}")
    if status == 401:
        return GitHubAuthError(text, status)
    if status == 404:
        return NotFoundError(text, status)
    if status == 422:
        return ValidationFailedError(text, status)
    return GitHubError(text, status)
