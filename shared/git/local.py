"""A local git repository as the review target: base and head refs, the diff from git, and
the review written to a report on disk instead of a pull request.

Refs and paths from the user are passed to git as separate arguments after
``--end-of-options``; nothing ever goes through a shell. Paths are literal (never pathspec
magic or globs), read NUL-separated (``-z``) and decoded with ``surrogateescape``: a name that
is not UTF-8 never crashes a review; it is skipped with a logged reason.
"""

import fcntl
import json
import logging
import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shared.diff import parse_patch
from shared.git.base import (
    GitHostError,
    InlineComment,
    InlineResult,
    PostedComment,
    post_each,
)
from shared.logsafe import loggable
from shared.models import (
    ChangedFile,
    CommitInfo,
    FeedbackRecord,
    FileStatus,
    PullRequestInfo,
    ReviewTarget,
    Verdict,
)
from shared.paths import contained

logger = logging.getLogger("reviewflow.git.local")

_STATUS = {
    "A": FileStatus.ADDED,
    "M": FileStatus.MODIFIED,
    "D": FileStatus.REMOVED,
    "R": FileStatus.RENAMED,
    "C": FileStatus.ADDED,
    "T": FileStatus.MODIFIED,
}
_SHA = re.compile(r"^[0-9a-f]{7,64}$")
MAX_FILE_BYTES = 1_000_000


class LocalGitError(GitHostError):
    pass


def _git(
    repo: Path, *args: str, check: bool = True, stdin: bytes | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(
        ["git", "-C", str(repo), "-c", "core.quotepath=off", *args],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        check=False,
        # paths after `--` are file names, never pathspec magic or globs (`*.py` is a name)
        env={**os.environ, "GIT_LITERAL_PATHSPECS": "1"},
    )
    if check and proc.returncode != 0:
        raise LocalGitError(
            f"git {args[0]} failed: {proc.stderr.decode(errors='replace').strip()[:300]}"
        )
    return proc


def _names(out: bytes) -> list[str]:
    """NUL-separated git output as names; bytes that are not UTF-8 survive as surrogates
    (``os.fsencode`` gives them back)."""
    return [name for name in out.decode("utf-8", "surrogateescape").split("\0") if name]


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _skip_non_utf8(names: list[str], what: str) -> list[str]:
    kept = [name for name in names if _is_utf8(name)]
    for name in names:
        if not _is_utf8(name):
            logger.warning("%s: skipping %s, its name is not UTF-8", what, loggable(name))
    return kept


def _safe_ref(ref: str) -> str:
    if not ref or ref.startswith("-") or any(c in ref for c in "\0\n\r"):
        raise LocalGitError(f"invalid git ref: {ref!r}")
    return ref


class LocalGitHost:
    """Implements :class:`shared.git.base.GitHost` over a repository on disk."""

    def __init__(self, target: ReviewTarget, state_root: Path) -> None:
        if target.provider != "local":
            raise ValueError("LocalGitHost needs a local target")
        self.target = target
        self.repo = Path(target.repository)
        self.state_dir = contained(state_root, "targets", target.key.replace(":", "-"))
        self.state_dir.mkdir(parents=True, exist_ok=True)

    # ---- reading -----------------------------------------------------------------
    def resolve(self, ref: str) -> str:
        out = _git(
            self.repo, "rev-parse", "--verify", "--end-of-options", _safe_ref(ref) + "^{commit}"
        )
        return out.stdout.decode().strip()

    def pull_request(self) -> PullRequestInfo:
        base_ref = self.target.base_ref or "main"
        head_ref = self.target.head_ref or "HEAD"
        head_sha = self.resolve(head_ref)
        base_tip = self.resolve(base_ref)
        merge_base = _git(self.repo, "merge-base", base_tip, head_sha).stdout.decode().strip()
        subject = _git(self.repo, "log", "-1", "--format=%s", head_sha).stdout.decode().strip()
        body = _git(self.repo, "log", "-1", "--format=%b", head_sha).stdout.decode().strip()
        author = _git(self.repo, "log", "-1", "--format=%an", head_sha).stdout.decode().strip()
        return PullRequestInfo(
            title=subject or head_ref,
            body=body,
            base_branch=base_ref,
            head_branch=head_ref,
            base_sha=merge_base or base_tip,
            head_sha=head_sha,
            author=author,
        )

    def commits(self, base_sha: str, head_sha: str) -> list[CommitInfo]:
        out = _git(
            self.repo,
            "rev-list",
            "--parents",
            "--reverse",
            f"{_safe_ref(base_sha)}..{_safe_ref(head_sha)}",
        )
        result = []
        for line in out.stdout.decode().splitlines():
            sha, *parents = line.split()
            result.append(CommitInfo(sha=sha, parents=tuple(parents)))
        return result

    def has_commit(self, sha: str) -> bool:
        if not _SHA.match(sha):
            return False
        return _git(self.repo, "cat-file", "-e", f"{sha}^{{commit}}", check=False).returncode == 0

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        proc = _git(
            self.repo,
            "merge-base",
            "--is-ancestor",
            _safe_ref(ancestor),
            _safe_ref(descendant),
            check=False,
        )
        return proc.returncode == 0

    def changed_files(self, base_sha: str, head_sha: str) -> list[ChangedFile]:
        base, head = _safe_ref(base_sha), _safe_ref(head_sha)
        status = _git(self.repo, "diff", "--name-status", "-z", "-M", base, head).stdout
        numstat = _git(self.repo, "diff", "--numstat", "-z", "-M", base, head).stdout
        counts = _parse_numstat(numstat.decode("utf-8", "surrogateescape"))
        files: list[ChangedFile] = []
        for letter, old, new in _parse_name_status(status):
            if not (_is_utf8(old) and _is_utf8(new)):
                logger.warning("changed files: skipping %s, its name is not UTF-8", loggable(new))
                continue
            added, deleted, binary = counts.get(new, (0, 0, False))
            patch = ""
            if letter != "D" and not binary:
                patch = _git(
                    self.repo, "diff", "-M", "--unified=3", base, head, "--", new
                ).stdout.decode(errors="replace")
                patch = _strip_headers(patch)
            files.append(
                ChangedFile(
                    path=new,
                    status=_STATUS.get(letter, FileStatus.MODIFIED),
                    patch=patch,
                    previous_path=old if letter in "RC" else None,
                    additions=added,
                    deletions=deleted,
                    binary=binary,
                )
            )
        return files

    def file_content(self, path: str, ref: str) -> str | None:
        proc = _git(self.repo, "show", f"{_safe_ref(ref)}:{path}", check=False)
        if proc.returncode != 0 or len(proc.stdout) > MAX_FILE_BYTES or b"\0" in proc.stdout[:8000]:
            return None
        return proc.stdout.decode(errors="replace")

    def read_files(self, paths: list[str], ref: str) -> dict[str, str]:
        """Many files at one ref: names resolved to blobs from one ``ls-tree -z`` listing,
        contents from one ``cat-file --batch`` by object id (no path ever goes through the
        line-based batch protocol). Missing, binary and oversized files are left out."""
        if not paths:
            return {}
        blobs = self._blobs(_safe_ref(ref))
        wanted = {
            path: blobs[path]
            for path in dict.fromkeys(paths)
            if path in blobs and blobs[path][1] <= MAX_FILE_BYTES
        }
        contents = self._cat_blobs(sorted({oid for oid, _ in wanted.values()}))
        result: dict[str, str] = {}
        for path, (oid, _) in wanted.items():
            data = contents.get(oid)
            if data is not None and b"\0" not in data[:8000]:
                result[path] = data.decode(errors="replace")
        return result

    def _blobs(self, ref: str) -> dict[str, tuple[str, int]]:
        """Every blob at ``ref``: path → (object id, size)."""
        out = _git(self.repo, "ls-tree", "-r", "-l", "-z", "--full-tree", ref).stdout
        blobs: dict[str, tuple[str, int]] = {}
        for entry in _names(out):
            meta, _, path = entry.partition("\t")
            fields = meta.split()
            if len(fields) == 4 and fields[1] == "blob" and fields[3].isdigit():
                blobs[path] = (fields[2], int(fields[3]))
        return blobs

    def _cat_blobs(self, oids: list[str]) -> dict[str, bytes]:
        if not oids:
            return {}
        request = "".join(f"{oid}\n" for oid in oids).encode()
        out = _git(self.repo, "cat-file", "--batch", stdin=request, timeout=300).stdout
        return _parse_batch(out)

    def list_files(self, ref: str) -> list[str]:
        out = _git(self.repo, "ls-tree", "-r", "--name-only", "-z", _safe_ref(ref)).stdout
        return _skip_non_utf8(_names(out), "file list")

    # ---- state and output ----------------------------------------------------------
    @contextmanager
    def _state(self) -> Iterator[dict[str, Any]]:
        """Read-modify-write the target's state under an exclusive lock (workers run in
        parallel processes)."""
        lock_path = self.state_dir / "state.lock"
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            path = self.state_dir / "state.json"
            state: dict[str, Any] = (
                json.loads(path.read_text())
                if path.exists()
                else {
                    "comments": [],
                    "last_reviewed": None,
                    "verdicts": [],
                    "description": None,
                    "next_id": 1,
                }
            )
            yield state
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(state, indent=2))
            tmp.replace(path)
            self._write_report(state)

    def _read_state(self) -> dict[str, Any]:
        with self._state() as state:
            copy: dict[str, Any] = json.loads(json.dumps(state))
            return copy

    def last_reviewed_commit(self) -> str | None:
        value = self._read_state().get("last_reviewed")
        return str(value) if value else None

    def record_reviewed_commit(self, sha: str) -> None:
        with self._state() as state:
            state["last_reviewed"] = sha

    def list_comments(self) -> list[PostedComment]:
        return [PostedComment.model_validate(c) for c in self._read_state()["comments"]]

    def _add_comment(self, comment: dict[str, Any]) -> str:
        with self._state() as state:
            comment_id = str(state["next_id"])
            state["next_id"] += 1
            state["comments"].append({"id": comment_id, **comment})
            return comment_id

    def create_issue_comment(self, body: str) -> str:
        return self._add_comment({"kind": "issue", "body": body})

    def update_issue_comment(self, comment_id: str, body: str) -> None:
        with self._state() as state:
            for comment in state["comments"]:
                if comment["id"] == comment_id:
                    comment["body"] = body
                    return
        raise LocalGitError(f"no comment {comment_id}")

    def create_inline_comment(self, comment: InlineComment, head_sha: str) -> str:
        return self._add_comment(
            {
                "kind": "inline",
                "body": comment.body,
                "path": comment.path,
                "line": comment.end_line,
            }
        )

    def post_inline_comments(
        self, comments: list[InlineComment], head_sha: str
    ) -> list[InlineResult]:
        return post_each(self.create_inline_comment, comments, head_sha)

    def resolve_comment(self, comment_id: str) -> None:
        with self._state() as state:
            for comment in state["comments"]:
                if comment["id"] == comment_id:
                    comment["resolved"] = True

    def submit_verdict(self, verdict: Verdict, body: str, head_sha: str) -> None:
        with self._state() as state:
            if any(v["body"] == body for v in state["verdicts"]):
                return  # a retried job: already submitted
            state["verdicts"].append({"verdict": verdict.value, "body": body, "head_sha": head_sha})

    def update_description(self, body: str) -> None:
        with self._state() as state:
            state["description"] = body

    def feedback(self) -> list[FeedbackRecord]:
        path = self.repo / ".reviewflow" / "feedback.json"
        if not path.exists():
            return []
        data = json.loads(path.read_text())
        return [FeedbackRecord.model_validate(item) for item in data]

    def _write_report(self, state: dict[str, Any]) -> None:
        lines = [
            f"# reviewflow report: {self.target.repository}",
            f"base `{self.target.base_ref}` head `{self.target.head_ref}`",
            "",
        ]
        if state.get("description"):
            lines += ["## Summary", state["description"], ""]
        for comment in state["comments"]:
            where = f"{comment['path']}:{comment['line']}" if comment.get("path") else "PR"
            flag = " (resolved)" if comment.get("resolved") else ""
            lines += [f"## {where}{flag}", comment["body"], ""]
        for verdict in state["verdicts"][-1:]:
            lines += [f"## Verdict: {verdict['verdict']}", verdict["body"], ""]
        (self.state_dir / "report.md").write_text("\n".join(lines))


def _parse_name_status(out: bytes) -> list[tuple[str, str, str]]:
    """``diff --name-status -z`` as (status letter, old path, new path)."""
    fields = out.decode("utf-8", "surrogateescape").split("\0")
    entries: list[tuple[str, str, str]] = []
    i = 0
    while i < len(fields) - 1 and fields[i]:
        letter = fields[i][0]
        if letter in "RC":
            entries.append((letter, fields[i + 1], fields[i + 2]))
            i += 3
        else:
            entries.append((letter, fields[i + 1], fields[i + 1]))
            i += 2
    return entries


def _parse_batch(out: bytes) -> dict[str, bytes]:
    """``cat-file --batch`` answers (``<oid> <type> <size>`` + content, or ``<oid> missing``)."""
    contents: dict[str, bytes] = {}
    pos = 0
    while pos < len(out):
        end = out.find(b"\n", pos)
        if end < 0:
            break
        header = out[pos:end].split()
        pos = end + 1
        if len(header) != 3 or not header[2].isdigit():
            continue  # "<oid> missing" (or ambiguous): no content follows
        size = int(header[2])
        contents[header[0].decode()] = out[pos : pos + size]
        pos += size + 1
    return contents


def _parse_numstat(text: str) -> dict[str, tuple[int, int, bool]]:
    result: dict[str, tuple[int, int, bool]] = {}
    fields = text.split("\0")
    i = 0
    while i < len(fields):
        entry = fields[i]
        if not entry:
            i += 1
            continue
        added, deleted, path = entry.split("\t", 2)
        if path == "":  # rename: next two fields are old and new path
            path = fields[i + 2]
            i += 3
        else:
            i += 1
        binary = added == "-"
        result[path] = (0 if binary else int(added), 0 if binary else int(deleted), binary)
    return result


def _strip_headers(diff: str) -> str:
    """Keep only the hunks of a single-file ``git diff``."""
    index = diff.find("\n@@")
    if diff.startswith("@@"):
        return diff
    return diff[index + 1 :] if index >= 0 else ""


def added_lines(file: ChangedFile) -> set[int]:
    return set(parse_patch(file.patch).added)
