"""The git host for a review target: a local repository or a GitHub pull request."""

from pathlib import Path

from shared.git.base import GitHost
from shared.git.github import GitHubHost
from shared.git.github_api import GitHubApi, GitHubSettings
from shared.git.local import LocalGitHost
from shared.models import ReviewTarget


def open_host(
    target: ReviewTarget, state_dir: Path, github: GitHubSettings | None = None
) -> GitHost:
    """The host that serves ``target``; GitHub credentials come from the environment."""
    if target.provider == "github":
        settings = github if github is not None else GitHubSettings()
        return GitHubHost(target, GitHubApi(settings, target.repository, target.installation_id))
    return LocalGitHost(target, state_dir)
