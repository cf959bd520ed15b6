"""Helpers for the analysis tests: build a ChangedFile from a before/after pair with a real
unified-diff patch (GitHub style: hunks only) and the new-side lines that patch adds."""

import difflib
import re
from typing import Protocol

import pytest

from shared.models import ChangedFile, FileStatus

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def unified_patch(before: str, after: str) -> str:
    diff = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), n=3
    )
    lines = [line if line.endswith("\n") else line + "\n" for line in diff]
    return "".join(lines[2:])  # drop the ---/+++ header, as GitHub's files API does


def added_lines(patch: str) -> set[int]:
    """New-side line numbers of the '+' lines of a patch."""
    added: set[int] = set()
    new_line = 0
    for line in patch.splitlines():
        match = _HUNK.match(line)
        if match:
            new_line = int(match.group(1))
        elif line.startswith("+"):
            added.add(new_line)
            new_line += 1
        elif line.startswith(" "):
            new_line += 1
    return added


class MakeChange(Protocol):
    def __call__(
        self, path: str, after: str, before: str = "", status: FileStatus | None = None
    ) -> tuple[ChangedFile, set[int]]: ...


def build_change(
    path: str, after: str, before: str = "", status: FileStatus | None = None
) -> tuple[ChangedFile, set[int]]:
    patch = unified_patch(before, after)
    lines = added_lines(patch)
    if status is None:
        status = FileStatus.ADDED if not before else FileStatus.MODIFIED
    file = ChangedFile(
        path=path,
        status=status,
        patch=patch,
        additions=len(lines),
        deletions=sum(1 for line in patch.splitlines() if line.startswith("-")),
        content=after,
    )
    return file, lines


@pytest.fixture
def make_change() -> MakeChange:
    return build_change
