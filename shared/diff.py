"""Unified-diff parsing: which new-side lines a patch adds, and which lines may carry an
inline comment (GitHub accepts a comment only on a line that is part of the diff)."""

import io
from dataclasses import dataclass, field

from unidiff import PatchSet  # type: ignore[attr-defined]
from unidiff.errors import UnidiffParseError


@dataclass(frozen=True)
class PatchLines:
    # lines added on the new side
    added: frozenset[int] = field(default_factory=frozenset)
    # every new-side line shown in the diff (added and context): valid comment anchors
    commentable: frozenset[int] = field(default_factory=frozenset)


def parse_patch(patch: str) -> PatchLines:
    """Parse one file's patch (hunks only, as GitHub's files API returns it, or with headers)."""
    if not patch.strip():
        return PatchLines()
    text = patch if patch.startswith(("--- ", "diff ")) else f"--- a/f\n+++ b/f\n{patch}"
    if not text.endswith("\n"):
        text += "\n"
    try:
        patch_set = PatchSet(io.StringIO(text))
    except UnidiffParseError:
        return PatchLines()
    added: set[int] = set()
    commentable: set[int] = set()
    for patched_file in patch_set:
        for hunk in patched_file:
            for line in hunk:
                if line.target_line_no is None:
                    continue
                commentable.add(line.target_line_no)
                if line.is_added:
                    added.add(line.target_line_no)
    return PatchLines(frozenset(added), frozenset(commentable))


def split_git_diff(diff: str) -> dict[str, str]:
    """Split ``git diff`` output into per-file hunks (keyed by new path), headers removed."""
    result: dict[str, str] = {}
    try:
        patch_set = PatchSet(io.StringIO(diff))
    except UnidiffParseError:
        return result
    for patched_file in patch_set:
        path = patched_file.path
        body = "".join(str(hunk) for hunk in patched_file)
        result[path] = body
    return result


def anchor(start: int, end: int, lines: PatchLines, max_range: int = 8) -> tuple[int, int] | None:
    """Where an inline comment for ``start..end`` can go: the range when every end is in the
    diff and it is short, otherwise the first commentable line inside it; None if none is."""
    if end < start:
        start, end = end, start
    if (
        end - start < max_range
        and start in lines.commentable
        and end in lines.commentable
        and all(n in lines.commentable for n in range(start, end + 1))
    ):
        return start, end
    for line in range(start, end + 1):
        if line in lines.commentable:
            return line, line
    return None
