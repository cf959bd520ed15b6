"""The repository's review configuration (``.reviewflow.yml``).

Layers, lowest first: built-in defaults, the org/global file, the repository's file, then
per-directory overrides (``overrides`` entries whose ``paths`` globs match a file). Unknown
keys and bad values are errors that name the key: nothing is silently ignored.
"""

import fnmatch
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.analyzers.catalog import Tool, unknown_rule
from shared.models import Category, Severity

CONFIG_FILE_NAME = ".reviewflow.yml"
# the file comes from the PR head: bounded before it is parsed, and while it is
MAX_CONFIG_BYTES = 256 * 1024
MAX_CONFIG_DEPTH = 32
# how much of an offending value an error message shows
MAX_SHOWN_VALUE = 80

DEFAULT_IGNORE_PATHS: tuple[str, ...] = (
    # lockfiles
    "**/package-lock.json",
    "**/yarn.lock",
    "**/pnpm-lock.yaml",
    "**/poetry.lock",
    "**/Pipfile.lock",
    "**/Cargo.lock",
    "**/go.sum",
    "**/composer.lock",
    "**/Gemfile.lock",
    "**/uv.lock",
    # build output, vendored and generated code
    "dist/**",
    "build/**",
    "out/**",
    "target/**",
    "**/node_modules/**",
    "vendor/**",
    "third_party/**",
    "**/*.min.js",
    "**/*.min.css",
    "**/*.map",
    "**/*_pb2.py",
    "**/*_pb2_grpc.py",
    "**/*.pb.go",
    "**/*.generated.*",
    "**/__generated__/**",
    # binaries and media
    "**/*.png",
    "**/*.jpg",
    "**/*.jpeg",
    "**/*.gif",
    "**/*.ico",
    "**/*.pdf",
    "**/*.zip",
    "**/*.gz",
    "**/*.jar",
    "**/*.so",
    "**/*.dll",
    "**/*.exe",
    "**/*.woff",
    "**/*.woff2",
)


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class SummaryConfig(StrictModel):
    enabled: bool = True
    mode: Literal["replace", "concatenate", "complement"] = "complement"
    custom_instructions: str = Field("", alias="customInstructions")


class MaxSuggestions(StrictModel):
    limit: int = Field(10, ge=0, le=500)
    limit_scope: Literal["pr", "file"] = Field("pr", alias="limitScope")
    per_file: int = Field(3, ge=0, le=100, alias="perFile")


class Rule(StrictModel):
    name: str = Field(min_length=1)
    paths: tuple[str, ...] = ("**",)
    scope: Literal["file", "pr"] = "file"
    instruction: str = Field(min_length=1)
    severity: Severity = Severity.MEDIUM


class ModelConfig(StrictModel):
    """LLM settings that may live in the repository. Credentials never do: they come from the
    environment of the workers (REVIEWFLOW_LLM_*)."""

    name: str | None = None
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    max_output_tokens: int = Field(2000, ge=64, le=32000, alias="maxOutputTokens")
    max_concurrency: int = Field(4, ge=1, le=32, alias="maxConcurrency")
    file_token_budget: int = Field(6000, ge=500, le=200000, alias="fileTokenBudget")


def _check_rules(tool: Tool, rules: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [rule for rule in rules if unknown_rule(tool, rule)]
    if unknown:
        raise ValueError(f"unknown {tool} rule(s): {', '.join(unknown)}")
    return rules


class _ToolRules(StrictModel):
    """One analyzer: on or off, rules added to and dropped from its curated selection."""

    extra_rules: tuple[str, ...] = Field((), alias="extraRules")
    disabled_rules: tuple[str, ...] = Field((), alias="disabledRules")


class RuffRules(_ToolRules):
    enabled: bool = True

    @field_validator("extra_rules", "disabled_rules")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_rules("ruff", value)


class OxlintRules(_ToolRules):
    enabled: bool = True

    @field_validator("extra_rules", "disabled_rules")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_rules("oxlint", value)


class SecretsRules(_ToolRules):
    enabled: bool = True

    @field_validator("extra_rules", "disabled_rules")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_rules("detect-secrets", value)


class RuffOverride(RuffRules):
    enabled: bool | None = None  # type: ignore[assignment]


class OxlintOverride(OxlintRules):
    enabled: bool | None = None  # type: ignore[assignment]


class SecretsOverride(SecretsRules):
    enabled: bool | None = None  # type: ignore[assignment]


class AnalyzersConfig(StrictModel):
    """The trusted analyzers of the AST-analysis stage (Ruff, oxlint, detect-secrets)."""

    enabled: bool = True
    ruff: RuffRules = Field(default_factory=RuffRules)
    oxlint: OxlintRules = Field(default_factory=OxlintRules)
    detect_secrets: SecretsRules = Field(default_factory=SecretsRules, alias="detectSecrets")
    timeout_seconds: float = Field(60.0, ge=1, le=600, alias="timeoutSeconds")
    memory_mb: int = Field(1024, ge=256, le=16384, alias="memoryMb")

    def tool(self, tool: Tool) -> _ToolRules:
        return {"ruff": self.ruff, "oxlint": self.oxlint, "detect-secrets": self.detect_secrets}[
            tool
        ]


class AnalyzersOverride(StrictModel):
    """Per-path changes to the analyzers: a tool on or off, rules added or dropped."""

    enabled: bool | None = None
    ruff: RuffOverride | None = None
    oxlint: OxlintOverride | None = None
    detect_secrets: SecretsOverride | None = Field(None, alias="detectSecrets")

    def tool(self, tool: Tool) -> _ToolRules | None:
        return {"ruff": self.ruff, "oxlint": self.oxlint, "detect-secrets": self.detect_secrets}[
            tool
        ]


class DirectoryOverride(StrictModel):
    paths: tuple[str, ...] = Field(min_length=1)
    categories: tuple[Category, ...] | None = None
    severity_filter: Severity | None = Field(None, alias="severityFilter")
    ignore: bool = False
    analyzers: AnalyzersOverride | None = None


class ReviewConfig(StrictModel):
    enabled: bool = True
    base_branches: tuple[str, ...] = Field(("*",), alias="baseBranches")
    ignored_title_keywords: tuple[str, ...] = Field(
        ("wip", "do not review"), alias="ignoredTitleKeywords"
    )
    run_on_draft: bool = Field(False, alias="runOnDraft")
    ignore_paths: tuple[str, ...] = Field(DEFAULT_IGNORE_PATHS, alias="ignorePaths")
    extra_ignore_paths: tuple[str, ...] = Field((), alias="extraIgnorePaths")
    max_files: int = Field(100, ge=1, le=3000, alias="maxFiles")
    categories: tuple[Category, ...] = (
        Category.BUG,
        Category.SECURITY,
        Category.PERFORMANCE,
        Category.MAINTAINABILITY,
        Category.BREAKING_CHANGE,
    )
    severity_filter: Severity = Field(Severity.MEDIUM, alias="severityFilter")
    max_suggestions: MaxSuggestions = Field(default_factory=MaxSuggestions, alias="maxSuggestions")
    committable_suggestions: bool = Field(True, alias="committableSuggestions")
    summary: SummaryConfig = Field(default_factory=SummaryConfig)
    request_changes: bool = Field(False, alias="requestChanges")
    approve: bool = False
    rules: tuple[Rule, ...] = ()
    context_files: tuple[str, ...] = Field((), alias="contextFiles")
    model: ModelConfig = Field(default_factory=ModelConfig)
    overrides: tuple[DirectoryOverride, ...] = ()
    analyzers: AnalyzersConfig = Field(default_factory=AnalyzersConfig)
    # how many times a heavy branch is re-dispatched after a timeout
    heavy_retries: int = Field(1, ge=0, le=5, alias="heavyRetries")

    @field_validator("base_branches", "ignored_title_keywords")
    @classmethod
    def _no_blank(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not item.strip() for item in value):
            raise ValueError("entries must not be blank")
        return value

    def all_ignore_paths(self) -> tuple[str, ...]:
        return self.ignore_paths + self.extra_ignore_paths

    def for_path(self, path: str) -> "EffectiveFileConfig":
        """The per-directory view: overrides whose globs match ``path`` apply in order."""
        categories = self.categories
        severity = self.severity_filter
        ignore = False
        for override in self.overrides:
            if any(path_matches(path, glob) for glob in override.paths):
                if override.categories is not None:
                    categories = override.categories
                if override.severity_filter is not None:
                    severity = override.severity_filter
                ignore = ignore or override.ignore
        return EffectiveFileConfig(categories=categories, severity_filter=severity, ignore=ignore)


class EffectiveFileConfig(StrictModel):
    categories: tuple[Category, ...]
    severity_filter: Severity
    ignore: bool


class ConfigError(ValueError):
    """A configuration that cannot be used. ``key`` names the offending setting."""

    def __init__(self, key: str, problem: str, source: str) -> None:
        self.key = key
        self.problem = problem
        self.source = source
        super().__init__(f"{source}: `{key}`: {problem}")


def path_matches(path: str, glob: str) -> bool:
    """Glob match where ``**/`` also matches zero directories."""
    if fnmatch.fnmatchcase(path, glob):
        return True
    if glob.startswith("**/") and fnmatch.fnmatchcase(path, glob[3:]):
        return True
    return glob.endswith("/**") and path.startswith(glob[:-3] + "/")


def _first_error(exc: ValidationError, source: str) -> ConfigError:
    err = exc.errors()[0]
    key = ".".join(str(part) for part in err["loc"]) or "(root)"
    if err["type"] == "extra_forbidden":
        problem = "unknown key"
    else:
        problem = f"{err['msg']} (got {preview(err.get('input'))})"
    return ConfigError(key, problem, source)


def preview(value: Any, limit: int = MAX_SHOWN_VALUE) -> str:
    """``value`` as JSON cut to ``limit`` characters (``…`` marks a cut), produced lazily:
    a huge or deeply shared value is never serialised whole."""
    text = ""
    for piece in _json_pieces(value):
        text += piece
        if len(text) > limit:
            return text[: limit - 1] + "…"
    return text


def _json_pieces(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        yield "{"
        for index, (key, item) in enumerate(value.items()):
            yield (", " if index else "") + json.dumps(str(key)[:MAX_SHOWN_VALUE]) + ": "
            yield from _json_pieces(item)
        yield "}"
    elif isinstance(value, list | tuple):
        yield "["
        for index, item in enumerate(value):
            if index:
                yield ", "
            yield from _json_pieces(item)
        yield "]"
    elif isinstance(value, str):
        yield json.dumps(value[: MAX_SHOWN_VALUE + 1])
    else:
        yield json.dumps(value, default=str)[: MAX_SHOWN_VALUE + 1]


class _RefusedYamlError(yaml.MarkedYAMLError):
    """YAML we do not accept in a configuration (aliases, anchors, deep nesting)."""


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors and aliases (an alias bomb expands exponentially
    when validated or shown) and nesting deeper than :data:`MAX_CONFIG_DEPTH`."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _RefusedYamlError(
                problem="uses a YAML anchor or alias (& or *), which is not allowed",
                problem_mark=event.start_mark,
            )
        self._depth += 1
        try:
            if self._depth > MAX_CONFIG_DEPTH:
                raise _RefusedYamlError(
                    problem=f"is nested deeper than {MAX_CONFIG_DEPTH} levels",
                    problem_mark=event.start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _load_yaml(text: str, source: str) -> Any:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_CONFIG_BYTES:
        raise ConfigError("(file)", f"is larger than {MAX_CONFIG_BYTES // 1024} KiB", source)
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    except _RefusedYamlError as exc:
        raise ConfigError("(file)", f"{exc.problem} ({_where(exc)})", source) from None
    except yaml.YAMLError as exc:
        raise ConfigError("(file)", f"not valid YAML at {_where(exc)}", source) from None
    finally:
        loader.dispose()


def _where(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    return f"line {mark.line + 1}" if mark is not None else "unknown position"


def parse_layer(text: str, source: str) -> dict[str, Any]:
    """Parse one YAML layer into a mapping, or raise ConfigError. The text is untrusted (the
    repository's file comes from the PR head): its size, nesting and anchors are bounded."""
    data = _load_yaml(text, source) if text.strip() else {}
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("(root)", "must be a mapping of keys to values", source)
    # validate the layer on its own so the error names the file that carries it
    try:
        ReviewConfig.model_validate(data)
    except ValidationError as exc:
        raise _first_error(exc, source) from None
    return data


def _merge(base: dict[str, Any], layer: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in layer.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def resolve_config(layers: list[tuple[str, str]]) -> ReviewConfig:
    """Merge ``(source, yaml_text)`` layers over the defaults, lowest first."""
    data: dict[str, Any] = {}
    for source, text in layers:
        data = _merge(data, parse_layer(text, source))
    try:
        return ReviewConfig.model_validate(data)
    except ValidationError as exc:
        raise _first_error(exc, "merged configuration") from None


def json_schema() -> dict[str, Any]:
    schema = ReviewConfig.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "reviewflow repository configuration (.reviewflow.yml)"
    return schema


def write_json_schema(path: Path) -> None:
    path.write_text(json.dumps(json_schema(), indent=2, sort_keys=True) + "\n")
