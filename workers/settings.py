"""Settings of a worker process, all from the environment. Secrets (LLM key, host tokens)
are read by the clients that need them and never written to process variables or logs."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_state_dir() -> Path:
    return Path.home() / ".local" / "state" / "reviewflow"


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REVIEWFLOW_", extra="ignore")

    state_dir: Path = Field(default_factory=default_state_dir)
    # org-wide configuration layer (a YAML file), applied under the repository's file
    global_config: Path | None = None
    # job activation timeout for light stages, ms (above their p99)
    light_timeout_ms: int = 60_000
    heavy_concurrency: int = 4
    # base of the exponential backoff between job retries, ms
    retry_backoff_ms: int = 2_000

    @property
    def artifacts_dir(self) -> Path:
        return self.state_dir / "artifacts"
