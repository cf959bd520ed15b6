"""`reviewflow review` argument handling that needs no engine."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from reviewflow.cli import app
from reviewflow.commands.review import operate_link
from reviewflow.review import github_target

runner = CliRunner()


def test_github_target_parses_owner_name_number() -> None:
    target = github_target(" octo-org/hello.world#42 ")
    assert (target.provider, target.repository, target.pr_number) == (
        "github",
        "octo-org/hello.world",
        42,
    )


@pytest.mark.parametrize("ref", ["octo/hello", "octo/hello#0", "../x#1", "octo/hello#1; rm"])
def test_bad_github_refs_are_refused(ref: str) -> None:
    with pytest.raises(ValueError, match="owner/name#number"):
        github_target(ref)


def test_operate_link() -> None:
    assert operate_link("http://localhost:8080/operate/", 2251799813685249) == (
        "http://localhost:8080/operate/processes/2251799813685249"
    )
    assert operate_link("", 1) is None
    assert operate_link("http://x/operate", 0) is None


def test_path_and_github_together_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["review", str(tmp_path), "--github", "octo/hello#1"])
    assert result.exit_code == 2
    assert "either a repository PATH or --github" in result.output


def test_github_without_credentials_says_which_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_TOKEN", "REVIEWFLOW_GITHUB_TOKEN", "REVIEWFLOW_GITHUB_APP_ID"):
        monkeypatch.delenv(name, raising=False)
    result = runner.invoke(app, ["review", "--github", "octo/hello#1"])
    assert result.exit_code == 2
    assert "REVIEWFLOW_GITHUB_TOKEN" in result.output
