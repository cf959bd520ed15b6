"""Credentials and endpoint of the LLM, from the workers' environment (``REVIEWFLOW_LLM_*``).

The repository's ``.reviewflow.yml`` never carries these: only the model tuning knobs
(:class:`shared.config.ModelConfig`) live there. The API key is a ``SecretStr``: it shows as
``'**********'`` in ``repr``/``str`` and is only unwrapped when the HTTP client is built.
"""

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings_util import blank_is_unset, blank_secret_is_unset


class LlmSettings(BaseSettings):
    """Any OpenAI-compatible endpoint: base URL + key + model name."""

    # a validation error never prints its input (the API key)
    model_config = SettingsConfigDict(
        env_prefix="REVIEWFLOW_LLM_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    base_url: str | None = None
    api_key: SecretStr | None = None
    model: str | None = None
    timeout_seconds: float = Field(60.0, gt=0)
    max_retries: int = Field(4, ge=0, le=20)

    _blank_is_unset = field_validator("base_url", "model", mode="before")(blank_is_unset)
    _blank_key_is_unset = field_validator("api_key", mode="before")(blank_secret_is_unset)

    @property
    def configured(self) -> bool:
        """True only when base URL, API key and model are all set (non-blank)."""
        return bool(self.base_url and self.api_key is not None and self.model)
