"""`reviewflow review` argument handling that needs no engine."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from reviewflow.cli import app
from reviewflow.commands.review import print_run
from reviewflow.review import ReviewRun, github_target

runner = CliRunner()


def test_github_target_parses_owner_name_number() -> None:
    target = github_target(" octo-org/hello.world#42 ")
    assert (target.provider, target.repository, target.pr_number) == (
        "github",
        "octo-org/hello.world",
        42,
    )


@pytest.mark.parametrize(
    "ref", ["octo/hello", "octo/hello#0", "../x#1", "octo/hello#1; rm", "-octo/x#1", "octo/..#2"]
)
def test_bad_github_refs_are_refused(ref: str) -> None:
    with pytest.raises(ValueError, match="owner/name#number"):
        github_target(ref)


def test_the_run_summary_names_the_cockpit_page_and_open_incidents(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = ReviewRun(
        run_id="pi-1",
        instance_id="pi-1",
        variables={"verdict": "comment"},
        result=None,
        report_path=None,
        seconds=1.5,
        operator_url="http://127.0.0.1:8080/operaton/app/cockpit/default/#/review/pi-1",
        incidents=1,
    )
    print_run(run)
    out = capsys.readouterr().out
    assert "Process instance pi-1" in out
    page = "http://127.0.0.1:8080/operaton/app/cockpit/default/#/review/pi-1"
    assert f"Cockpit: {page}" in out.replace("\n", "")
    assert "1 open incident(s)" in out


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
