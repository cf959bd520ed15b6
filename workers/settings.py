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
    # how long a task stays locked to this worker; extended while a handler still runs, so a
    # worker that dies loses its task for at most this long. When set (REVIEWFLOW_LOCK_MS) it
    # also caps the diagram's lockDuration: the fault suite sets a few seconds
    lock_ms: int = 20_000
    # how long one fetch waits for a task (long polling; a task created on the same engine
    # node wakes it at once)
    poll_wait_ms: int = 10_000
    # tasks one worker process runs at once (per topic group)
    light_concurrency: int = 16
    # heavy branches one worker process runs at once
    heavy_concurrency: int = 16
    # base of the exponential backoff between job retries, ms
    retry_backoff_ms: int = 2_000

    @property
    def artifacts_dir(self) -> Path:
        return self.state_dir / "artifacts"
