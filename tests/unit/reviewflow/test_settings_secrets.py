"""An invalid settings combination never shows a secret, nor any tail of it: not in the
ValidationError's str or repr, not in what the commands print (they exit 2 with one line
naming the variable)."""

from typing import Any

import pytest
from pydantic import ValidationError
from pydantic_settings import BaseSettings
from typer.testing import CliRunner

from reviewflow.cli import app
from reviewflow.engine.cluster import ClusterSettings
from shared.git.github_api import GitHubSettings
from shared.llm.settings import LlmSettings

SECRET = "s3cr3t-Qx9Zk7WvTAIL"
ZEEBE_VARS = (
    "ZEEBE_ADDRESS",
    "ZEEBE_CLIENT_ID",
    "ZEEBE_CLIENT_SECRET",
    "ZEEBE_AUTHORIZATION_SERVER_URL",
    "ZEEBE_TOKEN_AUDIENCE",
    "ZEEBE_SECURE",
)
INVALID = [
    # OAuth half configured: id and secret without the authorization server
    {"ZEEBE_CLIENT_ID": "reviewflow", "ZEEBE_CLIENT_SECRET": SECRET},
    # the secret alone
    {"ZEEBE_CLIENT_SECRET": SECRET},
    # OAuth over plain text
    {
        "ZEEBE_CLIENT_ID": "reviewflow",
        "ZEEBE_CLIENT_SECRET": SECRET,
        "ZEEBE_AUTHORIZATION_SERVER_URL": "https://login.example/oauth/token",
        "ZEEBE_SECURE": "false",
    },
]


def assert_no_secret(text: str) -> None:
    assert SECRET not in text
    for length in range(4, len(SECRET)):
        assert SECRET[-length:] not in text, f"a {length}-character tail of the secret shows"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ZEEBE_VARS:
        monkeypatch.delenv(name, raising=False)


class WouldConnectError(RuntimeError):
    pass


@pytest.fixture(autouse=True)
def no_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing here may reach an engine: a command that gets past its settings fails."""

    async def refuse(*args: Any, **kwargs: Any) -> None:
        raise WouldConnectError("the command went on to connect")

    def refuse_sync(*args: Any, **kwargs: Any) -> None:
        raise WouldConnectError("the command went on to start the engine")

    monkeypatch.setattr("reviewflow.commands.worker.run_workers", refuse)
    monkeypatch.setattr("reviewflow.commands.webhook.deploy_process", refuse)
    monkeypatch.setattr("reviewflow.commands.review.review_with_workers", refuse)
    monkeypatch.setattr("reviewflow.engine.local.LocalEngine.up", refuse_sync)


@pytest.mark.parametrize("env", INVALID)
def test_the_validation_error_shows_no_part_of_the_secret(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as err:
        ClusterSettings()
    assert_no_secret(str(err.value))
    assert_no_secret(repr(err.value))
    assert_no_secret(repr(err.value.errors(include_input=False)))


@pytest.mark.parametrize("settings", [ClusterSettings, GitHubSettings, LlmSettings])
def test_every_settings_model_with_a_secret_hides_inputs_in_errors(
    settings: type[BaseSettings],
) -> None:
    assert settings.model_config.get("hide_input_in_errors") is True


def invoke(args: list[str], env: dict[str, str]) -> Any:
    return CliRunner().invoke(app, args, env=env)


COMMANDS = [
    ["worker", "all"],
    ["webhook", "serve", "--no-deploy"],
    ["review", "--github", "codertocat/hello-world#2"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: a[0])
@pytest.mark.parametrize("env", INVALID)
def test_commands_exit_2_with_one_line_naming_the_variable(
    args: list[str], env: dict[str, str]
) -> None:
    full_env = {
        **env,
        "SECRET_GITHUB_WEBHOOK_SECRET": "webhook-secret",
        "REVIEWFLOW_GITHUB_TOKEN": "ghp_token_for_the_review_command",
    }
    result = invoke(args, full_env)
    output = result.output + (str(result.exception) if result.exception else "")
    assert result.exit_code == 2, output
    assert_no_secret(output)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "ZEEBE_" in lines[0] and "error" in lines[0].lower()


def test_a_bad_llm_setting_in_the_worker_is_one_line_naming_it() -> None:
    result = invoke(
        ["worker", "all"],
        {"REVIEWFLOW_LLM_API_KEY": SECRET, "REVIEWFLOW_LLM_TIMEOUT_SECONDS": "-1"},
    )
    assert result.exit_code == 2, result.output
    assert "REVIEWFLOW_LLM_TIMEOUT_SECONDS" in result.output
    assert_no_secret(result.output)
