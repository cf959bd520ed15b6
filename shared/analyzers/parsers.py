"""Each analyzer's JSON output → :class:`ToolFinding`; findings → :class:`Suggestion`.

Pure functions. Nothing here keeps a secret's value: detect-secrets reports a hash of it,
which is dropped with the rest of its record; only the plugin and the line survive.
"""

import difflib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from shared.analyzers.catalog import DOCS, SECRET_TYPES, Tool, rule_info
from shared.models import Suggestion

# rules that flag a secret in the source; their findings never carry the flagged text
SECRET_RULES = frozenset({"S105", "S106", "S107"})
# of those, the ones that go by the variable's name alone (not by the value's format)
KEYWORD_SECRET_RULES = frozenset({"S105", "S106", "S107", "KeywordDetector"})
_LITERAL = re.compile(r"""(["'`])((?:\\.|(?!\1).)*)\1""")
_PLACEHOLDERS = ("changeme", "change_me", "example", "placeholder", "dummy", "redacted", "xxx")


def plausible_secret(line: str) -> bool:
    """Whether the string literals of a line flagged by name (``password = "..."``) hold
    something that could be a real secret: not an environment variable's name, a URL, a
    path, a template, a placeholder or a short word. Looked at here, never kept."""
    values = [match.group(2) for match in _LITERAL.finditer(line)]
    if not values:  # an unquoted value: `password: hunter2` in YAML, `TOKEN=...` in .env
        _, sep, rest = line.partition("=") if "=" in line else line.partition(":")
        values = rest.split()[:1] if sep else []
    for value in values:
        lowered = value.lower()
        if len(value) < 8 or any(char.isspace() for char in value):
            continue
        if lowered.startswith(("http://", "https://", "/", "./", "~")):
            continue
        if any(mark in value for mark in ("{", "}", "<", ">", "$", "%(")):
            continue
        if re.fullmatch(r"[A-Z0-9_]+", value) or re.fullmatch(r"[a-z_.\-]+", value):
            continue
        if re.fullmatch(r"(.)\1+", value) or any(word in lowered for word in _PLACEHOLDERS):
            continue
        return True
    return False


_KEY = re.compile(r"""^\s*(?:export\s+)?(?:(?:const|let|var)\s+)?["']?([\w.$-]+)["']?\s*[:=]""")


def secret_key(line: str) -> str:
    """The name a secret is assigned to on its line (``AWS_KEY = ...``, ``password: ...``,
    ``"token": ...``), or nothing: never any part of the value."""
    match = _KEY.match(line)
    return match.group(1) if match else ""


class ToolOutputError(ValueError):
    """The tool's output is not what its JSON format promises."""


@dataclass(frozen=True)
class Edit:
    """A text edit, 1-based rows and columns, end exclusive (as Ruff reports them)."""

    start_row: int
    start_col: int
    end_row: int
    end_col: int
    content: str


@dataclass(frozen=True)
class ToolFinding:
    tool: Tool
    rule: str
    path: str
    start_line: int
    end_line: int
    tool_message: str
    doc_url: str | None = None
    edits: tuple[Edit, ...] = ()


def _relative(filename: str, root: str) -> str:
    path = PurePosixPath(filename)
    if path.is_absolute():
        try:
            return str(path.relative_to(root))
        except ValueError:
            return str(path)
    return str(path)


def _json(output: str, tool: str) -> Any:
    try:
        return json.loads(output)
    except json.JSONDecodeError as exc:
        raise ToolOutputError(f"{tool} printed no valid JSON: {exc}") from exc


def parse_ruff(output: str, root: str) -> list[ToolFinding]:
    """``ruff check --output-format json``: a list of diagnostics."""
    data = _json(output or "[]", "ruff")
    if not isinstance(data, list):
        raise ToolOutputError("ruff's JSON output is not a list")
    findings: list[ToolFinding] = []
    for item in data:
        code = item.get("code")
        if not code:  # a syntax error: tree-sitter reports those
            continue
        fix = item.get("fix") or {}
        edits: tuple[Edit, ...] = ()
        if fix.get("applicability") in ("safe", "unsafe"):
            edits = tuple(
                Edit(
                    e["location"]["row"],
                    e["location"]["column"],
                    e["end_location"]["row"],
                    e["end_location"]["column"],
                    e["content"],
                )
                for e in fix.get("edits", [])
            )
        findings.append(
            ToolFinding(
                tool="ruff",
                rule=str(code),
                path=_relative(str(item["filename"]), root),
                start_line=int(item["location"]["row"]),
                end_line=int(item["end_location"]["row"]),
                tool_message=str(item.get("message", "")),
                doc_url=item.get("url") or f"{DOCS['ruff']}{item.get('name', '')}",
                edits=edits,
            )
        )
    return findings


def _line_of(text: bytes, offset: int) -> int:
    return text.count(b"\n", 0, max(0, offset)) + 1


def parse_oxlint(output: str, contents: Mapping[str, str]) -> list[ToolFinding]:
    """``oxlint --format json``: ``{"diagnostics": [...]}``; spans are byte offsets."""
    data = _json(output or '{"diagnostics": []}', "oxlint")
    if not isinstance(data, dict) or not isinstance(data.get("diagnostics"), list):
        raise ToolOutputError("oxlint's JSON output has no diagnostics list")
    findings: list[ToolFinding] = []
    encoded: dict[str, bytes] = {}
    for item in data["diagnostics"]:
        code = str(item.get("code") or "")
        # "eslint(no-eval)" → "eslint/no-eval"; "typescript-eslint(x)" → "typescript/x"
        if "(" not in code or not item.get("labels"):
            continue
        plugin, _, rest = code.partition("(")
        plugin = plugin.replace("typescript-eslint", "typescript").replace("-", "_")
        rule = f"{plugin}/{rest.rstrip(')')}"
        path = str(item.get("filename", ""))
        span = item["labels"][0]["span"]
        start = int(span.get("line") or 0)
        end = start
        if path in contents:
            data_bytes = encoded.setdefault(path, contents[path].encode())
            if not start:
                start = _line_of(data_bytes, int(span["offset"]))
            end = _line_of(data_bytes, int(span["offset"]) + max(0, int(span["length"]) - 1))
        if not start:
            continue
        findings.append(
            ToolFinding(
                tool="oxlint",
                rule=rule,
                path=path,
                start_line=start,
                end_line=max(start, end),
                tool_message=str(item.get("message", "")),
                doc_url=item.get("url") or None,
            )
        )
    return findings


def parse_detect_secrets(output: str) -> list[ToolFinding]:
    """``detect-secrets scan``: ``{"results": {path: [{type, line_number, ...}]}}``."""
    data = _json(output or '{"results": {}}', "detect-secrets")
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise ToolOutputError("detect-secrets' JSON output has no results mapping")
    findings: list[ToolFinding] = []
    for path, items in data["results"].items():
        for item in items:
            kind = str(item.get("type", ""))
            plugin = SECRET_TYPES.get(kind, kind.replace(" ", ""))
            line = int(item.get("line_number") or 0)
            if line < 1:
                continue
            findings.append(
                ToolFinding(
                    tool="detect-secrets",
                    rule=plugin,
                    path=str(path),
                    start_line=line,
                    end_line=line,
                    tool_message=f"{kind} found",
                    doc_url=DOCS["detect-secrets"],
                )
            )
    return findings


# ---------------------------------------------------------------------------- suggestions


def apply_edits(text: str, edits: Iterable[Edit]) -> tuple[int, int, str] | None:
    """The rows an autofix touches and their new text: ``(first, last, new_text)``.

    An edit ending at column 1 of a row leaves that row alone unless it also starts there
    (an insertion before it).
    """
    edits = sorted(edits, key=lambda e: (e.start_row, e.start_col))
    if not edits:
        return None
    lines = text.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)

    def offset(row: int, col: int) -> int:
        if row < 1 or row > len(lines) + 1:
            raise ValueError("edit outside the file")
        if row == len(lines) + 1:
            return len(text)
        return starts[row - 1] + col - 1

    first = min(e.start_row for e in edits)
    last = max(
        e.end_row - 1 if e.end_col == 1 and e.end_row > e.start_row else e.end_row for e in edits
    )
    try:
        new = text
        for edit in reversed(edits):
            new = (
                new[: offset(edit.start_row, edit.start_col)]
                + edit.content
                + new[offset(edit.end_row, edit.end_col) :]
            )
    except ValueError:
        return None
    if last > len(lines):
        return None
    new_lines = new.split("\n")
    after = len(lines) - last  # rows below the edited ones: unchanged, at the end of both
    return first, last, "\n".join(new_lines[first - 1 : len(new_lines) - after])


def to_suggestion(
    finding: ToolFinding,
    changed: set[int],
    content: str,
    keep_rule: Callable[[ToolFinding], bool],
) -> Suggestion | None:
    """One finding as a suggestion, if it is on a changed line and its rule applies to the
    path. The autofix becomes a replacement only when every line it touches is changed."""
    lines = range(finding.start_line, finding.end_line + 1)
    anchor = next((n for n in lines if n in changed), None)
    if anchor is None or not keep_rule(finding):
        return None
    info = rule_info(finding.tool, finding.rule, finding.tool_message)
    start, end, replacement = anchor, anchor, None
    fixed = apply_edits(content, finding.edits) if finding.edits else None
    if fixed is not None:
        first, last, text = fixed
        if all(n in changed for n in range(first, last + 1)):
            start, end, replacement = first, last, text
    source_lines = content.split("\n")
    flagged = source_lines[anchor - 1] if anchor <= len(source_lines) else ""
    if finding.rule in SECRET_RULES or finding.tool == "detect-secrets":
        if finding.rule in KEYWORD_SECRET_RULES and not plausible_secret(flagged):
            return None
        # the fingerprint's key must not carry the secret: only the name it is assigned to
        flagged = secret_key(flagged)
    return Suggestion(
        path=finding.path,
        start_line=start,
        end_line=end,
        category=info.category,
        severity=info.severity,
        message=info.message,
        replacement=replacement,
        rule=finding.rule,
        source="analyzer",
        doc_url=finding.doc_url,
        identity=f"{finding.tool}:{finding.rule}:{' '.join(flagged.split())}",
    )


def rewrite_blocks(original: str, fixed: str) -> list[tuple[int, int, str]]:
    """What a tool's in-place fix changed: ``(first, last, new_text)`` per changed block of
    the original's lines, one line at a time where the fix kept the number of lines. Blocks
    that only add or only remove lines are left out (no suggestion can show them as a
    replacement of changed lines)."""
    old_lines, new_lines = original.split("\n"), fixed.split("\n")
    blocks: list[tuple[int, int, str]] = []
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "replace":
            continue
        if i2 - i1 == j2 - j1:
            blocks += [(i1 + n + 1, i1 + n + 1, new_lines[j1 + n]) for n in range(i2 - i1)]
        else:
            blocks.append((i1 + 1, i2, "\n".join(new_lines[j1:j2])))
    return blocks


def attach_rewrites(
    suggestions: Sequence[Suggestion],
    contents: Mapping[str, str],
    fixed: Mapping[str, str],
    changed: Mapping[str, set[int]],
) -> list[Suggestion]:
    """Give a finding the tool's fix of its lines as a replacement, when the fix touches only
    changed lines and no other finding of the tool shares them (one rewritten line holding two
    fixes would undo one with the other)."""
    out: list[Suggestion] = []
    blocks = {
        path: rewrite_blocks(contents[path], text)
        for path, text in fixed.items()
        if path in contents and text != contents[path]
    }
    for s in suggestions:
        mine = [
            b for b in blocks.get(s.path, []) if b[0] <= s.end_line and s.start_line <= b[1]
        ]
        if len(mine) != 1 or s.replacement is not None:
            out.append(s)
            continue
        first, last, text = mine[0]
        shared = any(
            o is not s and o.path == s.path and o.start_line <= last and first <= o.end_line
            for o in suggestions
        )
        lines = changed.get(s.path, set())
        if shared or not text.strip() or not all(n in lines for n in range(first, last + 1)):
            out.append(s)
            continue
        update = {"start_line": first, "end_line": last, "replacement": text}
        out.append(s.model_copy(update=update))
    return out
