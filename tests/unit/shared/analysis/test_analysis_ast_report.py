import textwrap
import time
from collections import Counter
from collections.abc import Callable

import pytest

from shared.analysis.ast_report import AstReport, CallerRef, analyze_change
from shared.analysis.symbols import SourceIndex
from shared.analysis.symbols import index_source as real_index
from shared.models import ChangedFile, FileStatus

MakeChange = Callable[..., tuple[ChangedFile, set[int]]]


def dedent(text: str) -> str:
    return textwrap.dedent(text)


IO_BASE = dedent(
    """\
    def load(path):
        with open(path) as handle:
            return handle.read()


    def keep(a, b):
        return a + b


    class Store:
        def __init__(self, root):
            self.root = root

        def save(self, key, value):
            return (key, value)

        def purge(self):
            return None
    """
)

APP = dedent(
    """\
    from pkg.io import load, keep, Store
    from pkg import io


    def run():
        data = load("config.toml")
        other = io.load("b.txt", "utf-8")
        keep(1, 2)
        store = Store("/data")
        store.save("k", data)
        return other
    """
)

# defines its own `load`, does not import pkg.io: its calls are not callers of pkg/io.py
NAMESAKE = dedent(
    """\
    def load(item):
        return item


    def main():
        return load(3)
    """
)


def analyze(
    changes: list[tuple[ChangedFile, set[int]]],
    base: dict[str, str],
    repo: dict[str, str],
) -> AstReport:
    files = [file for file, _ in changes]
    lines = {file.path: added for file, added in changes}
    return analyze_change(files, lines, base, repo)


def test_signature_change_with_caller_in_another_file_is_breaking(make_change: MakeChange) -> None:
    head = IO_BASE.replace("def load(path):", "def load(path, encoding):")
    io_change = make_change("pkg/io.py", head, IO_BASE)
    report = analyze(
        [io_change],
        base={"pkg/io.py": IO_BASE},
        repo={"pkg/io.py": head, "pkg/app.py": APP, "tools/namesake.py": NAMESAKE},
    )
    assert [(b.symbol, b.change) for b in report.breaking_changes] == [
        ("load", "signature_changed")
    ]
    change = report.breaking_changes[0]
    assert (change.path, change.old_signature, change.new_signature) == (
        "pkg/io.py",
        "(path)",
        "(path, encoding)",
    )
    # io.load("b.txt", "utf-8") already fits the new signature; the namesake is not a caller
    assert change.callers == [
        CallerRef(
            path="pkg/app.py",
            line=6,
            caller="run",
            call="load",
            problem="does not pass the required argument `encoding`",
        )
    ]
    affected = {a.qualified_name: a for a in report.affected_symbols}
    assert [(c.path, c.line, c.call) for c in affected["load"].callers] == [
        ("pkg/app.py", 6, "load"),
        ("pkg/app.py", 7, "io.load"),
    ]
    assert affected["load"].caller_count == 2


def test_callers_updated_in_the_same_change_are_not_breaking(make_change: MakeChange) -> None:
    head = IO_BASE.replace("def load(path):", "def load(path, encoding):")
    app_head = APP.replace('load("config.toml")', 'load("config.toml", "utf-8")')
    changes = [make_change("pkg/io.py", head, IO_BASE), make_change("pkg/app.py", app_head, APP)]
    report = analyze(
        changes,
        base={"pkg/io.py": IO_BASE, "pkg/app.py": APP},
        repo={"pkg/io.py": head, "pkg/app.py": app_head},
    )
    assert report.breaking_changes == []
    assert report.files_parsed == ["pkg/io.py", "pkg/app.py"]


def test_new_optional_parameter_is_not_breaking(make_change: MakeChange) -> None:
    head = IO_BASE.replace("def keep(a, b):", "def keep(a, b, c=0):")
    report = analyze(
        [make_change("pkg/io.py", head, IO_BASE)], {"pkg/io.py": IO_BASE}, {"pkg/app.py": APP}
    )
    assert report.breaking_changes == []
    keep = next(a for a in report.affected_symbols if a.name == "keep")
    assert [(c.path, c.line) for c in keep.callers] == [("pkg/app.py", 8)]


def test_renamed_parameter_breaks_keyword_callers_only(make_change: MakeChange) -> None:
    head = IO_BASE.replace("def keep(a, b):\n    return a + b", "def keep(a, c):\n    return a + c")
    caller = "from pkg.io import keep\n\nkeep(1, 2)\nkeep(1, b=2)\n"
    report = analyze(
        [make_change("pkg/io.py", head, IO_BASE)], {"pkg/io.py": IO_BASE}, {"cli.py": caller}
    )
    assert len(report.breaking_changes) == 1
    assert report.breaking_changes[0].callers == [
        CallerRef(
            path="cli.py",
            line=4,
            caller=None,
            call="keep",
            problem="passes keyword argument `b`, which the new signature does not accept",
        )
    ]


def test_reordered_method_parameters_and_new_constructor_argument(make_change: MakeChange) -> None:
    head = IO_BASE.replace("def save(self, key, value):", "def save(self, value, key):").replace(
        "def __init__(self, root):", "def __init__(self, root, *, ttl):"
    )
    report = analyze(
        [make_change("pkg/io.py", head, IO_BASE)], {"pkg/io.py": IO_BASE}, {"pkg/app.py": APP}
    )
    problems = {
        b.symbol: [(c.line, c.call, c.problem) for c in b.callers] for b in report.breaking_changes
    }
    assert problems == {
        "Store.__init__": [(9, "Store", "does not pass the required argument `ttl`")],
        "Store.save": [(10, "store.save", "its argument 1 was for `key` and now goes to `value`")],
    }


def test_method_callers_need_the_class_to_be_mentioned(make_change: MakeChange) -> None:
    head = IO_BASE.replace("def save(self, key, value):", "def save(self, key, value, flush):")
    unrelated = "def sync(cache):\n    cache.save('k', 1)\n"
    report = analyze(
        [make_change("pkg/io.py", head, IO_BASE)],
        {"pkg/io.py": IO_BASE},
        {"pkg/app.py": APP, "pkg/cache.py": unrelated},
    )
    (change,) = report.breaking_changes
    assert [(c.path, c.line) for c in change.callers] == [("pkg/app.py", 10)]


def test_removed_function_still_called_is_breaking(make_change: MakeChange) -> None:
    head = IO_BASE.replace(
        "def keep(a, b):\n    return a + b\n", "def combine(a, b):\n    return a + b\n"
    )
    report = analyze(
        [make_change("pkg/io.py", head, IO_BASE)], {"pkg/io.py": IO_BASE}, {"pkg/app.py": APP}
    )
    (change,) = report.breaking_changes
    assert (change.symbol, change.change, change.new_signature) == ("keep", "removed", None)
    assert [(c.path, c.line, c.problem) for c in change.callers] == [
        ("pkg/app.py", 8, "calls `keep`, which this change removes")
    ]


def test_function_moved_to_another_module_is_not_reported_as_removed(
    make_change: MakeChange,
) -> None:
    head = IO_BASE.replace("def keep(a, b):\n    return a + b\n", "")
    moved_to = "def keep(a, b):\n    return a + b\n"
    app = APP.replace(
        "from pkg.io import load, keep, Store",
        "from pkg.io import load, Store\nfrom pkg.math import keep",
    )
    report = analyze(
        [make_change("pkg/io.py", head, IO_BASE), make_change("pkg/math.py", moved_to)],
        {"pkg/io.py": IO_BASE},
        {"pkg/app.py": app},
    )
    assert report.breaking_changes == []


def test_argument_unpacking_is_reported_only_when_the_call_was_not_touched(
    make_change: MakeChange,
) -> None:
    head = IO_BASE.replace("def keep(a, b):", "def keep(a, b, c):")
    caller = "from pkg.io import keep\n\nargs = (1, 2)\nkeep(*args)\n"
    report = analyze(
        [make_change("pkg/io.py", head, IO_BASE)], {"pkg/io.py": IO_BASE}, {"cli.py": caller}
    )
    (change,) = report.breaking_changes
    assert [(c.line, c.problem) for c in change.callers] == [(4, None)]

    updated_caller = "from pkg.io import keep\n\nargs = (1, 2, 3)\nkeep(*args, )\n"
    report = analyze(
        [make_change("pkg/io.py", head, IO_BASE), make_change("cli.py", updated_caller, caller)],
        {"pkg/io.py": IO_BASE, "cli.py": caller},
        {},
    )
    assert report.breaking_changes == []


TS_BASE = dedent(
    """\
    export function total(items: Item[]): number {
      return items.length;
    }

    export class Client {
      constructor(url: string) {}

      send(body: string) {}
    }
    """
)

JS_CHECKOUT = dedent(
    """\
    import { total as sum, Client } from './billing';
    import * as billing from '../lib/billing';

    export function checkout(cart) {
      const client = new Client('https://api');
      client.send(cart.id);
      return sum(cart.items) + billing.total(cart.items, 0.2);
    }
    """
)


def test_typescript_breaking_changes_found_in_javascript_importers(
    make_change: MakeChange,
) -> None:
    head = TS_BASE.replace(
        "total(items: Item[]): number", "total(items: Item[], taxRate: number): number"
    ).replace("constructor(url: string)", "constructor(url: string, timeoutMs: number)")
    other = "function total(x) { return x; }\nexport const y = total(3);\n"
    report = analyze(
        [make_change("src/lib/billing.ts", head, TS_BASE)],
        {"src/lib/billing.ts": TS_BASE},
        {"src/lib/checkout.js": JS_CHECKOUT, "src/other.js": other, "src/lib/billing.ts": head},
    )
    problems = {
        b.symbol: [(c.path, c.line, c.call, c.problem) for c in b.callers]
        for b in report.breaking_changes
    }
    assert problems == {
        "total": [
            (
                "src/lib/checkout.js",
                7,
                "sum",
                "passes 1 argument but the new signature requires 2",
            )
        ],
        "Client.constructor": [
            (
                "src/lib/checkout.js",
                5,
                "new Client",
                "passes 1 argument but the new signature requires 2",
            )
        ],
    }


def test_javascript_parameter_rename_alone_is_not_breaking(make_change: MakeChange) -> None:
    head = TS_BASE.replace("send(body: string) {}", "send(payload: string) {}")
    report = analyze(
        [make_change("src/lib/billing.ts", head, TS_BASE)],
        {"src/lib/billing.ts": TS_BASE},
        {"src/lib/checkout.js": JS_CHECKOUT},
    )
    assert report.breaking_changes == []
    send = next(a for a in report.affected_symbols if a.qualified_name == "Client.send")
    assert [(c.path, c.line, c.call) for c in send.callers] == [
        ("src/lib/checkout.js", 6, "client.send")
    ]


def test_typescript_parameter_type_change_is_breaking(make_change: MakeChange) -> None:
    head = TS_BASE.replace("send(body: string) {}", "send(body: Uint8Array) {}")
    report = analyze(
        [make_change("src/lib/billing.ts", head, TS_BASE)],
        {"src/lib/billing.ts": TS_BASE},
        {"src/lib/checkout.js": JS_CHECKOUT},
    )
    (change,) = report.breaking_changes
    assert (
        change.callers[0].problem == "parameter `body` changed type from `string` to `Uint8Array`"
    )


def test_affected_symbols_with_changed_lines_and_callees(make_change: MakeChange) -> None:
    base = dedent(
        """\
        import json


        def parse(text):
            return json.loads(text)


        class Service:
            def handle(self, raw):
                data = parse(raw)
                return data
        """
    )
    head = base.replace(
        "        data = parse(raw)\n        return data",
        "        data = parse(raw)\n        self.audit(data)\n        return validate(data)",
    )
    file, lines = make_change("svc/service.py", head, base)
    assert lines == {11, 12}
    report = analyze([(file, lines)], {"svc/service.py": base}, {})
    (affected,) = report.affected_symbols
    assert (affected.qualified_name, affected.kind, affected.changed_lines) == (
        "Service.handle",
        "method",
        [11, 12],
    )
    assert affected.callees == ["parse", "self.audit", "validate"]
    assert affected.signature == "(self, raw)"


def test_unsupported_binary_and_missing_files_are_skipped_with_a_reason(
    make_change: MakeChange,
) -> None:
    go_file, go_lines = make_change("cmd/main.go", "package main\n\nfunc main() {}\n")
    image = ChangedFile(path="docs/logo.py", status=FileStatus.MODIFIED, binary=True)
    no_content = ChangedFile(path="lib/gone.ts", status=FileStatus.MODIFIED)
    broken, broken_lines = make_change("lib/broken.py", "def ok():\n    return 1\n\ndef bad(:\n")
    report = analyze_change(
        [go_file, image, no_content, broken],
        {"cmd/main.go": go_lines, "lib/broken.py": broken_lines},
        {},
        {},
    )
    reasons = {s.path: s.reason for s in report.files_skipped}
    assert set(reasons) == {"cmd/main.go", "docs/logo.py", "lib/gone.ts"}
    assert reasons["cmd/main.go"].startswith("unsupported language (.go)")
    assert reasons["docs/logo.py"] == "binary file"
    assert reasons["lib/gone.ts"] == "head content not available"
    assert report.files_parsed == ["lib/broken.py"]
    assert [(p.path, 4 in p.lines) for p in report.parse_errors] == [("lib/broken.py", True)]
    assert [a.qualified_name for a in report.affected_symbols] == ["ok", "bad"]


def test_removed_file_functions_still_called_are_breaking() -> None:
    removed = ChangedFile(path="pkg/legacy.py", status=FileStatus.REMOVED, deletions=2)
    caller = "from pkg.legacy import old_api\n\nold_api(1)\n"
    report = analyze_change(
        [removed], {}, {"pkg/legacy.py": "def old_api(x):\n    return x\n"}, {"pkg/use.py": caller}
    )
    (change,) = report.breaking_changes
    assert (change.path, change.symbol, change.change) == ("pkg/legacy.py", "old_api", "removed")
    assert [(c.path, c.line) for c in change.callers] == [("pkg/use.py", 3)]


def test_each_file_is_parsed_once_and_unrelated_files_not_at_all(
    make_change: MakeChange, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: Counter[str] = Counter()

    def counting(source: str | bytes, language: str) -> SourceIndex:
        parsed[source if isinstance(source, str) else source.decode()] += 1
        return real_index(source, language)  # type: ignore[arg-type]

    monkeypatch.setattr("shared.analysis.ast_report.index_source", counting)
    head = IO_BASE.replace("def load(path):", "def load(path, encoding):")
    unrelated = {f"other/m{n}.py": f"def f{n}():\n    return {n}\n" for n in range(20)}
    report = analyze(
        [make_change("pkg/io.py", head, IO_BASE)],
        {"pkg/io.py": IO_BASE},
        {"pkg/app.py": APP, "pkg/io.py": head, **unrelated},
    )
    assert report.repo_files_scanned == 1  # only pkg/app.py mentions a searched name
    assert parsed == Counter({head: 1, IO_BASE: 1, APP: 1})


def test_hundreds_of_repository_files_are_analysed_quickly(make_change: MakeChange) -> None:
    head = "def process(items, factor, mode):\n    return [i * factor for i in items]\n"
    base = "def process(items, factor):\n    return [i * factor for i in items]\n"
    body = "\n".join(
        f"def step_{i}(a):\n    values = [j for j in range(a)]\n    return process(values, {i})\n"
        for i in range(30)
    )
    repo = {f"pkg/mod{n}.py": "from pkg.core import process\n\n" + body for n in range(300)}
    repo.update({f"web/m{n}.ts": "export const f = (a: number) => a + 1;\n" for n in range(300)})
    started = time.perf_counter()
    report = analyze([make_change("pkg/core.py", head, base)], {"pkg/core.py": base}, repo)
    elapsed = time.perf_counter() - started
    (change,) = report.breaking_changes
    assert change.caller_count == 300 * 30
    assert len(change.callers) == 50  # the report keeps a bounded sample
    assert report.repo_files_scanned == 300
    assert elapsed < 20, f"analysis took {elapsed:.1f}s"
