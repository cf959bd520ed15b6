import textwrap

from shared.analysis.symbols import (
    CallSite,
    Symbol,
    extract_calls,
    extract_symbols,
    index_source,
    map_lines_to_symbols,
    symbols_at_lines,
)

PYTHON = textwrap.dedent(
    '''\
    import os
    import numpy as np
    from .store import save as persist, load
    from pkg import util


    @cache(ttl=10)
    def fetch(url, /, retries: int = 3, *, timeout=None, **options):
        def attempt(n):
            return os.path.join(url, str(n))

        return attempt(retries)


    class Repo(Base):
        """Docstring."""

        def __init__(self, root):
            self.root = root

        def add(
            self,
            item,
            *tags,
        ):
            persist(item, key=self.root)
            return util.normalize(item, *tags)

        @staticmethod
        def build():
            return Repo("/tmp")
    '''
)


def by_name(symbols: list[Symbol]) -> dict[str, Symbol]:
    return {s.qualified_name: s for s in symbols}


def test_python_symbols_names_kinds_and_ranges() -> None:
    symbols = by_name(extract_symbols(PYTHON, "python"))
    assert list(symbols) == [
        "fetch",
        "fetch.attempt",
        "Repo",
        "Repo.__init__",
        "Repo.add",
        "Repo.build",
    ]
    fetch = symbols["fetch"]
    assert (fetch.kind, fetch.start_line, fetch.end_line) == ("function", 7, 12)
    assert fetch.decorators == ("cache",)
    assert fetch.signature == "(url, /, retries: int = 3, *, timeout=None, **options)"
    assert not fetch.nested
    attempt = symbols["fetch.attempt"]
    assert (attempt.kind, attempt.start_line, attempt.end_line, attempt.nested) == (
        "function",
        9,
        10,
        True,
    )
    repo = symbols["Repo"]
    assert (repo.kind, repo.start_line, repo.end_line, repo.signature) == ("class", 15, 31, "")
    add = symbols["Repo.add"]
    assert (add.kind, add.container, add.start_line, add.end_line) == ("method", "Repo", 21, 27)
    # the parameter list as written, whitespace collapsed, trailing comma dropped
    assert add.signature == "(self, item, *tags)"
    build = symbols["Repo.build"]
    assert build.decorators == ("staticmethod",)
    assert build.start_line == 29  # the decorator line: a changed decorator changes the method


def test_python_parameter_kinds() -> None:
    fetch = by_name(extract_symbols(PYTHON, "python"))["fetch"]
    assert [(p.name, p.kind, p.optional, p.annotation) for p in fetch.parameters] == [
        ("url", "positional_only", False, ""),
        ("retries", "positional", True, "int"),
        ("timeout", "keyword_only", True, ""),
        ("options", "var_keyword", False, ""),
    ]


def test_python_calls_with_receiver_enclosing_symbol_and_arguments() -> None:
    calls = extract_calls(PYTHON, "python")
    summary = [(c.callee, c.line, c.enclosing, c.receiver) for c in calls]
    assert ("cache", 7, None, None) in summary
    assert ("join", 10, "fetch.attempt", "os.path") in summary
    assert ("str", 10, "fetch.attempt", None) in summary
    assert ("attempt", 12, "fetch", None) in summary
    assert ("Repo", 31, "Repo.build", None) in summary
    persist = next(c for c in calls if c.callee == "persist")
    assert (persist.positional_args, persist.keyword_args, persist.has_unpacking) == (
        1,
        ("key",),
        False,
    )
    normalize = next(c for c in calls if c.callee == "normalize")
    assert normalize.has_unpacking
    assert normalize.display == "util.normalize"


def test_python_imports() -> None:
    imports = {(b.local, b.module, b.name) for b in index_source(PYTHON, "python").imports}
    assert imports == {
        ("os", "os", None),
        ("np", "numpy", None),
        ("persist", ".store", "save"),
        ("load", ".store", "load"),
        ("util", "pkg", "util"),
    }


JAVASCRIPT = textwrap.dedent(
    """\
    import { get } from './http';
    const { format } = require('./fmt');

    export class Cart extends Base {
      constructor(items) {
        super();
        this.items = items;
      }

      total(rate = 1, ...extra) {
        return this.items.reduce((sum, i) => sum + price(i), 0) * rate;
      }

      onClick = (event) => {
        this.total();
      };
    }

    export const loadCart = async (id) => {
      const data = await get(`/carts/${id}`);
      return new Cart(data.items);
    };

    function helper(a, b) {
      return format(a, b);
    }
    """
)


def test_javascript_symbols() -> None:
    symbols = by_name(extract_symbols(JAVASCRIPT, "javascript"))
    assert list(symbols) == [
        "Cart",
        "Cart.constructor",
        "Cart.total",
        "Cart.onClick",
        "loadCart",
        "helper",
    ]
    assert symbols["Cart"].kind == "class"
    assert (symbols["Cart"].start_line, symbols["Cart"].end_line) == (4, 17)
    total = symbols["Cart.total"]
    assert (total.kind, total.container, total.signature) == (
        "method",
        "Cart",
        "(rate = 1, ...extra)",
    )
    assert [(p.name, p.kind, p.optional) for p in total.parameters] == [
        ("rate", "positional", True),
        ("extra", "var_positional", False),
    ]
    assert symbols["Cart.onClick"].kind == "method"
    load = symbols["loadCart"]
    assert (load.kind, load.start_line, load.end_line, load.signature) == (
        "function",
        19,
        22,
        "(id)",
    )
    assert symbols["helper"].signature == "(a, b)"


def test_javascript_calls_and_imports() -> None:
    index = index_source(JAVASCRIPT, "javascript")
    calls = [(c.callee, c.line, c.enclosing, c.is_new) for c in index.calls]
    # the arrow callback inside reduce() is anonymous: its call belongs to Cart.total
    assert ("price", 11, "Cart.total", False) in calls
    assert ("get", 20, "loadCart", False) in calls
    assert ("Cart", 21, "loadCart", True) in calls
    assert ("total", 15, "Cart.onClick", False) in calls
    assert ("format", 25, "helper", False) in calls
    reduce_call = next(c for c in index.calls if c.callee == "reduce")
    assert reduce_call.receiver == "this.items"
    imports = {(b.local, b.module, b.name) for b in index.imports}
    assert imports == {("get", "./http", "get"), ("format", "./fmt", "format")}


def test_typescript_signature_keeps_types_and_skips_overload_declarations() -> None:
    source = textwrap.dedent(
        """\
        export function parse(input: string): Node;
        export function parse(input: string, strict?: boolean): Node {
          return build(input, strict);
        }
        interface Shape { area(scale: number): number; }
        class Square implements Shape {
          constructor(private side: number) {}
          area(this: Square, scale: number = 1): number { return this.side * scale; }
        }
        """
    )
    symbols = by_name(extract_symbols(source, "typescript"))
    assert list(symbols) == ["parse", "Square", "Square.constructor", "Square.area"]
    parse = symbols["parse"]
    assert parse.signature == "(input: string, strict?: boolean)"
    assert [(p.name, p.optional, p.annotation) for p in parse.parameters] == [
        ("input", False, "string"),
        ("strict", True, "boolean"),
    ]
    # the TypeScript `this` parameter is not an argument
    assert [p.name for p in symbols["Square.area"].parameters] == ["scale"]


def test_tsx_components_are_symbols() -> None:
    source = (
        "export const Button = ({ label }: Props) => <b onClick={() => track(label)}>{label}</b>;\n"
    )
    index = index_source(source, "tsx")
    assert [s.qualified_name for s in index.symbols] == ["Button"]
    assert index.calls == (CallSite(callee="track", line=1, enclosing="Button", positional_args=1),)


def test_symbols_at_lines_maps_to_innermost_symbols() -> None:
    symbols = extract_symbols(PYTHON, "python")
    # 1: module level (import); 10: inside the nested function; 11: blank line in fetch;
    # 26 and 27: both in Repo.add; 17: a blank line in the class body
    found = symbols_at_lines(symbols, [1, 10, 11, 26, 27, 17])
    assert [s.qualified_name for s in found] == ["fetch", "fetch.attempt", "Repo", "Repo.add"]
    mapping = map_lines_to_symbols(symbols, [1, 10, 11, 31])
    assert {line: s.qualified_name for line, s in mapping.items()} == {
        10: "fetch.attempt",
        11: "fetch",
        31: "Repo.build",
    }


def test_symbols_at_lines_with_no_lines_or_no_symbols() -> None:
    symbols = extract_symbols(PYTHON, "python")
    assert symbols_at_lines(symbols, []) == []
    assert symbols_at_lines([], [1, 2, 3]) == []


def test_syntax_errors_are_reported_but_symbols_still_found() -> None:
    source = "def ok(a):\n    return a\n\ndef broken(:\n    pass\n"
    index = index_source(source, "python")
    assert index.has_errors
    assert 4 in index.error_lines
    assert "ok" in [s.name for s in index.symbols]
    clean = index_source("def ok(a):\n    return a\n", "python")
    assert not clean.has_errors
