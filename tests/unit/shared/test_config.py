import pytest

from shared.config import ConfigError, ReviewConfig, json_schema, path_matches, resolve_config
from shared.models import Category, Severity


def test_defaults_when_no_layer() -> None:
    config = resolve_config([])
    assert config.enabled and config.severity_filter is Severity.MEDIUM
    assert Category.STYLE not in config.categories


def test_layers_merge_in_order_and_nested_keys_merge() -> None:
    config = resolve_config(
        [
            ("global", "maxFiles: 50\nmaxSuggestions: {limit: 4}\n"),
            (".reviewflow.yml", "maxSuggestions: {limitScope: file}\nrunOnDraft: true\n"),
        ]
    )
    assert config.max_files == 50
    assert config.max_suggestions.limit == 4 and config.max_suggestions.limit_scope == "file"
    assert config.run_on_draft is True


def test_unknown_key_is_an_error_naming_it() -> None:
    with pytest.raises(ConfigError) as err:
        resolve_config([(".reviewflow.yml", "enabled: true\nmaxFilez: 3\n")])
    assert err.value.key == "maxFilez" and "unknown key" in str(err.value)
    assert ".reviewflow.yml" in str(err.value)


def test_bad_value_names_nested_key() -> None:
    with pytest.raises(ConfigError) as err:
        resolve_config([(".reviewflow.yml", "summary: {mode: shout}\n")])
    assert err.value.key == "summary.mode"


def test_invalid_yaml_is_reported_with_line() -> None:
    with pytest.raises(ConfigError) as err:
        resolve_config([(".reviewflow.yml", "enabled: [\n")])
    assert "not valid YAML" in str(err.value)


def test_directory_override_applies_to_matching_paths_only() -> None:
    config = ReviewConfig.model_validate(
        {
            "overrides": [
                {"paths": ["legacy/**"], "severityFilter": "critical", "ignore": False},
                {"paths": ["docs/**"], "ignore": True},
            ],
        }
    )
    assert config.for_path("legacy/a.py").severity_filter is Severity.CRITICAL
    assert config.for_path("src/a.py").severity_filter is Severity.MEDIUM
    assert config.for_path("docs/x.md").ignore and not config.for_path("src/x.py").ignore


def test_glob_double_star_matches_root_files() -> None:
    assert path_matches("package-lock.json", "**/package-lock.json")
    assert path_matches("dist/a/b.js", "dist/**")
    assert not path_matches("src/dist.py", "dist/**")


def test_json_schema_uses_file_keys() -> None:
    schema = json_schema()
    assert "baseBranches" in schema["properties"] and schema["additionalProperties"] is False


def test_committed_json_schema_is_current() -> None:
    import json
    from pathlib import Path

    committed = json.loads(
        (Path(__file__).parents[3] / "schema" / "reviewflow.schema.json").read_text()
    )
    assert committed == json.loads(json.dumps(json_schema())), (
        "regenerate schema/reviewflow.schema.json"
    )
