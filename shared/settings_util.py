"""Helpers shared by the ``pydantic-settings`` classes that read the environment.

An empty or all-blank environment variable means "not set": ``export X=`` must not turn into
an empty URL, model name or key. Use them as before-validators::

    _blank_is_unset = field_validator("base_url", mode="before")(blank_is_unset)
"""

from pydantic import SecretStr


def blank_is_unset(value: object) -> object:
    """A string is stripped; a blank one becomes None. Anything else passes unchanged."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def blank_secret_is_unset(value: object) -> object:
    """A secret (``SecretStr`` or plain string) is stripped; a blank one becomes None. The
    value is only unwrapped here, never logged."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, str):
        value = value.strip()
        return SecretStr(value) if value else None
    return value
