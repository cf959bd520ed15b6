import multiprocessing
import resource
import time
from typing import Any

import pytest

from shared.config import (
    ConfigError,
    ReviewConfig,
    json_schema,
    parse_layer,
    path_matches,
    resolve_config,
)
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


# ---- hostile YAML from a PR head --------------------------------------------------------

LAUGHS = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(
            f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]"
            for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
        ),
        "extraIgnorePaths: *i",
        "",
    ]
)


def _bounded(text: str, seconds: float = 10.0) -> str:
    """parse_layer(text) in a child process limited in time and memory; the error text, or
    a description of how the child failed. The pre-fix parser took 47 s and 4.4 GB here."""
    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=_parse_into, args=(text, child))
    process.start()
    child.close()
    if not parent.poll(seconds):
        process.kill()
        process.join()
        return f"timed out after {seconds} s"
    result: str = parent.recv()
    process.join()
    return result


def _parse_into(text: str, pipe: Any) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    try:
        parse_layer(text, ".reviewflow.yml")
    except ConfigError as exc:
        pipe.send(f"ConfigError key={exc.key} {exc}")
    except BaseException as exc:
        pipe.send(f"{type(exc).__name__}")
    else:
        pipe.send("accepted")


def test_a_billion_laughs_file_is_refused_quickly_naming_the_problem() -> None:
    assert len(LAUGHS.encode()) < 600
    started = time.monotonic()
    outcome = _bounded(LAUGHS)
    assert time.monotonic() - started < 5, outcome
    assert outcome.startswith("ConfigError key=(file)"), outcome
    assert "alias" in outcome and "line 1" in outcome


@pytest.mark.parametrize(
    "text",
    [
        "summary: &s {enabled: true}\n",  # an anchor alone
        "base: &b {limit: 3}\nmaxSuggestions:\n  <<: *b\n",  # a merge key needs an alias
        "rules: [*undefined]\n",
    ],
)
def test_anchors_and_aliases_are_refused(text: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_layer(text, ".reviewflow.yml")
    assert err.value.key == "(file)" and "alias" in str(err.value)


def test_nesting_deeper_than_the_limit_is_refused() -> None:
    with pytest.raises(ConfigError, match="nested deeper than 32"):
        parse_layer("rules: " + "[" * 40 + "]" * 40 + "\n", ".reviewflow.yml")
    with pytest.raises(ConfigError, match="nested deeper than 32"):
        parse_layer("a: " + "{b: " * 40 + "1" + "}" * 40 + "\n", ".reviewflow.yml")


def test_nesting_within_the_limit_still_reaches_validation() -> None:
    with pytest.raises(ConfigError) as err:
        parse_layer("rules: " + "[" * 20 + "]" * 20 + "\n", ".reviewflow.yml")
    assert err.value.key.startswith("rules")


def test_a_file_over_the_size_limit_is_refused_before_parsing() -> None:
    text = "extraIgnorePaths:\n" + '  - "x"\n' * 40_000
    assert len(text.encode()) > 256 * 1024
    with pytest.raises(ConfigError, match="larger than 256 KiB"):
        parse_layer(text, ".reviewflow.yml")


def test_a_bad_value_is_shown_truncated_and_the_key_named() -> None:
    wide = "[" + ", ".join(f'"{"x" * 50}{i}"' for i in range(2000)) + "]"
    with pytest.raises(ConfigError) as err:
        parse_layer(f"extraIgnorePaths: [{wide}]\n", ".reviewflow.yml")
    assert err.value.key == "extraIgnorePaths.0"
    got = err.value.problem.split("(got ", 1)[1]
    assert len(got) <= 90 and got.rstrip(")").endswith("…")


def test_a_short_bad_value_is_shown_whole() -> None:
    with pytest.raises(ConfigError) as err:
        parse_layer("maxFiles: lots\n", ".reviewflow.yml")
    assert err.value.key == "maxFiles" and '(got "lots")' in str(err.value)
