"""The git host for a review target: a local repository or a GitHub pull request.

A worker process serves many tasks of the same pull requests, so GitHub connections are kept:
one :class:`GitHubApi` (an HTTP connection pool and, for a GitHub App, its cached installation
token) per repository, installation and set of credentials, in a small LRU that closes what it
drops. Settings are read from the environment on every call; changed credentials get a new
connection.
"""

import hashlib
import json
import threading
from collections import OrderedDict
from pathlib import Path

from pydantic import SecretStr

from shared.git.base import GitHost
from shared.git.github import GitHubHost
from shared.git.github_api import GitHubApi, GitHubSettings
from shared.git.local import LocalGitHost
from shared.models import ReviewTarget

MAX_CONNECTIONS = 32

_ApiKey = tuple[str, str, int | None]
_apis: "OrderedDict[_ApiKey, GitHubApi]" = OrderedDict()
_lock = threading.Lock()


def _credentials_digest(settings: GitHubSettings) -> str:
    plain = {
        name: value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        for name, value in settings
    }
    return hashlib.sha256(json.dumps(plain, sort_keys=True).encode()).hexdigest()


def github_api(
    settings: GitHubSettings, repository: str, installation_id: int | None
) -> GitHubApi:
    """The kept connection for this repository and these credentials (made on first use)."""
    key = (_credentials_digest(settings), repository.lower(), installation_id)
    dropped: list[GitHubApi] = []
    with _lock:
        api = _apis.get(key)
        if api is not None:
            _apis.move_to_end(key)
            return api
        api = GitHubApi(settings, repository, installation_id)
        _apis[key] = api
        while len(_apis) > MAX_CONNECTIONS:
            dropped.append(_apis.popitem(last=False)[1])
    for old in dropped:
        old.close()
    return api


def close_connections() -> None:
    with _lock:
        apis = list(_apis.values())
        _apis.clear()
    for api in apis:
        api.close()


def open_host(
    target: ReviewTarget, state_dir: Path, github: GitHubSettings | None = None
) -> GitHost:
    """The host that serves ``target``; GitHub credentials come from the environment."""
    if target.provider == "github":
        settings = github if github is not None else GitHubSettings()
        return GitHubHost(
            target, github_api(settings, target.repository, target.installation_id)
        )
    return LocalGitHost(target, state_dir)
