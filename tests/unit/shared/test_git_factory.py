"""GitHub connections are kept per repository and credentials, not opened per task."""

from pathlib import Path

import pytest

from shared.git import factory
from shared.git.base import GitHost
from shared.git.github import GitHubHost
from shared.git.github_api import GitHubApi, GitHubSettings
from shared.models import ReviewTarget


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    factory.close_connections()


def settings(token: str) -> GitHubSettings:
    return GitHubSettings(token=token, api_url="http://github.test")


def target(repo: str = "octo/hello", installation: int | None = None) -> ReviewTarget:
    return ReviewTarget(
        provider="github", repository=repo, pr_number=1, installation_id=installation
    )


def api_of(host: GitHost) -> GitHubApi:
    assert isinstance(host, GitHubHost)
    return host.api


def test_tasks_of_one_pull_request_share_one_connection(tmp_path: Path) -> None:
    first = api_of(factory.open_host(target(), tmp_path, settings("t1")))
    assert api_of(factory.open_host(target(), tmp_path, settings("t1"))) is first
    assert api_of(factory.open_host(target("octo/other"), tmp_path, settings("t1"))) is not first
    assert api_of(factory.open_host(target(), tmp_path, settings("t2"))) is not first


def test_the_oldest_connection_is_closed_when_too_many_are_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(factory, "MAX_CONNECTIONS", 2)
    apis = [factory.github_api(settings("t"), f"octo/r{i}", None) for i in range(3)]
    assert apis[0]._http.is_closed  # the least recently used one
    assert not apis[1]._http.is_closed and not apis[2]._http.is_closed
    assert factory.github_api(settings("t"), "octo/r2", None) is apis[2]
