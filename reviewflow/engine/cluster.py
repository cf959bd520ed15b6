"""Connecting to a Zeebe gateway: the local engine, an external self-managed cluster, or SaaS.

Environment (all optional):

- ``ZEEBE_ADDRESS``: gRPC address of an external cluster. When set, nothing local is started.
- ``ZEEBE_CLIENT_ID``, ``ZEEBE_CLIENT_SECRET``, ``ZEEBE_AUTHORIZATION_SERVER_URL``,
  ``ZEEBE_TOKEN_AUDIENCE``: OAuth2 client credentials (Camunda SaaS, secured self-managed).
  Setting any of the first three requires all three. OAuth always runs over TLS.
- ``ZEEBE_SECURE``: TLS without OAuth (``true``/``false``; default plain text).

The client secret is a ``SecretStr``: it is masked in ``repr`` and in :meth:`describe`, and only
unwrapped when the channel is built.
"""

import grpc  # type: ignore[import-untyped,unused-ignore]  # no stubs unless types-grpcio
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pyzeebe import (
    ZeebeClient,
    create_insecure_channel,
    create_oauth2_client_credentials_channel,
    create_secure_channel,
)

from shared.settings_util import blank_is_unset

DEFAULT_LOCAL_ADDRESS = "127.0.0.1:26500"


class ClusterSettings(BaseSettings):
    # hide_input_in_errors: a validation error would otherwise print the inputs, secret included
    model_config = SettingsConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    zeebe_address: str | None = Field(default=None, validation_alias="ZEEBE_ADDRESS")
    zeebe_client_id: str | None = Field(default=None, validation_alias="ZEEBE_CLIENT_ID")
    zeebe_client_secret: SecretStr | None = Field(
        default=None, validation_alias="ZEEBE_CLIENT_SECRET"
    )
    zeebe_authorization_server_url: str | None = Field(
        default=None, validation_alias="ZEEBE_AUTHORIZATION_SERVER_URL"
    )
    zeebe_token_audience: str | None = Field(default=None, validation_alias="ZEEBE_TOKEN_AUDIENCE")
    zeebe_secure: bool | None = Field(default=None, validation_alias="ZEEBE_SECURE")

    _blank_is_unset = field_validator(
        "zeebe_address",
        "zeebe_client_id",
        "zeebe_authorization_server_url",
        "zeebe_token_audience",
        "zeebe_secure",
        mode="before",
    )(blank_is_unset)

    @field_validator("zeebe_client_secret", mode="before")
    @classmethod
    def _blank_secret_is_unset(cls, value: object) -> object:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str):
            return SecretStr(value) if value.strip() else None
        return value

    @model_validator(mode="after")
    def _oauth_complete(self) -> "ClusterSettings":
        oauth = {
            "ZEEBE_CLIENT_ID": self.zeebe_client_id,
            "ZEEBE_CLIENT_SECRET": self.zeebe_client_secret,
            "ZEEBE_AUTHORIZATION_SERVER_URL": self.zeebe_authorization_server_url,
        }
        given = [name for name, value in oauth.items() if value is not None]
        missing = [name for name, value in oauth.items() if value is None]
        if given and missing:
            raise ValueError(
                f"OAuth needs {', '.join(oauth)}; {', '.join(given)} set but "
                f"{', '.join(missing)} missing"
            )
        if given and self.zeebe_secure is False:
            raise ValueError(
                "ZEEBE_SECURE=false with OAuth credentials: tokens are only sent over TLS; "
                "unset ZEEBE_SECURE"
            )
        return self

    @property
    def external(self) -> bool:
        return self.zeebe_address is not None

    @property
    def uses_oauth(self) -> bool:
        return self.zeebe_client_id is not None

    def address(self, default: str = DEFAULT_LOCAL_ADDRESS) -> str:
        return self.zeebe_address or default

    def describe(self, default: str = DEFAULT_LOCAL_ADDRESS) -> str:
        """A one-line, secret-free description for logs and the CLI."""
        if self.uses_oauth:
            auth = (
                f"OAuth client {self.zeebe_client_id} via {self.zeebe_authorization_server_url}"
                + (f" (audience {self.zeebe_token_audience})" if self.zeebe_token_audience else "")
            )
            return f"{self.address(default)} over TLS, {auth}"
        transport = "TLS" if self.zeebe_secure else "plain text"
        return f"{self.address(default)} over {transport}, no authentication"


def create_channel(
    settings: ClusterSettings, default_address: str = DEFAULT_LOCAL_ADDRESS
) -> grpc.aio.Channel:
    """A pyzeebe gRPC channel for these settings (call inside a running event loop)."""
    address = settings.address(default_address)
    if settings.uses_oauth:
        assert settings.zeebe_client_id is not None
        assert settings.zeebe_client_secret is not None
        assert settings.zeebe_authorization_server_url is not None
        return create_oauth2_client_credentials_channel(
            grpc_address=address,
            client_id=settings.zeebe_client_id,
            client_secret=settings.zeebe_client_secret.get_secret_value(),
            authorization_server=settings.zeebe_authorization_server_url,
            audience=settings.zeebe_token_audience,
        )
    if settings.zeebe_secure:
        return create_secure_channel(grpc_address=address)
    return create_insecure_channel(grpc_address=address)


async def cluster_topology(
    settings: ClusterSettings, default_address: str = DEFAULT_LOCAL_ADDRESS
) -> list[tuple[int, str, int]]:
    """Brokers as (node id, host, port) from the gateway's gRPC topology.

    Raises when the gateway is unreachable or refuses the credentials."""
    channel = create_channel(settings, default_address)
    try:
        client = ZeebeClient(channel, max_connection_retries=1)
        topology = await client.topology()
        return [(broker.node_id, broker.host, broker.port) for broker in topology.brokers]
    finally:
        await channel.close()
