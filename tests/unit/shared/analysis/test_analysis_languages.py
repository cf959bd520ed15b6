import threading

import pytest
from tree_sitter import Parser

from shared.analysis.languages import (
    SUPPORTED_LANGUAGES,
    detect_language,
    get_ts_parser,
    is_javascript_like,
    parse_source,
)


@pytest.mark.parametrize(
    ("path", "language"),
    [
        ("pkg/module.py", "python"),
        ("web/app.js", "javascript"),
        ("web/app.mjs", "javascript"),
        ("web/app.cjs", "javascript"),
        ("web/App.jsx", "javascript"),
        ("web/api.ts", "typescript"),
        ("web/App.tsx", "tsx"),
        ("web/UPPER.PY", "python"),
    ],
)
def test_detects_supported_languages_by_extension(path: str, language: str) -> None:
    assert detect_language(path) == language


@pytest.mark.parametrize(
    "path", ["main.go", "lib/x.rb", "Makefile", "README.md", "styles.css", "notes.py.txt"]
)
def test_unsupported_extensions_have_no_language(path: str) -> None:
    assert detect_language(path) is None


def test_javascript_family() -> None:
    assert not is_javascript_like("python")
    assert all(is_javascript_like(lang) for lang in SUPPORTED_LANGUAGES if lang != "python")


def test_parser_is_cached_per_thread() -> None:
    first = get_ts_parser("python")
    assert isinstance(first, Parser)
    assert get_ts_parser("python") is first
    assert get_ts_parser("typescript") is not first

    other: list[Parser] = []
    thread = threading.Thread(target=lambda: other.append(get_ts_parser("python")))
    thread.start()
    thread.join()
    assert other and other[0] is not first


@pytest.mark.parametrize(
    ("language", "source", "root"),
    [
        ("python", "def f():\n    return 1\n", "module"),
        ("javascript", "const f = () => 1;\n", "program"),
        ("typescript", "let x: number = 1;\n", "program"),
        ("tsx", "const A = () => <div>{x}</div>;\n", "program"),
    ],
)
def test_parse_source_parses_each_language(language: str, source: str, root: str) -> None:
    tree = parse_source(source, language)  # type: ignore[arg-type]
    assert tree.root_node.type == root
    assert not tree.root_node.has_error
