"""Helpers shared by the ``pydantic-settings`` classes that read the environment.

An empty or all-blank environment variable means "not set": ``export X=`` must not turn into
an empty URL, model name or key. Use them as before-validators::

    _blank_is_unset = field_validator("base_url", mode="before")(blank_is_unset)
"""

from pydantic import AliasChoices, SecretStr, ValidationError
from pydantic_settings import BaseSettings


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


def settings_error_message(exc: ValidationError, kind: type[BaseSettings]) -> str:
    """One line naming each offending environment variable and what is wrong with it; never
    a value (the error's inputs are left out)."""
    problems = []
    for error in exc.errors(include_input=False, include_url=False, include_context=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        variable = env_variable(kind, error["loc"])
        problems.append(f"{variable}: {message}" if variable else message)
    text = "; ".join(problems) or "invalid settings"
    return " ".join(text.split())


def env_variable(kind: type[BaseSettings], loc: tuple[int | str, ...]) -> str | None:
    """The environment variable behind an error location of ``kind`` (None for the model)."""
    if not loc:
        return None
    name = str(loc[0])
    field = kind.model_fields.get(name)
    if field is None:  # already the alias the value was read under
        return name.upper()
    alias = field.validation_alias
    if isinstance(alias, str):
        return alias
    if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
        return alias.choices[0]
    return f"{kind.model_config.get('env_prefix', '')}{name}".upper()
