"""Language detection by file extension and cached tree-sitter parsers.

Parsers come from ``tree_sitter_language_pack`` (grammars bundled in the wheel, no network).
A tree-sitter ``Parser`` must not be shared between threads while it parses, so the cache is
per thread: each thread builds at most one parser per language.
"""

import threading
from pathlib import PurePosixPath
from typing import Literal, get_args

from tree_sitter import Language, Parser, Tree
from tree_sitter_language_pack import get_language as _pack_language
from tree_sitter_language_pack import get_parser as _pack_parser

LanguageName = Literal["python", "javascript", "typescript", "tsx"]

SUPPORTED_LANGUAGES: tuple[LanguageName, ...] = get_args(LanguageName)

EXTENSION_LANGUAGES: dict[str, LanguageName] = {
    ".py": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
}

_local = threading.local()


def file_extension(path: str) -> str:
    """The lower-cased last suffix of ``path`` ("" when there is none)."""
    return PurePosixPath(path).suffix.lower()


def detect_language(path: str) -> LanguageName | None:
    """The language of ``path`` from its extension, or None when it is not supported."""
    return EXTENSION_LANGUAGES.get(file_extension(path))


def is_javascript_like(language: LanguageName) -> bool:
    """JavaScript, TypeScript and TSX share most of their grammar (and our rules)."""
    return language != "python"


def get_ts_language(language: LanguageName) -> Language:
    return _pack_language(language)


def get_ts_parser(language: LanguageName) -> Parser:
    """The calling thread's parser for ``language`` (built once per thread)."""
    cache: dict[str, Parser] | None = getattr(_local, "parsers", None)
    if cache is None:
        cache = {}
        _local.parsers = cache
    parser = cache.get(language)
    if parser is None:
        parser = _pack_parser(language)
        cache[language] = parser
    return parser


def parse_source(source: str | bytes, language: LanguageName) -> Tree:
    """Parse ``source``; tree-sitter never fails, syntax errors become ERROR nodes."""
    data = source.encode("utf-8", errors="replace") if isinstance(source, str) else source
    return get_ts_parser(language).parse(data)
