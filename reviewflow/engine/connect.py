"""Which engine to talk to, from the environment, as engine ports.

- ``REVIEWFLOW_ENGINE_URL``: the REST API of a running Operaton engine
  (``http://host:8080/engine-rest``); several nodes of a cluster (one database),
  comma-separated: one view per node of an :class:`~reviewflow.engine.operaton.OperatonCluster`
  (workers poll every node; other calls fail over when a node is unreachable). Unset: the
  local engine (``reviewflow engine up``), started when it does not run.
- ``REVIEWFLOW_ENGINE_COCKPIT_URL``: Cockpit of that engine, for the links printed to
  operators (default: derived from the first REST URL).
- ``REVIEWFLOW_ENGINE_REST_USER`` / ``REVIEWFLOW_ENGINE_REST_PASSWORD``: basic auth, when the
  engine's REST API requires it (it should, when reachable beyond loopback).
- ``ZEEBE_ADDRESS``: a Camunda 8 cluster the user runs under their own licence, through the
  optional pyzeebe adapter (:mod:`reviewflow.engine.zeebe`). Nothing local starts then.
"""

import os
from collections.abc import Callable
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from reviewflow.engine.operaton import OperatonEngine, clustered
from reviewflow.engine.port import EnginePort
from shared.settings_util import blank_is_unset

COCKPIT_PATH = "/operaton/app/cockpit/default"


class EngineSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="REVIEWFLOW_ENGINE_", extra="ignore", hide_input_in_errors=True
    )

    url: str | None = None
    cockpit_url: str | None = None
    rest_user: str | None = None
    rest_password: SecretStr | None = None
    zeebe_address: str | None = Field(default=None, validation_alias="ZEEBE_ADDRESS")

    _blank_is_unset = field_validator(
        "url", "cockpit_url", "rest_user", "zeebe_address", mode="before"
    )(blank_is_unset)

    @property
    def rest_urls(self) -> list[str]:
        return [u.strip().rstrip("/") for u in (self.url or "").split(",") if u.strip()]

    @property
    def uses_zeebe(self) -> bool:
        return bool(self.zeebe_address)


def cockpit_for(rest_url: str) -> str:
    base = rest_url.rstrip("/")
    if base.endswith("/engine-rest"):
        base = base[: -len("/engine-rest")]
    return base + COCKPIT_PATH


def operaton_engines(
    rest_urls: list[str],
    settings: EngineSettings | None = None,
    lock_dir: Path | None = None,
    cockpit_url: str | None = None,
) -> list[EnginePort]:
    settings = settings or EngineSettings()
    auth = None
    if settings.rest_user and settings.rest_password is not None:
        auth = (settings.rest_user, settings.rest_password.get_secret_value())
    cockpit = cockpit_url or settings.cockpit_url
    # several nodes: one view per node of one cluster (polls stay on their node, every other
    # call fails over to another node when its node is unreachable)
    return clustered(
        [
            OperatonEngine(
                url,
                cockpit_url=cockpit or cockpit_for(url),
                auth=auth,
                lock_dir=lock_dir,
            )
            for url in rest_urls
        ]
    )


def start_lock_dir() -> Path:
    """Where start-or-correlate calls of one machine serialise per pull request."""
    from workers.settings import WorkerSettings

    return WorkerSettings().state_dir / "locks"


def open_engines(
    start_local: Callable[[], tuple[str, str]],
    lock_dir: Path | None = None,
) -> list[EnginePort]:
    """The engine ports to use. ``start_local`` brings the local engine up (or finds it) and
    returns its REST and Cockpit URLs; it is only called when nothing else is configured."""
    settings = EngineSettings()
    if any(name.startswith("ZEEBE_") and value.strip() for name, value in os.environ.items()):
        # half-configured Camunda 8 settings are an error, not silently ignored
        from reviewflow.engine.cluster import ClusterSettings

        ClusterSettings()
    if settings.uses_zeebe:
        try:
            from reviewflow.engine.zeebe import zeebe_engine
        except ImportError as exc:
            raise ValueError(
                "ZEEBE_ADDRESS is set, but the Camunda 8 adapter's client is not installed: "
                "pip install 'reviewflow[camunda8]' (or unset ZEEBE_ADDRESS to use Operaton)"
            ) from exc
        return [zeebe_engine()]
    urls = settings.rest_urls
    cockpit = None
    if not urls:
        rest, cockpit = start_local()
        urls = [rest]
    return operaton_engines(urls, settings, lock_dir, cockpit)
