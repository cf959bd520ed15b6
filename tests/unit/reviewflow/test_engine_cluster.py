"""Cluster settings from the environment and the channel each one produces."""

from typing import Any

import pytest
from pydantic import ValidationError

from reviewflow.engine import cluster as cluster_module
from reviewflow.engine.cluster import ClusterSettings, create_channel

ZEEBE_VARS = (
    "ZEEBE_ADDRESS",
    "ZEEBE_CLIENT_ID",
    "ZEEBE_CLIENT_SECRET",
    "ZEEBE_AUTHORIZATION_SERVER_URL",
    "ZEEBE_TOKEN_AUDIENCE",
    "ZEEBE_SECURE",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ZEEBE_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    recorded: list[tuple[str, dict[str, Any]]] = []
    for name in (
        "create_insecure_channel",
        "create_secure_channel",
        "create_oauth2_client_credentials_channel",
    ):

        def fake(_name: str = name, **kwargs: Any) -> str:
            recorded.append((_name, kwargs))
            return f"channel:{_name}"

        monkeypatch.setattr(cluster_module, name, fake)
    return recorded


def test_nothing_set_means_the_local_engine(calls: list[tuple[str, dict[str, Any]]]) -> None:
    settings = ClusterSettings()
    assert not settings.external and not settings.uses_oauth
    assert create_channel(settings) == "channel:create_insecure_channel"
    assert calls == [("create_insecure_channel", {"grpc_address": "127.0.0.1:26500"})]
    assert settings.describe() == "127.0.0.1:26500 over plain text, no authentication"


def test_external_address(
    monkeypatch: pytest.MonkeyPatch, calls: list[tuple[str, dict[str, Any]]]
) -> None:
    monkeypatch.setenv("ZEEBE_ADDRESS", "zeebe.example:26500")
    monkeypatch.setenv("ZEEBE_SECURE", "true")
    settings = ClusterSettings()
    assert settings.external
    create_channel(settings)
    assert calls == [("create_secure_channel", {"grpc_address": "zeebe.example:26500"})]


def test_oauth_channel_gets_the_unwrapped_secret_which_is_never_shown(
    monkeypatch: pytest.MonkeyPatch, calls: list[tuple[str, dict[str, Any]]]
) -> None:
    monkeypatch.setenv("ZEEBE_ADDRESS", "abc.bru-2.zeebe.camunda.io:443")
    monkeypatch.setenv("ZEEBE_CLIENT_ID", "client-1")
    monkeypatch.setenv("ZEEBE_CLIENT_SECRET", "very-secret-value")
    monkeypatch.setenv("ZEEBE_AUTHORIZATION_SERVER_URL", "https://login.example/oauth/token")
    monkeypatch.setenv("ZEEBE_TOKEN_AUDIENCE", "zeebe.camunda.io")

    settings = ClusterSettings()
    create_channel(settings)

    assert calls == [
        (
            "create_oauth2_client_credentials_channel",
            {
                "grpc_address": "abc.bru-2.zeebe.camunda.io:443",
                "client_id": "client-1",
                "client_secret": "very-secret-value",
                "authorization_server": "https://login.example/oauth/token",
                "audience": "zeebe.camunda.io",
            },
        )
    ]
    assert "very-secret-value" not in repr(settings)
    assert "very-secret-value" not in str(settings)
    assert "very-secret-value" not in settings.describe()
    assert "client-1" in settings.describe() and "TLS" in settings.describe()


def test_incomplete_oauth_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZEEBE_CLIENT_ID", "client-1")
    with pytest.raises(ValidationError) as info:
        ClusterSettings()
    message = str(info.value)
    assert "ZEEBE_CLIENT_SECRET" in message and "ZEEBE_AUTHORIZATION_SERVER_URL" in message


def test_oauth_refuses_plain_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZEEBE_CLIENT_ID", "c")
    monkeypatch.setenv("ZEEBE_CLIENT_SECRET", "s")
    monkeypatch.setenv("ZEEBE_AUTHORIZATION_SERVER_URL", "https://login.example/token")
    monkeypatch.setenv("ZEEBE_SECURE", "false")
    with pytest.raises(ValidationError, match="only sent over TLS"):
        ClusterSettings()


def test_blank_values_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZEEBE_ADDRESS", "  ")
    monkeypatch.setenv("ZEEBE_CLIENT_SECRET", "")
    settings = ClusterSettings()
    assert not settings.external and settings.zeebe_client_secret is None


async def test_real_insecure_channel_can_be_built_and_closed() -> None:
    channel = create_channel(ClusterSettings(), default_address="127.0.0.1:1")
    await channel.close()


def test_validation_errors_do_not_echo_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZEEBE_CLIENT_SECRET", "s3cret-value")
    monkeypatch.setenv("ZEEBE_SECURE", "false")
    monkeypatch.setenv("ZEEBE_CLIENT_ID", "c")
    monkeypatch.setenv("ZEEBE_AUTHORIZATION_SERVER_URL", "https://auth.example/token")
    with pytest.raises(ValidationError) as caught:
        ClusterSettings()
    assert "s3cret" not in str(caught.value)
    assert "input_value" not in str(caught.value)
    monkeypatch.setenv("ZEEBE_SECURE", "s3cret-typed-into-the-wrong-variable")
    with pytest.raises(ValidationError) as caught:
        ClusterSettings()
    assert "s3cret" not in str(caught.value)
