"""A GitHub REST + GraphQL emulator on loopback, backed by real git repositories (a test double).

``with GitHubEmulator() as gh:`` serves on 127.0.0.1 at an ephemeral port from a background
thread; ``gh.base_url`` is the REST root (``http://127.0.0.1:PORT``) and GraphQL answers at
``gh.base_url + "/graphql"``.

Repositories are real git repositories on disk (:meth:`GitHubEmulator.add_repository`); every
answer is computed by running ``git`` on them (argument lists, never a shell). A pull request
names a base and a head *branch*; its head commit is resolved from the branch on every request,
so a test pushes or force-pushes by running git in that repository.

What each request goes through, in this order:

1. it is recorded (:attr:`GitHubEmulator.requests`, with the final status);
2. the first queued failure whose ``path_contains`` matches (:meth:`GitHubEmulator.fail_next`)
   answers instead (5xx, secondary-limit 403, 429 with ``Retry-After``);
3. authentication: an App JWT on the two App endpoints, otherwise an accepted token
   (``Authorization: Bearer X`` or ``token X``), else 401 ``Bad credentials``;
4. the primary rate limit of the resource (``core`` for REST, ``graphql``): every authenticated
   answer carries ``X-RateLimit-*`` headers; an exhausted budget answers 403 until its reset;
5. the endpoint, following GitHub's shapes and validation rules (see the route table).

Lists paginate with ``per_page`` (default 30, at most 100) and ``page`` and a ``Link`` header of
absolute URLs (``next``/``last`` and ``first``/``prev``).

REST, under ``/repos/{owner}/{repo}`` (names are case-insensitive):

* ``GET`` the repository; ``GET /pulls`` (``state``, ``head``, ``base``); ``GET|PATCH
  /pulls/{n}``; ``GET /pulls/{n}/files`` (merge-base diff with renames, at most 3000);
  ``GET /pulls/{n}/commits`` (at most 250);
* ``GET /compare/{base}...{head}`` (without ``page``/``per_page``: up to 250 commits, no Link;
  ``files`` only on page 1, at most 300); ``GET /commits/{ref}``; ``GET /contents/{path}?ref=``;
  ``GET /git/trees/{ref}?recursive=1``;
* ``GET|POST /issues/{n}/comments``, ``GET|PATCH|DELETE /issues/comments/{id}``;
* ``GET|POST /pulls/{n}/comments`` (``in_reply_to`` replies), ``POST
  /pulls/{n}/comments/{id}/replies``, ``GET /pulls/comments``, ``GET|PATCH|DELETE
  /pulls/comments/{id}``, ``GET|POST /pulls/comments/{id}/reactions``;
* ``GET|POST /pulls/{n}/reviews``, ``GET /pulls/{n}/reviews/{id}``;
* App (App JWT only): ``GET /app``, ``GET /repos/{o}/{r}/installation`` and
  ``POST /app/installations/{id}/access_tokens``; ``GET /user`` (a token's own login; 403 for
  installation tokens); ``GET /rate_limit``.

Review comment anchors follow GitHub: ``line`` (and ``start_line``) on their side of a hunk of
the file's diff at ``commit_id`` (a sha of one of the pull request's commits), both in the same
hunk, ``start_line`` before ``line``; a standalone review comment gets its own COMMENTED review,
and every top-level review comment opens a review thread.

GraphQL (``POST /graphql``) dispatches on the operation: ``query ReviewThreads``, ``mutation
ResolveThread`` / ``UnresolveThread``, ``query Blobs`` (aliased ``object(expression:
"REV:PATH")`` fields); anything else answers ``{"errors": [...]}``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import re
import secrets
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlencode

import jwt
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.loopback import LoopbackServer

HTML_ROOT = "https://github.com"
DOCS = "https://docs.github.com/rest"
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100
MAX_PULL_FILES = 3000
MAX_PULL_COMMITS = 250
MAX_COMPARE_FILES = 300
MAX_COMPARE_COMMITS_UNPAGINATED = 250
MAX_TREE_ENTRIES = 100_000
CONTENTS_INLINE_LIMIT = 1024 * 1024
MAX_BODY_CHARS = 65536
GRAPHQL_PAGE = 100
REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID {rid}."
)
_EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
_GIT_ENV = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
_OPERATION = re.compile(r"\b(query|mutation)\s+([A-Za-z_][A-Za-z0-9_]*)")
_BLOB_FIELD = re.compile(
    r"([A-Za-z_][A-Za-z0-9_]*)\s*:\s*object\s*\(\s*expression\s*:\s*(\"(?:[^\"\\]|\\.)*\")\s*\)"
)
_FIRST_THREADS = re.compile(r"reviewThreads\s*\(\s*[^)]*\bfirst\s*:\s*(\d+)")
_HUNK = re.compile(rb"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_STATUS = {
    "A": "added",
    "D": "removed",
    "M": "modified",
    "R": "renamed",
    "C": "copied",
    "T": "changed",
}


# ---- data ----------------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    """One request as the emulator saw it; ``status`` is set once it has been answered."""

    method: str
    path: str
    query: dict[str, str]
    timestamp: float
    status: int = 0
    login: str | None = None
    # GraphQL: the operation, e.g. "query ReviewThreads"
    operation: str | None = None


@dataclass
class _Failure:
    status: int
    count: int
    retry_after: float | None
    secondary: bool
    path_contains: str | None


@dataclass
class _Budget:
    limit: int
    window: float
    reset_at: float
    used: int = 0


@dataclass
class _Token:
    login: str
    installation_id: int | None = None
    expires_at: float = math.inf


@dataclass
class _App:
    app_id: int
    slug: str
    public_key: str
    installations: dict[str, int]  # lower-case repo full name -> installation id


@dataclass
class _Pull:
    number: int
    id: int
    base: str
    head: str
    title: str
    body: str
    user: str
    draft: bool
    created_at: float
    updated_at: float
    state: str = "open"
    merged: bool = False
    closed_at: float | None = None
    merged_at: float | None = None
    last_head_sha: str | None = None
    last_base_sha: str | None = None


@dataclass
class _Repo:
    full_name: str
    path: Path
    default_branch: str
    id: int
    pulls: dict[int, _Pull] = field(default_factory=dict)


@dataclass
class _IssueComment:
    id: int
    repo: str
    number: int
    body: str
    user: str
    created_at: float
    updated_at: float


@dataclass
class _Review:
    id: int
    repo: str
    number: int
    body: str
    state: str
    commit_id: str
    user: str
    submitted_at: float


@dataclass
class _ReviewComment:
    id: int
    repo: str
    number: int
    review_id: int
    thread_id: str
    body: str
    path: str
    line: int | None
    start_line: int | None
    side: str | None
    start_side: str | None
    subject_type: str
    commit_id: str
    diff_hunk: str
    position: int | None
    user: str
    in_reply_to_id: int | None
    created_at: float
    updated_at: float


@dataclass
class _Thread:
    id: str
    repo: str
    number: int
    comment_ids: list[int]
    resolved: bool = False


@dataclass
class _Reaction:
    id: int
    comment_id: int
    content: str
    user: str
    created_at: float


@dataclass
class _Anchor:
    hunk: int
    index: int  # line index within the hunk text (0 is the @@ header)
    position: int  # GitHub's legacy diff position (1 = first line after the first @@)


@dataclass(frozen=True)
class _AnchorError:
    field: str  # of pull_request_review_thread
    message: str  # in a single comment's 422
    review_message: str  # in a whole review's 422


@dataclass
class _FileDiff:
    filename: str
    previous_filename: str | None
    status: str
    sha: str
    binary: bool
    additions: int = 0
    deletions: int = 0
    hunks: list[list[str]] = field(default_factory=list)
    anchors: dict[tuple[str, int], _Anchor] = field(default_factory=dict)

    @property
    def patch(self) -> str | None:
        if self.binary or not self.hunks:
            return None
        return "\n".join(line for hunk in self.hunks for line in hunk)


class _ApiError(Exception):
    def __init__(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.payload = payload
        self.headers = dict(headers or {})


@dataclass
class _Reply:
    status: int
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Ctx:
    method: str
    path: str
    query: dict[str, str]
    body: bytes
    headers: dict[str, str]
    login: str = ""
    token: _Token | None = None
    operation: str | None = None

    def json(self) -> dict[str, Any]:
        if not self.body.strip():
            return {}
        try:
            data = json.loads(self.body)
        except ValueError:
            raise _ApiError(400, _msg("Problems parsing JSON", 400)) from None
        if not isinstance(data, dict):
            raise _ApiError(400, _msg("Body should be a JSON object", 400))
        return data


Handler = Callable[[_Ctx, _Repo, re.Match[str]], _Reply]


# ---- small helpers -------------------------------------------------------------------------


def _msg(message: str, status: int, **extra: Any) -> dict[str, Any]:
    return {"message": message, **extra, "documentation_url": DOCS, "status": str(status)}


def _not_found() -> _ApiError:
    return _ApiError(404, _msg("Not Found", 404))


def _invalid(message: str) -> _ApiError:
    return _ApiError(422, _msg(f"Invalid request.\n\n{message}", 422))


def _validation(resource: str, field_name: str, code: str, message: str | None = None) -> _ApiError:
    error: dict[str, Any] = {"resource": resource, "code": code, "field": field_name}
    if message is not None:
        error["message"] = message
    return _ApiError(422, _msg("Validation Failed", 422, errors=[error]))


def _unprocessable(*errors: str) -> _ApiError:
    return _ApiError(422, _msg("Unprocessable Entity", 422, errors=list(errors)))


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _stable_id(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") % 90_000_000 + 1000


def _user(login: str) -> dict[str, Any]:
    return {
        "login": login,
        "id": _stable_id(login),
        "type": "Bot" if login.endswith("[bot]") else "User",
        "html_url": f"{HTML_ROOT}/{login}",
    }


def _node_id(prefix: str, kind: str, number: int) -> str:
    raw = base64.urlsafe_b64encode(f"{kind}:{number}".encode()).decode().rstrip("=")
    return f"{prefix}_kwDO{raw}"


def _require_str(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if value is None:
        raise _invalid(f'"{name}" wasn\'t supplied.')
    if not isinstance(value, str):
        raise _invalid(f'For "{name}", {json.dumps(value)} is not a string.')
    return value


def _opt_str(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid(f'For "{name}", {json.dumps(value)} is not a string.')
    return value


def _opt_int(data: Mapping[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(f'For "{name}", {json.dumps(value)} is not an integer.')
    return value


def _check_body_length(resource: str, body: str) -> None:
    if len(body) > MAX_BODY_CHARS:
        raise _validation(
            resource, "body", "custom", f"body is too long (maximum is {MAX_BODY_CHARS} characters)"
        )


def _is_binary(data: bytes) -> bool:
    return b"\0" in data[:8000]


def _bearer(headers: Mapping[str, str]) -> str | None:
    value = headers.get("authorization", "").strip()
    scheme, _, credential = value.partition(" ")
    if scheme.lower() in ("bearer", "token") and credential.strip():
        return credential.strip()
    return None


# ---- git ---------------------------------------------------------------------------------


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    proc = subprocess.run(
        ["git", "-C", str(repo), *args],
        input=stdin,
        capture_output=True,
        check=False,
        env=_GIT_ENV,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"git {' '.join(args)} failed: {proc.stderr.decode(errors='replace').strip()}"
        )
    return proc.stdout


def _safe_name(name: str) -> bool:
    return bool(name) and not name.startswith("-") and not any(c in name for c in "\0\n\r")


def _resolve(repo: Path, name: str, kind: str = "commit") -> str | None:
    """The full sha of ``name`` peeled to ``kind``, or None when there is no such object."""
    if not _safe_name(name):
        return None
    proc = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{name}^{{{kind}}}"],
        capture_output=True,
        check=False,
        env=_GIT_ENV,
    )
    out = proc.stdout.decode().strip()
    return out if proc.returncode == 0 and re.fullmatch(r"[0-9a-f]{40,64}", out) else None


def _branch_sha(repo: Path, branch: str) -> str | None:
    return _resolve(repo, f"refs/heads/{branch}")


def _merge_base(repo: Path, a: str, b: str) -> str | None:
    proc = subprocess.run(
        ["git", "-C", str(repo), "merge-base", a, b],
        capture_output=True,
        check=False,
        env=_GIT_ENV,
    )
    out = proc.stdout.decode().strip()
    return out if proc.returncode == 0 and out else None


def _count(repo: Path, exclude: str, include: str) -> int:
    return int(_git(repo, "rev-list", "--count", include, f"^{exclude}").decode().strip() or 0)


_LOG_FORMAT = "%H%x1f%T%x1f%P%x1f%an%x1f%ae%x1f%aI%x1f%cn%x1f%ce%x1f%cI%x1f%B"


def _commits(
    repo: Path, *revs: str, reverse: bool = True, limit: int | None = None
) -> list[dict[str, Any]]:
    args = ["log", "-z", f"--format={_LOG_FORMAT}"]
    if reverse:
        args.append("--reverse")
    if limit is not None and not reverse:
        args.append(f"--max-count={limit}")
    args.extend(revs)
    out = _git(repo, *args).decode(errors="replace")
    commits = []
    for record in out.split("\0"):
        if not record.strip():
            continue
        parts = record.split("\x1f", 9)
        if len(parts) < 10:
            continue
        sha, tree, parents, an, ae, ad, cn, ce, cd, message = parts
        commits.append(
            {
                "sha": sha,
                "tree": tree,
                "parents": parents.split(),
                "author": {"name": an, "email": ae, "date": ad},
                "committer": {"name": cn, "email": ce, "date": cd},
                "message": message.rstrip("\n"),
            }
        )
    return commits[:limit] if limit is not None else commits


def _path_text(path: bytes) -> str:
    return path.decode(errors="surrogateescape")


def _raw_entries(repo: Path, base: str, head: str) -> list[tuple[str, str, str | None, str]]:
    """(status letter, path, previous path, new blob sha) of ``git diff --raw -M``."""
    out = _git(
        repo,
        "diff",
        "--raw",
        "-z",
        "-M",
        "--no-abbrev",
        "--no-ext-diff",
        "--no-textconv",
        base,
        head,
    )
    fields = out.split(b"\0")
    entries: list[tuple[str, str, str | None, str]] = []
    i = 0
    while i < len(fields):
        meta = fields[i]
        if not meta.startswith(b":"):
            i += 1
            continue
        parts = meta[1:].split(b" ")
        new_sha = parts[3].decode()
        letter = parts[4][:1].decode()
        if letter in ("R", "C"):
            old, new = _path_text(fields[i + 1]), _path_text(fields[i + 2])
            entries.append((letter, new, old, new_sha))
            i += 3
        else:
            entries.append((letter, _path_text(fields[i + 1]), None, new_sha))
            i += 2
    return entries


def _patch_sections(repo: Path, base: str, head: str) -> list[list[bytes]]:
    out = _git(
        repo,
        "diff",
        "-p",
        "-M",
        "-U3",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--src-prefix=a/",
        "--dst-prefix=b/",
        base,
        head,
    )
    sections: list[list[bytes]] = []
    for line in out.split(b"\n"):
        if line.startswith(b"diff --git "):
            sections.append([line])
        elif sections:
            sections[-1].append(line)
    return sections


def _fill_from_section(diff: _FileDiff, section: list[bytes]) -> None:
    old_line = new_line = 0
    position = 0
    in_hunks = False
    for raw in section[1:]:
        match = _HUNK.match(raw)
        if match:
            old_line, new_line = int(match.group(1)), int(match.group(3))
            diff.hunks.append([raw.decode(errors="replace")])
            if in_hunks:
                position += 1
            in_hunks = True
            continue
        if not in_hunks:
            if raw.startswith(b"Binary files ") or raw.startswith(b"GIT binary patch"):
                diff.binary = True
            continue
        if not raw:
            continue  # the split leaves an empty tail
        hunk = diff.hunks[-1]
        prefix = raw[:1]
        if prefix not in (b" ", b"+", b"-", b"\\"):
            continue
        hunk.append(raw.decode(errors="replace"))
        position += 1  # every line of the patch counts, "\ No newline at end of file" too
        if prefix == b"\\":
            continue
        anchor = _Anchor(hunk=len(diff.hunks) - 1, index=len(hunk) - 1, position=position)
        if prefix == b" ":
            diff.anchors[("LEFT", old_line)] = anchor
            diff.anchors[("RIGHT", new_line)] = anchor
            old_line += 1
            new_line += 1
        elif prefix == b"-":
            diff.anchors[("LEFT", old_line)] = anchor
            diff.deletions += 1
            old_line += 1
        else:
            diff.anchors[("RIGHT", new_line)] = anchor
            diff.additions += 1
            new_line += 1


def _diff(repo: Path, base: str, head: str) -> list[_FileDiff]:
    entries = _raw_entries(repo, base, head)
    sections = _patch_sections(repo, base, head)
    files: list[_FileDiff] = []
    s = 0
    for letter, path, previous, sha in entries:
        diff = _FileDiff(
            filename=path,
            previous_filename=previous,
            status=_STATUS.get(letter, "modified"),
            sha=sha,
            binary=False,
        )
        if s < len(sections):
            _fill_from_section(diff, sections[s])
            s += 1
            # a type change (file <-> symlink) is printed as a deletion then a creation
            if (
                letter == "T"
                and s < len(sections)
                and any(line.startswith(b"new file mode") for line in sections[s][:4])
            ):
                _fill_from_section(diff, sections[s])
                s += 1
        files.append(diff)
    return files


# ---- the emulator --------------------------------------------------------------------------


class GitHubEmulator:
    """GitHub's REST and GraphQL APIs over real git repositories, on loopback."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._repos: dict[str, _Repo] = {}
        self._tokens: dict[str, _Token] = {}
        self._apps: dict[int, _App] = {}
        self._issue_comments: dict[int, _IssueComment] = {}
        self._reviews: dict[int, _Review] = {}
        self._review_comments: dict[int, _ReviewComment] = {}
        self._threads: dict[str, _Thread] = {}
        self._reactions: dict[int, _Reaction] = {}
        self._failures: list[_Failure] = []
        self._budgets: dict[str, _Budget] = {}
        self._requests: list[RecordedRequest] = []
        self._diff_cache: dict[tuple[str, str, str], list[_FileDiff]] = {}
        self._ids: dict[str, int] = {
            "repo": 100,
            "pull": 500_000,
            "issue_comment": 1_000_000,
            "review_comment": 2_000_000,
            "review": 3_000_000,
            "reaction": 4_000_000,
            "thread": 5_000_000,
            "request": 0,
        }
        self._loopback: LoopbackServer | None = None
        self._port: int | None = None
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("GET", re.compile(r"/pulls"), self._list_pulls),
            ("GET", re.compile(r"/pulls/(\d+)"), self._get_pull),
            ("PATCH", re.compile(r"/pulls/(\d+)"), self._patch_pull),
            ("GET", re.compile(r"/pulls/(\d+)/files"), self._pull_files),
            ("GET", re.compile(r"/pulls/(\d+)/commits"), self._pull_commits),
            ("GET", re.compile(r"/pulls/(\d+)/comments"), self._list_review_comments),
            ("POST", re.compile(r"/pulls/(\d+)/comments"), self._post_review_comment),
            ("POST", re.compile(r"/pulls/(\d+)/comments/(\d+)/replies"), self._post_reply),
            ("GET", re.compile(r"/pulls/(\d+)/reviews"), self._list_reviews),
            ("POST", re.compile(r"/pulls/(\d+)/reviews"), self._post_review),
            ("GET", re.compile(r"/pulls/(\d+)/reviews/(\d+)"), self._get_review),
            ("GET", re.compile(r"/pulls/comments"), self._repo_review_comments),
            ("GET", re.compile(r"/pulls/comments/(\d+)"), self._get_review_comment),
            ("PATCH", re.compile(r"/pulls/comments/(\d+)"), self._patch_review_comment),
            ("DELETE", re.compile(r"/pulls/comments/(\d+)"), self._delete_review_comment),
            ("GET", re.compile(r"/pulls/comments/(\d+)/reactions"), self._list_reactions),
            ("POST", re.compile(r"/pulls/comments/(\d+)/reactions"), self._post_reaction),
            ("GET", re.compile(r"/issues/(\d+)/comments"), self._list_issue_comments),
            ("POST", re.compile(r"/issues/(\d+)/comments"), self._post_issue_comment),
            ("GET", re.compile(r"/issues/comments/(\d+)"), self._get_issue_comment),
            ("PATCH", re.compile(r"/issues/comments/(\d+)"), self._patch_issue_comment),
            ("DELETE", re.compile(r"/issues/comments/(\d+)"), self._delete_issue_comment),
            ("GET", re.compile(r"/compare/(.+)"), self._compare),
            ("GET", re.compile(r"/commits/(.+)"), self._get_commit),
            ("GET", re.compile(r"/contents(?:/(.*))?"), self._contents),
            ("GET", re.compile(r"/git/trees/(.+)"), self._tree),
            ("GET", re.compile(r""), self._get_repo),
        ]

    # ---- setup --------------------------------------------------------------------------

    def add_repository(self, full_name: str, path: Path, default_branch: str = "main") -> None:
        """Serve the git repository at ``path`` as ``full_name`` (``owner/name``)."""
        if full_name.count("/") != 1:
            raise ValueError(f"repository name must be owner/name, got {full_name!r}")
        _git(Path(path), "rev-parse", "--git-dir")
        with self._lock:
            self._repos[full_name.lower()] = _Repo(
                full_name=full_name,
                path=Path(path),
                default_branch=default_branch,
                id=self._next_id("repo"),
            )

    def open_pull_request(
        self,
        full_name: str,
        *,
        base: str,
        head: str,
        title: str,
        body: str = "",
        user: str = "alice",
        draft: bool = False,
    ) -> int:
        """Open a pull request from branch ``head`` into branch ``base``; its number (from 1)."""
        repo = self._repo(full_name)
        for branch in (base, head):
            if _branch_sha(repo.path, branch) is None:
                raise ValueError(f"{full_name} has no branch {branch!r}")
        now = time.time()
        head_sha, base_sha = _branch_sha(repo.path, head), _branch_sha(repo.path, base)
        with self._lock:
            number = len(repo.pulls) + 1
            repo.pulls[number] = _Pull(
                number=number,
                id=self._next_id("pull"),
                base=base,
                head=head,
                title=title,
                body=body,
                user=user,
                draft=draft,
                created_at=now,
                updated_at=now,
                last_head_sha=head_sha,
                last_base_sha=base_sha,
            )
        return number

    def close_pull_request(self, full_name: str, number: int, merged: bool = False) -> None:
        pull = self._pull_of(self._repo(full_name), number)
        self._refresh_shas(self._repo(full_name), pull)
        now = time.time()
        with self._lock:
            pull.state = "closed"
            pull.merged = merged
            pull.closed_at = now
            pull.merged_at = now if merged else None
            pull.updated_at = now

    def add_token(self, token: str, login: str = "reviewflow[bot]") -> None:
        """Accept ``token`` (``Authorization: Bearer``/``token``) as user ``login``."""
        with self._lock:
            self._tokens[token] = _Token(login=login)

    def add_app(
        self,
        app_id: int,
        public_key_pem: str,
        installations: dict[str, int],
        *,
        slug: str = "reviewflow",
    ) -> None:
        """A GitHub App whose RS256 JWTs (``iss`` = app id) buy installation tokens; its
        ``installations`` map repository full names to installation ids."""
        with self._lock:
            self._apps[app_id] = _App(
                app_id=app_id,
                slug=slug,
                public_key=public_key_pem,
                installations={k.lower(): v for k, v in installations.items()},
            )

    def expire_tokens(self) -> None:
        """Expire every installation token issued so far (they answer 401 from now on)."""
        with self._lock:
            for token in self._tokens.values():
                if token.installation_id is not None:
                    token.expires_at = 0.0

    def add_reaction(self, repo: str, comment_id: int, content: str, user: str = "bob") -> None:
        """``user`` reacts to review comment ``comment_id``."""
        if content not in REACTIONS:
            raise ValueError(f"unknown reaction {content!r}")
        with self._lock:
            comment = self._review_comments.get(comment_id)
            if comment is None or comment.repo.lower() != repo.lower():
                raise KeyError(f"no review comment {comment_id} in {repo}")
            self._add_reaction(comment_id, content, user)

    def fail_next(
        self,
        status: int,
        *,
        count: int = 1,
        retry_after: float | None = None,
        secondary: bool = False,
        path_contains: str | None = None,
    ) -> None:
        """Answer the next ``count`` requests (whose path contains ``path_contains``, if given)
        with ``status``: a 403 with ``secondary`` is a secondary rate limit; ``retry_after``
        (seconds) is sent as ``Retry-After``."""
        with self._lock:
            self._failures.append(
                _Failure(
                    status=status,
                    count=count,
                    retry_after=retry_after,
                    secondary=secondary,
                    path_contains=path_contains,
                )
            )

    def set_rate_limit(self, limit: int, reset_in: float, *, resource: str = "core") -> None:
        """A primary budget of ``limit`` calls for ``resource`` (``core`` = REST, ``graphql``)
        that refills every ``reset_in`` seconds, starting now."""
        with self._lock:
            self._budgets[resource] = _Budget(
                limit=limit, window=reset_in, reset_at=time.time() + reset_in
            )

    # ---- inspection ---------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError("GitHubEmulator is not running")
        return f"http://127.0.0.1:{self._port}"

    @property
    def graphql_url(self) -> str:
        return self.base_url + "/graphql"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def issue_comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        with self._lock:
            return [
                self._issue_comment_json(c)
                for c in self._issue_comments.values()
                if c.repo.lower() == repo.lower() and c.number == number
            ]

    def review_comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        with self._lock:
            return [
                self._review_comment_json(c)
                for c in self._review_comments.values()
                if c.repo.lower() == repo.lower() and c.number == number
            ]

    def reviews(self, repo: str, number: int) -> list[dict[str, Any]]:
        with self._lock:
            return [
                self._review_json(r)
                for r in self._reviews.values()
                if r.repo.lower() == repo.lower() and r.number == number
            ]

    def pull(self, repo: str, number: int) -> dict[str, Any]:
        r = self._repo(repo)
        return self._pull_json(r, self._pull_of(r, number))

    def threads(self, repo: str, number: int) -> list[dict[str, Any]]:
        """Review threads: ``id``, ``isResolved``, ``comment_ids``, ``path``, ``line``."""
        with self._lock:
            result = []
            for thread in self._threads.values():
                if thread.repo.lower() != repo.lower() or thread.number != number:
                    continue
                first = self._review_comments.get(thread.comment_ids[0])
                result.append(
                    {
                        "id": thread.id,
                        "isResolved": thread.resolved,
                        "comment_ids": list(thread.comment_ids),
                        "path": first.path if first else None,
                        "line": first.line if first else None,
                    }
                )
            return result

    # ---- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> Self:
        app = Starlette(
            routes=[
                Route(
                    "/{path:path}",
                    self._endpoint,
                    methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
                )
            ]
        )
        self._loopback = LoopbackServer(app, "github-emulator")
        self._port = self._loopback.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._loopback is not None:
            self._loopback.stop()
        self._loopback = None
        self._port = None

    # ---- request pipeline ---------------------------------------------------------------

    async def _endpoint(self, request: Request) -> Response:
        body = await request.body()
        ctx = _Ctx(
            method=request.method,
            path=request.url.path,
            query=dict(request.query_params),
            body=body,
            headers={k.lower(): v for k, v in request.headers.items()},
        )
        reply = await run_in_threadpool(self._handle, ctx)
        content = b"" if reply.status == 204 else json.dumps(reply.payload).encode()
        headers = {"x-github-media-type": "github.v3; format=json", **reply.headers}
        return Response(
            content,
            status_code=reply.status,
            headers=headers,
            media_type=None if reply.status == 204 else "application/json; charset=utf-8",
        )

    def _handle(self, ctx: _Ctx) -> _Reply:
        with self._lock:
            request_id = self._next_id("request")
            record = RecordedRequest(
                method=ctx.method, path=ctx.path, query=dict(ctx.query), timestamp=time.time()
            )
            self._requests.append(record)
        try:
            reply = self._pipeline(ctx, request_id)
        except _ApiError as exc:
            reply = _Reply(exc.status, exc.payload, exc.headers)
        except Exception as exc:  # a bug in the emulator: answer 500 and say what happened
            reply = _Reply(500, _msg(f"emulator error: {type(exc).__name__}: {exc}", 500))
        reply.headers.setdefault("x-github-request-id", f"EMU{request_id:08X}")
        with self._lock:
            record.status = reply.status
            record.login = ctx.login or None
            record.operation = ctx.operation
        return reply

    def _pipeline(self, ctx: _Ctx, request_id: int) -> _Reply:
        injected = self._take_failure(ctx.path, request_id)
        if injected is not None:
            return injected
        app_route = re.fullmatch(r"/repos/([^/]+)/([^/]+)/installation", ctx.path)
        tokens_route = re.fullmatch(r"/app/installations/(\d+)/access_tokens", ctx.path)
        if ctx.method == "GET" and app_route:
            app = self._authenticate_app(ctx)
            return self._installation(app, f"{app_route.group(1)}/{app_route.group(2)}")
        if ctx.method == "POST" and tokens_route:
            app = self._authenticate_app(ctx)
            return self._access_token(app, int(tokens_route.group(1)))
        if ctx.method == "GET" and ctx.path == "/app":
            app = self._authenticate_app(ctx)
            return _Reply(200, {"id": app.app_id, "slug": app.slug, "name": app.slug})
        self._authenticate(ctx)
        resource = "graphql" if ctx.path == "/graphql" else "core"
        rate_headers = self._spend(resource, ctx)
        try:
            reply = self._dispatch(ctx)
        except _ApiError as exc:
            exc.headers.update(rate_headers)
            raise
        reply.headers.update(rate_headers)
        return reply

    def _take_failure(self, path: str, request_id: int) -> _Reply | None:
        with self._lock:
            for failure in self._failures:
                if failure.path_contains is None or failure.path_contains in path:
                    failure.count -= 1
                    if failure.count <= 0:
                        self._failures.remove(failure)
                    break
            else:
                return None
        headers: dict[str, str] = {}
        if failure.retry_after is not None:
            headers["retry-after"] = f"{failure.retry_after:g}"
        rid = f"EMU{request_id:08X}"
        if failure.secondary or failure.status == 429:
            message = SECONDARY_MESSAGE.format(rid=rid)
        else:
            try:
                message = HTTPStatus(failure.status).phrase
            except ValueError:
                message = "Error"
            if failure.status >= 500:
                message = "Server Error"
        if failure.status in (403, 429):
            with self._lock:
                budget = self._budget("core")
                headers.update(self._rate_headers("core", budget))
        return _Reply(failure.status, _msg(message, failure.status), headers)

    # ---- authentication and rate limits -------------------------------------------------

    def _authenticate(self, ctx: _Ctx) -> None:
        credential = _bearer(ctx.headers)
        with self._lock:
            token = self._tokens.get(credential) if credential else None
            if token is not None and token.expires_at <= time.time():
                token = None
        if token is None:
            raise _ApiError(401, _msg("Bad credentials", 401))
        ctx.login = token.login
        ctx.token = token

    def _authenticate_app(self, ctx: _Ctx) -> _App:
        credential = _bearer(ctx.headers)
        undecodable = _ApiError(401, _msg("A JSON web token could not be decoded", 401))
        if credential is None:
            raise undecodable
        try:
            claims = jwt.decode(credential, options={"verify_signature": False})
            header = jwt.get_unverified_header(credential)
        except jwt.PyJWTError:
            raise undecodable from None
        with self._lock:
            app = (
                self._apps.get(int(claims["iss"])) if str(claims.get("iss", "")).isdigit() else None
            )
        if app is None or header.get("alg") != "RS256":
            raise _ApiError(401, _msg("Integration not found", 401))
        try:
            verified = jwt.decode(
                credential,
                app.public_key,
                algorithms=["RS256"],
                options={"require": ["iat", "exp", "iss"]},
                leeway=0,
            )
        except jwt.ExpiredSignatureError:
            raise _ApiError(
                401,
                _msg(
                    "'Expiration time' claim ('exp') must be a numeric value representing the "
                    "future time at which the assertion expires",
                    401,
                ),
            ) from None
        except jwt.ImmatureSignatureError:
            raise _ApiError(
                401,
                _msg(
                    "'Issued at' claim ('iat') must be an Integer representing the time that "
                    "the assertion was issued",
                    401,
                ),
            ) from None
        except jwt.PyJWTError:
            raise undecodable from None
        if float(verified["exp"]) - time.time() > 600 + 1:
            raise _ApiError(
                401, _msg("'Expiration time' claim ('exp') is too far in the future", 401)
            )
        ctx.login = f"app:{app.slug}"
        return app

    def _installation(self, app: _App, full_name: str) -> _Reply:
        installation = app.installations.get(full_name.lower())
        if installation is None or full_name.lower() not in self._repos:
            raise _not_found()
        owner = full_name.split("/")[0]
        return _Reply(
            200,
            {
                "id": installation,
                "app_id": app.app_id,
                "app_slug": app.slug,
                "account": _user(owner),
                "repository_selection": "selected",
                "target_type": "Organization",
                "permissions": {"contents": "read", "pull_requests": "write", "metadata": "read"},
                "access_tokens_url": f"{self._api_root()}/app/installations/{installation}"
                "/access_tokens",
            },
        )

    def _access_token(self, app: _App, installation: int) -> _Reply:
        if installation not in app.installations.values():
            raise _not_found()
        token = "ghs_" + secrets.token_urlsafe(27).replace("-", "A").replace("_", "b")[:36]
        expires = time.time() + 3600
        with self._lock:
            self._tokens[token] = _Token(
                login=f"{app.slug}[bot]", installation_id=installation, expires_at=expires
            )
        return _Reply(
            201,
            {
                "token": token,
                "expires_at": _iso(expires),
                "permissions": {"contents": "read", "pull_requests": "write", "metadata": "read"},
                "repository_selection": "selected",
            },
        )

    def _budget(self, resource: str) -> _Budget:
        now = time.time()
        budget = self._budgets.get(resource)
        if budget is None:
            budget = self._budgets[resource] = _Budget(
                limit=5000, window=3600.0, reset_at=now + 3600.0
            )
        if now >= budget.reset_at:
            budget.used = 0
            budget.reset_at = now + budget.window
        return budget

    @staticmethod
    def _rate_headers(resource: str, budget: _Budget) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(budget.limit),
            "x-ratelimit-remaining": str(max(0, budget.limit - budget.used)),
            "x-ratelimit-used": str(min(budget.used, budget.limit)),
            "x-ratelimit-reset": str(math.ceil(budget.reset_at)),
            "x-ratelimit-resource": resource,
        }

    def _spend(self, resource: str, ctx: _Ctx) -> dict[str, str]:
        with self._lock:
            budget = self._budget(resource)
            if budget.used >= budget.limit:
                headers = self._rate_headers(resource, budget)
                token = ctx.token
                installation = (
                    token.installation_id
                    if token is not None and token.installation_id is not None
                    else _stable_id(ctx.login)
                )
                raise _ApiError(
                    403,
                    _msg(
                        f"API rate limit exceeded for installation ID {installation}. "
                        "If you reach out to GitHub Support for help, please include the "
                        "request ID.",
                        403,
                    ),
                    headers,
                )
            budget.used += 1
            return self._rate_headers(resource, budget)

    # ---- routing ------------------------------------------------------------------------

    def _dispatch(self, ctx: _Ctx) -> _Reply:
        if ctx.path == "/graphql":
            if ctx.method != "POST":
                raise _not_found()
            return self._graphql(ctx)
        if ctx.path == "/user" and ctx.method == "GET":
            # an installation token is not a user: GitHub answers 403 to it here
            if ctx.token is not None and ctx.token.installation_id is not None:
                raise _ApiError(403, _msg("Resource not accessible by integration", 403))
            return _Reply(200, _user(ctx.login))
        if ctx.path == "/rate_limit" and ctx.method == "GET":
            with self._lock:
                resources = {
                    name: {
                        "limit": b.limit,
                        "used": b.used,
                        "remaining": max(0, b.limit - b.used),
                        "reset": math.ceil(b.reset_at),
                    }
                    for name in ("core", "graphql")
                    for b in [self._budget(name)]
                }
            return _Reply(200, {"resources": resources, "rate": resources["core"]})
        match = re.fullmatch(r"/repos/([^/]+)/([^/]+)(/.*)?", ctx.path)
        if match is None:
            raise _not_found()
        repo = self._visible_repo(ctx, f"{match.group(1)}/{match.group(2)}")
        rest = match.group(3) or ""
        if not rest.startswith("/contents"):
            rest = rest.rstrip("/")
        for method, pattern, handler in self._routes:
            if method != ctx.method:
                continue
            found = pattern.fullmatch(rest)
            if found is not None:
                return handler(ctx, repo, found)
        raise _not_found()

    def _visible_repo(self, ctx: _Ctx, full_name: str) -> _Repo:
        with self._lock:
            repo = self._repos.get(full_name.lower())
            if repo is None:
                raise _not_found()
            token = ctx.token
            if token is not None and token.installation_id is not None:
                allowed = any(
                    full_name.lower() in app.installations
                    and app.installations[full_name.lower()] == token.installation_id
                    for app in self._apps.values()
                )
                if not allowed:
                    raise _not_found()
            return repo

    # ---- state helpers ------------------------------------------------------------------

    def _next_id(self, kind: str) -> int:
        with self._lock:
            self._ids[kind] += 1
            return self._ids[kind]

    def _api_root(self) -> str:
        return self.base_url if self._port is not None else "http://127.0.0.1"

    def _repo(self, full_name: str) -> _Repo:
        with self._lock:
            repo = self._repos.get(full_name.lower())
        if repo is None:
            raise KeyError(f"no repository {full_name}")
        return repo

    def _pull_of(self, repo: _Repo, number: int) -> _Pull:
        with self._lock:
            pull = repo.pulls.get(number)
        if pull is None:
            raise KeyError(f"{repo.full_name} has no pull request {number}")
        return pull

    def _pull_or_404(self, repo: _Repo, number: str | int) -> _Pull:
        with self._lock:
            pull = repo.pulls.get(int(number))
        if pull is None:
            raise _not_found()
        return pull

    def _refresh_shas(self, repo: _Repo, pull: _Pull) -> tuple[str, str]:
        """The live (head sha, base tip sha) of an open pull request, read from its branches;
        the last seen ones when a branch is gone, and the head is frozen once it is closed."""
        head = _branch_sha(repo.path, pull.head) if pull.state == "open" else None
        base = _branch_sha(repo.path, pull.base)
        with self._lock:
            if head is not None:
                pull.last_head_sha = head
            if base is not None:
                pull.last_base_sha = base
            head_sha, base_sha = pull.last_head_sha, pull.last_base_sha
        if head_sha is None or base_sha is None:
            raise RuntimeError(
                f"pull request {pull.number}: branch {pull.head} or {pull.base} gone"
            )
        return head_sha, base_sha

    def _files(self, repo: _Repo, base: str, head: str) -> list[_FileDiff]:
        key = (str(repo.path), base, head)
        with self._lock:
            cached = self._diff_cache.get(key)
        if cached is not None:
            return cached
        files = _diff(repo.path, base, head)
        with self._lock:
            if len(self._diff_cache) > 64:
                self._diff_cache.clear()
            self._diff_cache[key] = files
        return files

    def _pull_diff(self, repo: _Repo, base_sha: str, head_sha: str) -> list[_FileDiff]:
        """The pull request's diff: merge-base(base tip, head) .. head."""
        merge_base = _merge_base(repo.path, base_sha, head_sha) or _EMPTY_TREE
        return self._files(repo, merge_base, head_sha)

    @staticmethod
    def _pull_commit_shas(repo: _Repo, base_sha: str, head_sha: str) -> list[str]:
        return _git(repo.path, "rev-list", head_sha, f"^{base_sha}").decode().split()

    # ---- JSON shapes --------------------------------------------------------------------

    def _repo_json(self, repo: _Repo) -> dict[str, Any]:
        owner, name = repo.full_name.split("/")
        return {
            "id": repo.id,
            "node_id": _node_id("R", "Repository", repo.id),
            "name": name,
            "full_name": repo.full_name,
            "owner": _user(owner),
            "private": True,
            "html_url": f"{HTML_ROOT}/{repo.full_name}",
            "url": f"{self._api_root()}/repos/{repo.full_name}",
            "default_branch": repo.default_branch,
        }

    def _pull_json(self, repo: _Repo, pull: _Pull) -> dict[str, Any]:
        head_sha, base_sha = self._refresh_shas(repo, pull)
        files = self._pull_diff(repo, base_sha, head_sha)
        commits = self._pull_commit_shas(repo, base_sha, head_sha)
        owner = repo.full_name.split("/")[0]
        with self._lock:
            return {
                "id": pull.id,
                "node_id": _node_id("PR", "PullRequest", pull.id),
                "number": pull.number,
                "url": f"{self._api_root()}/repos/{repo.full_name}/pulls/{pull.number}",
                "html_url": f"{HTML_ROOT}/{repo.full_name}/pull/{pull.number}",
                "diff_url": f"{HTML_ROOT}/{repo.full_name}/pull/{pull.number}.diff",
                "state": pull.state,
                "locked": False,
                "title": pull.title,
                "body": pull.body or None,
                "user": _user(pull.user),
                "draft": pull.draft,
                "merged": pull.merged,
                "created_at": _iso(pull.created_at),
                "updated_at": _iso(pull.updated_at),
                "closed_at": _iso(pull.closed_at) if pull.closed_at else None,
                "merged_at": _iso(pull.merged_at) if pull.merged_at else None,
                "head": {
                    "label": f"{owner}:{pull.head}",
                    "ref": pull.head,
                    "sha": head_sha,
                    "user": _user(owner),
                    "repo": self._repo_json(repo),
                },
                "base": {
                    "label": f"{owner}:{pull.base}",
                    "ref": pull.base,
                    "sha": base_sha,
                    "user": _user(owner),
                    "repo": self._repo_json(repo),
                },
                "commits": len(commits),
                "additions": sum(f.additions for f in files),
                "deletions": sum(f.deletions for f in files),
                "changed_files": len(files),
            }

    def _file_json(self, repo: _Repo, diff: _FileDiff, ref: str) -> dict[str, Any]:
        data: dict[str, Any] = {
            "sha": diff.sha,
            "filename": diff.filename,
            "status": diff.status,
            "additions": diff.additions,
            "deletions": diff.deletions,
            "changes": diff.additions + diff.deletions,
            "blob_url": f"{HTML_ROOT}/{repo.full_name}/blob/{ref}/{diff.filename}",
            "raw_url": f"{HTML_ROOT}/{repo.full_name}/raw/{ref}/{diff.filename}",
            "contents_url": f"{self._api_root()}/repos/{repo.full_name}/contents/"
            f"{diff.filename}?ref={ref}",
        }
        patch = diff.patch
        if patch is not None:
            data["patch"] = patch
        if diff.previous_filename is not None:
            data["previous_filename"] = diff.previous_filename
        return data

    def _commit_json(self, repo: _Repo, commit: dict[str, Any]) -> dict[str, Any]:
        sha = str(commit["sha"])
        return {
            "sha": sha,
            "node_id": _node_id("C", "Commit", _stable_id(sha)),
            "url": f"{self._api_root()}/repos/{repo.full_name}/commits/{sha}",
            "html_url": f"{HTML_ROOT}/{repo.full_name}/commit/{sha}",
            "commit": {
                "message": commit["message"],
                "author": commit["author"],
                "committer": commit["committer"],
                "tree": {"sha": commit["tree"]},
            },
            "parents": [{"sha": p} for p in commit["parents"]],
        }

    def _issue_comment_json(self, c: _IssueComment) -> dict[str, Any]:
        return {
            "id": c.id,
            "node_id": _node_id("IC", "IssueComment", c.id),
            "url": f"{self._api_root()}/repos/{c.repo}/issues/comments/{c.id}",
            "html_url": f"{HTML_ROOT}/{c.repo}/pull/{c.number}#issuecomment-{c.id}",
            "issue_url": f"{self._api_root()}/repos/{c.repo}/issues/{c.number}",
            "body": c.body,
            "user": _user(c.user),
            "created_at": _iso(c.created_at),
            "updated_at": _iso(c.updated_at),
            "author_association": "NONE",
        }

    def _reactions_summary(self, comment_id: int) -> dict[str, Any]:
        summary: dict[str, Any] = {"url": "", "total_count": 0, **dict.fromkeys(REACTIONS, 0)}
        for reaction in self._reactions.values():
            if reaction.comment_id == comment_id:
                summary[reaction.content] += 1
                summary["total_count"] += 1
        return summary

    def _review_comment_json(self, c: _ReviewComment) -> dict[str, Any]:
        api = f"{self._api_root()}/repos/{c.repo}"
        reactions = self._reactions_summary(c.id)
        reactions["url"] = f"{api}/pulls/comments/{c.id}/reactions"
        return {
            "id": c.id,
            "node_id": _node_id("PRRC", "PullRequestReviewComment", c.id),
            "url": f"{api}/pulls/comments/{c.id}",
            "html_url": f"{HTML_ROOT}/{c.repo}/pull/{c.number}#discussion_r{c.id}",
            "pull_request_url": f"{api}/pulls/{c.number}",
            "pull_request_review_id": c.review_id,
            "diff_hunk": c.diff_hunk,
            "path": c.path,
            "position": c.position,
            "original_position": c.position,
            "commit_id": c.commit_id,
            "original_commit_id": c.commit_id,
            "in_reply_to_id": c.in_reply_to_id,
            "user": _user(c.user),
            "body": c.body,
            "created_at": _iso(c.created_at),
            "updated_at": _iso(c.updated_at),
            "author_association": "NONE",
            "start_line": c.start_line,
            "original_start_line": c.start_line,
            "start_side": c.start_side,
            "line": c.line,
            "original_line": c.line,
            "side": c.side,
            "subject_type": c.subject_type,
            "reactions": reactions,
        }

    def _review_json(self, r: _Review) -> dict[str, Any]:
        return {
            "id": r.id,
            "node_id": _node_id("PRR", "PullRequestReview", r.id),
            "user": _user(r.user),
            "body": r.body,
            "state": r.state,
            "commit_id": r.commit_id,
            "html_url": f"{HTML_ROOT}/{r.repo}/pull/{r.number}#pullrequestreview-{r.id}",
            "pull_request_url": f"{self._api_root()}/repos/{r.repo}/pulls/{r.number}",
            "submitted_at": _iso(r.submitted_at) if r.state != "PENDING" else None,
            "author_association": "NONE",
        }

    # ---- pagination ---------------------------------------------------------------------

    def _page(
        self, ctx: _Ctx, items: list[Any], *, default_per_page: int = DEFAULT_PER_PAGE
    ) -> tuple[list[Any], dict[str, str]]:
        per_page = _query_int(ctx.query.get("per_page"), default_per_page)
        per_page = min(max(per_page, 1), MAX_PER_PAGE) if per_page > 0 else default_per_page
        page = max(_query_int(ctx.query.get("page"), 1), 1)
        last = max(1, math.ceil(len(items) / per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []

        def url(number: int) -> str:
            query = {**ctx.query, "page": str(number)}
            return f"{self._api_root()}{ctx.path}?{urlencode(query)}"

        if page > 1:
            links.append(f'<{url(page - 1)}>; rel="prev"')
        if page < last:
            links.append(f'<{url(page + 1)}>; rel="next"')
            links.append(f'<{url(last)}>; rel="last"')
        if page > 1:
            links.append(f'<{url(1)}>; rel="first"')
        return chunk, ({"link": ", ".join(links)} if links else {})

    def _list(self, ctx: _Ctx, items: list[Any]) -> _Reply:
        chunk, headers = self._page(ctx, items)
        return _Reply(200, chunk, headers)

    # ---- REST: repository, pulls --------------------------------------------------------

    def _get_repo(self, ctx: _Ctx, repo: _Repo, m: re.Match[str]) -> _Reply:
        return _Reply(200, self._repo_json(repo))

    def _list_pulls(self, ctx: _Ctx, repo: _Repo, m: re.Match[str]) -> _Reply:
        state = ctx.query.get("state", "open")
        if state not in ("open", "closed", "all"):
            raise _validation("PullRequest", "state", "invalid")
        head = ctx.query.get("head")  # "owner:branch"
        base = ctx.query.get("base")
        with self._lock:
            pulls = [
                p
                for p in sorted(repo.pulls.values(), key=lambda p: p.number, reverse=True)
                if (state == "all" or p.state == state)
                and (base is None or p.base == base)
                and (head is None or head.split(":", 1)[-1] == p.head)
            ]
        return self._list(ctx, [self._pull_json(repo, p) for p in pulls])

    def _get_pull(self, ctx: _Ctx, repo: _Repo, m: re.Match[str]) -> _Reply:
        return _Reply(200, self._pull_json(repo, self._pull_or_404(repo, m.group(1))))

    def _patch_pull(self, ctx: _Ctx, repo: _Repo, m: re.Match[str]) -> _Reply:
        pull = self._pull_or_404(repo, m.group(1))
        data = ctx.json()
        title, body, state = (
            _opt_str(data, "title"),
            _opt_str(data, "body"),
            _opt_str(data, "state"),
        )
        if title is not None and not title.strip():
            raise _validation("PullRequest", "title", "missing_field")
        if body is not None:
            _check_body_length("PullRequest", body)
        if state is not None and state not in ("open", "closed"):
            raise _validation("PullRequest", "state", "invalid")
        with self._lock:
            if title is not None:
                pull.title = title
            if body is not None:
                pull.body = body
            if state is not None and not pull.merged:
                pull.state = state
                pull.closed_at = time.time() if state == "closed" else None
            pull.updated_at = time.time()
        return _Reply(200, self._pull_json(repo, pull))

    def _pull_files(self, ctx: _Ctx, repo: _Repo, m: re.Match[str]) -> _Reply:
        pull = self._pull_or_404(repo, m.group(1))
        head_sha, base_sha = self._refresh_shas(repo, pull)
        files = self._pull_diff(repo, base_sha, head_sha)[:MAX_PULL_FILES]
        return self._list(ctx, [self._file_json(repo, f, head_sha) for f in files])

    def _pull_commits(self, ctx: _Ctx, repo: _Repo, m: re.Match[str]) -> _Reply:
        pull = self._pull_or_404(repo, m.group(1))
        head_sha, base_sha = self._refresh_shas(repo, pull)
        commits = _commits(repo.path, f"^{base_sha}", head_sha)[:MAX_PULL_COMMITS]
        return self._list(ctx, [self._commit_json(repo, c) for c in commits])

    # ---- REST: git data -----------------------------------------------------------------

    def _compare(self, ctx: _Ctx, repo: _Repo, m: re.Match[str]) -> _Reply:
        basehead = m.group(1)
        if "..." not in basehead:
            raise _not_found()
        base_name, head_name = basehead.split("...", 1)
        base = _resolve(repo.path, base_name)
        head = _resolve(repo.path, head_name)
        if base is None or head is None:
            raise _not_found()
        merge_base = _merge_base(repo.path, base, head)
        if merge_base is None:
            raise _ApiError(
                404, _msg(f"No common ancestor between {base_name} and {head_name}.", 404)
            )
        ahead = _count(repo.path, base, head)
        behind = _count(repo.path, head, base)
        if ahead == 0 and behind == 0:
            status = "identical"
        elif behind == 0:
            status = "ahead"
        elif ahead == 0:
            status = "behind"
        else:
            status = "diverged"
        commits = [self._commit_json(repo, c) for c in _commits(repo.path, f"^{base}", head)]
        paginated = "page" in ctx.query or "per_page" in ctx.query
        headers: dict[str, str] = {}
        if paginated:
            commits, headers = self._page(ctx, commits)
            first_page = max(_query_int(ctx.query.get("page"), 1), 1) == 1
        else:
            commits = commits[:MAX_COMPARE_COMMITS_UNPAGINATED]
            first_page = True
        base_commit = _commits(repo.path, base, reverse=False, limit=1)[0]
        merge_base_commit = _commits(repo.path, merge_base, reverse=False, limit=1)[0]
        payload: dict[str, Any] = {
            "url": f"{self._api_root()}/repos/{repo.full_name}/compare/{basehead}",
            "html_url": f"{HTML_ROOT}/{repo.full_name}/compare/{basehead}",
            "base_commit": self._commit_json(repo, base_commit),
            "merge_base_commit": self._commit_json(repo, merge_base_commit),
            "status": status,
            "ahead_by": ahead,
            "behind_by": behind,
            "total_commits": ahead,
            "commits": commits,
        }
        if first_page:
            files = self._files(repo, merge_base, head)[:MAX_COMPARE_FILES]
            payload["files"] = [self._file_json(repo, f, head) for f in files]
        return _Reply(200, payload, headers)

    def _get_commit(self, ctx: _Ctx, repo: _Repo, m: re.Match[str]) -> _Reply:
        name = m.group(1)
        sha = _resolve(repo.path, name)
        if sha is None:
            raise _ApiError(422, _msg(f"No commit found for SHA: {name}", 422))
        commit = _commits(repo.path, sha, reverse=False, limit=1)[0]
        parent = commit["parents"][0] if commit["parents"] else _EMPTY_TREE
        files = self._files(repo, parent, sha)
        data = self._commit_json(repo, commit)
        additions = sum(f.additions for f in files)
        deletions = sum(f.deletions for f in files)
        data["stats"] = {
            "total": additions + deletions,
            "additions": additions,
            "deletions": deletions,
        }
        chunk, headers = self._page(ctx, [self._file_json(repo, f, sha) for f in files])
        data["files"] = chunk
        return _Reply(200, data, headers)

    def _contents(self, ctx: _Ctx, repo: _Repo, m: re.Match[str]) -> _Reply:
        path = (m.group(1) or "").strip("/")
        ref = ctx.query.get("ref") or repo.default_branch
        commit = _resolve(repo.path, ref)
        if commit is None:
            raise _ApiError(404, _msg(f"No commit found for the ref {ref}", 404))
        if path:
            listing = _git(repo.path, "ls-tree", "-z", "-l", "--full-tree", commit, "--", path)
            entries = _parse_ls_tree(listing)
            entry = next((e for e in entries if e[3] == path), None)
            if entry is None:
                raise _not_found()
            mode, kind, sha, _, size = entry
        else:
            mode, kind, sha, size = "040000", "tree", _resolve(repo.path, commit, "tree") or "", 0
        if kind == "tree":
            listing = _git(repo.path, "ls-tree", "-z", "-l", sha)
            items = []
            for e_mode, e_kind, e_sha, e_name, e_size in _parse_ls_tree(listing):
                e_path = f"{path}/{e_name}" if path else e_name
                items.append(self._content_entry(repo, ref, e_mode, e_kind, e_sha, e_path, e_size))
            return _Reply(200, items)
        data = self._content_entry(repo, ref, mode, kind, sha, path, size)
        if kind != "blob":
            return _Reply(200, data)
        if mode == "120000":
            target = _git(repo.path, "cat-file", "blob", sha).decode(errors="replace")
            data["type"] = "symlink"
            data["target"] = target
            return _Reply(200, data)
        if size > CONTENTS_INLINE_LIMIT:
            data["content"] = ""
            data["encoding"] = "none"
            return _Reply(200, data)
        raw = _git(repo.path, "cat-file", "blob", sha)
        encoded = base64.b64encode(raw).decode()
        data["content"] = "".join(encoded[i : i + 60] + "\n" for i in range(0, len(encoded), 60))
        data["encoding"] = "base64"
        return _Reply(200, data)

    def _content_entry(
        self, repo: _Repo, ref: str, mode: str, kind: str, sha: str, path: str, size: int
    ) -> dict[str, Any]:
        content_type = {"blob": "file", "tree": "dir", "commit": "submodule"}.get(kind, "file")
        api = f"{self._api_root()}/repos/{repo.full_name}"
        return {
            "type": content_type,
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": sha,
            "size": size,
            "url": f"{api}/contents/{path}?ref={ref}",
            "html_url": f"{HTML_ROOT}/{repo.full_name}/blob/{ref}/{path}",
            "git_url": f"{api}/git/{'trees' if kind == 'tree' else 'blobs'}/{sha}",
            "download_url": f"{HTML_ROOT}/{repo.full_name}/raw/{ref}/{path}"
            if kind == "blob"
            else None,
        }

    def _tree(self, ctx: _Ctx, repo: _Repo, m: re.Match[str]) -> _Reply:
        tree = _resolve(repo.path, m.group(1), "tree")
        if tree is None:
            raise _not_found()
        recursive = ctx.query.get("recursive") not in (None, "", "0", "false")
        args = ["ls-tree", "-z", "-l"] + (["-r", "-t"] if recursive else []) + [tree]
        entries = _parse_ls_tree(_git(repo.path, *args))
        truncated = len(entries) > MAX_TREE_ENTRIES
        api = f"{self._api_root()}/repos/{repo.full_name}/git"
        items: list[dict[str, Any]] = []
        for mode, kind, sha, path, size in entries[:MAX_TREE_ENTRIES]:
            item: dict[str, Any] = {"path": path, "mode": mode, "type": kind, "sha": sha}
            if kind == "blob":
                item["size"] = size
                item["url"] = f"{api}/blobs/{sha}"
            elif kind == "tree":
                item["url"] = f"{api}/trees/{sha}"
            items.append(item)
        return _Reply(
            200, {"sha": tree, "url": f"{api}/trees/{tree}", "tree": items, "truncated": truncated}
        )

    # ---- REST: issue comments -----------------------------------------------------------

    def _list_issue_comments(self, ctx: _Ctx, repo: _Repo, m: re.Match[str]) -> _Reply:
        pull = self._pull_or_404(repo, m.group(1))
        return self._list(ctx, self.issue_comments(repo.full_name, pull.number))

    def _post_issue_comment(self, ctx: _Ctx, repo: _Repo, m: re.Match[str]) -> _Reply:
        pull = self._pull_or_404(repo, m.group(1))
        body = _opt_str(ctx.json(), "body")
        if not body:
            raise _validation("IssueComment", "body", "missing_field")
        _check_body_length("IssueComment", body)
        now = time.time()
        with self._lock:
            comment = _IssueComment(
                id=self._next_id("issue_comment"),
                repo=repo.full_name,
                number=pull.number,
                body=body,
                user=ctx.login,
                created_at=now,
                updated_at=now,
            )
            self._issue_comments[comment.id] = comment
            return _Reply(201, self._issue_comment_json(comment))

    def _issue_comment_or_404(self, repo: _Repo, comment_id: str) -> _IssueComment:
        with self._lock:
            comment = self._issue_comments.get(int(comment_id))
        if comment is None or comment.repo != repo.full_name:
            raise _not_found()
        return comment

    def _get_issue_comment(self, ctx: _Ctx, repo: _Repo, m: re.Match[str]) -> _Reply:
        comment = self._issue_comment_or_404(repo, m.group(1))
        with self._lock:
            return _Reply(200, self._issue_comment_json(comment))

    def _patch_issue_comment(self, ctx: _Ctx, repo: _Repo, m: re.Match[str]) -> _Reply:
        comment = self._issue_comment_or_404(repo, m.group(1))
        body = _opt_str(ctx.json(), "body")
        if not body:
            raise _validation("IssueComment", "body", "missing_field")
        _check_body_length("IssueComment", body)
        with self._lock:
            comment.body = body
            comment.updated_at = time.time()
            return _Reply(200, self._issue_comment_json(comment))

    def _delete_issue_comment(self, ctx: _Ctx, repo: _Repo, m: re.Match[str]) -> _Reply:
        comment = self._issue_comment_or_404(repo, m.group(1))
        with self._lock:
            self._issue_comments.pop(comment.id, None)
        return _Reply(204, None)

    # ---- REST: review comments ----------------------------------------------------------

    def _sorted_review_comments(
        self, ctx: _Ctx, comments: Iterable[_ReviewComment]
    ) -> list[dict[str, Any]]:
        items = list(comments)
        sort = ctx.query.get("sort")
        if sort in ("created", "updated"):
            descending = ctx.query.get("direction", "desc") != "asc"
            items.sort(
                key=lambda c: (c.created_at if sort == "created" else c.updated_at, c.id),
                reverse=descending,
            )
        else:
            items.sort(key=lambda c: c.id)
        since = ctx.query.get("since")
        if since:
            try:
                threshold = datetime.fromisoformat(since.replace("Z", "+00:00")).timestamp()
            except ValueError:
                raise _invalid(f'For "since", "{since}" is not a timestamp.') from None
            items = [c for c in items if c.updated_at >= math.floor(threshold)]
        return [self._review_comment_json(c) for c in items]

    def _list_review_comments(self, ctx: _Ctx, repo: _Repo, m: re.Match[str]) -> _Reply:
        pull = self._pull_or_404(repo, m.group(1))
        with self._lock:
            items = self._sorted_review_comments(
                ctx,
                (
                    c
                    for c in self._review_comments.values()
                    if c.repo == repo.full_name and c.number == pull.number
                ),
            )
        return self._list(ctx, items)

    def _repo_review_comments(self, ctx: _Ctx, repo: _Repo, m: re.Match[str]) -> _Reply:
        with self._lock:
            items = self._sorted_review_comments(
                ctx, (c for c in self._review_comments.values() if c.repo == repo.full_name)
            )
        return self._list(ctx, items)

    def _review_comment_or_404(self, repo: _Repo, comment_id: str | int) -> _ReviewComment:
        with self._lock:
            comment = self._review_comments.get(int(comment_id))
        if comment is None or comment.repo != repo.full_name:
            raise _not_found()
        return comment

    def _get_review_comment(self, ctx: _Ctx, repo: _Repo, m: re.Match[str]) -> _Reply:
        comment = self._review_comment_or_404(repo, m.group(1))
        with self._lock:
            return _Reply(200, self._review_comment_json(comment))

    def _patch_review_comment(self, ctx: _Ctx, repo: _Repo, m: re.Match[str]) -> _Reply:
        comment = self._review_comment_or_404(repo, m.group(1))
        body = _require_str(ctx.json(), "body")
        _check_body_length("PullRequestReviewComment", body)
        with self._lock:
            comment.body = body
            comment.updated_at = time.time()
            return _Reply(200, self._review_comment_json(comment))

    def _delete_review_comment(self, ctx: _Ctx, repo: _Repo, m: re.Match[str]) -> _Reply:
        comment = self._review_comment_or_404(repo, m.group(1))
        with self._lock:
            self._review_comments.pop(comment.id, None)
            thread = self._threads.get(comment.thread_id)
            if thread is not None:
                thread.comment_ids = [i for i in thread.comment_ids if i != comment.id]
                if not thread.comment_ids:
                    del self._threads[thread.id]
        return _Reply(204, None)

    def _anchor(
        self,
        files: list[_FileDiff],
        path: str,
        line: int,
        side: str,
        start_line: int | None,
        start_side: str,
    ) -> tuple[_AnchorError | None, str, int]:
        """(error, diff_hunk, position) for a comment anchor; error is None when the anchor
        resolves: ``line`` (and ``start_line``) on that side of a hunk of the file's diff, both
        in the same hunk, the start not after the end."""
        diff = next((f for f in files if f.filename == path), None)
        if diff is None:
            return (
                _AnchorError("path", "could not be resolved", "Path could not be resolved"),
                "",
                0,
            )
        anchor = diff.anchors.get((side, line))
        if anchor is None:
            return (
                _AnchorError("line", "could not be resolved", "Line could not be resolved"),
                "",
                0,
            )
        if start_line is not None:
            start = diff.anchors.get((start_side, start_line))
            if start is None:
                error = _AnchorError(
                    "start_line", "could not be resolved", "Start line could not be resolved"
                )
                return (error, "", 0)
            if start.hunk != anchor.hunk:
                return (
                    _AnchorError(
                        "start_line",
                        "pull_request_review_thread.start_line must be part of the same hunk as "
                        "the line.",
                        "Pull request review thread start line must be part of the same hunk as "
                        "the line.",
                    ),
                    "",
                    0,
                )
            if start.position >= anchor.position:
                return (
                    _AnchorError(
                        "start_line",
                        "pull_request_review_thread.start_line must precede the end line.",
                        "Pull request review thread start line must precede the end line.",
                    ),
                    "",
                    0,
                )
        hunk = diff.hunks[anchor.hunk]
        return (None, "\n".join(hunk[: anchor.index + 1]), anchor.position)

    def _commit_of_pull(self, repo: _Repo, pull: _Pull, commit_id: str) -> tuple[str, str] | None:
        """(commit sha, base tip sha) when ``commit_id`` (a sha, full or abbreviated; not a ref
        name) is one of the pull request's commits."""
        if not re.fullmatch(r"[0-9a-fA-F]{7,64}", commit_id):
            return None
        head_sha, base_sha = self._refresh_shas(repo, pull)
        sha = _resolve(repo.path, commit_id)
        if sha is None or sha not in self._pull_commit_shas(repo, base_sha, head_sha):
            return None
        return sha, base_sha

    def _post_review_comment(self, ctx: _Ctx, repo: _Repo, m: re.Match[str]) -> _Reply:
        pull = self._pull_or_404(repo, m.group(1))
        data = ctx.json()
        body = _require_str(data, "body")
        _check_body_length("PullRequestReviewComment", body)
        reply_to = _opt_int(data, "in_reply_to")
        if reply_to is not None:
            return self._reply(ctx, repo, pull, reply_to, body)
        commit_id = _require_str(data, "commit_id")
        path = _require_str(data, "path")
        subject_type = _opt_str(data, "subject_type") or "line"
        if subject_type not in ("line", "file"):
            raise _invalid(f'For "subject_type", "{subject_type}" is not a valid value.')
        line = _opt_int(data, "line")
        start_line = _opt_int(data, "start_line")
        side = _opt_str(data, "side") or "RIGHT"
        start_side = _opt_str(data, "start_side") or side
        for name, value in (("side", side), ("start_side", start_side)):
            if value not in ("LEFT", "RIGHT"):
                raise _invalid(f'For "{name}", "{value}" is not a valid value.')
        if subject_type == "line" and line is None:
            raise _invalid('"line" wasn\'t supplied.')
        found = self._commit_of_pull(repo, pull, commit_id)
        if found is None:
            raise _validation(
                "PullRequestReviewComment",
                "commit_id",
                "custom",
                "commit_id is not part of the pull request",
            )
        sha, base_sha = found
        files = self._pull_diff(repo, base_sha, sha)
        if subject_type == "file":
            if not any(f.filename == path for f in files):
                raise _validation(
                    "PullRequestReviewComment",
                    "pull_request_review_thread.path",
                    "custom",
                    "could not be resolved",
                )
            hunk, position = "", None
            line = start_line = None
            side_value: str | None = None
            start_side_value: str | None = None
        else:
            assert line is not None
            error, hunk, pos = self._anchor(files, path, line, side, start_line, start_side)
            if error is not None:
                raise _validation(
                    "PullRequestReviewComment",
                    f"pull_request_review_thread.{error.field}",
                    "custom",
                    error.message,
                )
            position = pos
            side_value = side
            start_side_value = start_side if start_line is not None else None
        now = time.time()
        with self._lock:
            review = _Review(
                id=self._next_id("review"),
                repo=repo.full_name,
                number=pull.number,
                body="",
                state="COMMENTED",
                commit_id=sha,
                user=ctx.login,
                submitted_at=now,
            )
            self._reviews[review.id] = review
            comment = self._new_review_comment(
                repo,
                pull,
                review.id,
                body=body,
                path=path,
                line=line,
                start_line=start_line,
                side=side_value,
                start_side=start_side_value,
                subject_type=subject_type,
                commit_id=sha,
                diff_hunk=hunk,
                position=position,
                user=ctx.login,
                now=now,
            )
            return _Reply(201, self._review_comment_json(comment))

    def _post_reply(self, ctx: _Ctx, repo: _Repo, m: re.Match[str]) -> _Reply:
        pull = self._pull_or_404(repo, m.group(1))
        body = _require_str(ctx.json(), "body")
        _check_body_length("PullRequestReviewComment", body)
        return self._reply(ctx, repo, pull, int(m.group(2)), body)

    def _reply(self, ctx: _Ctx, repo: _Repo, pull: _Pull, target_id: int, body: str) -> _Reply:
        with self._lock:
            target = self._review_comments.get(target_id)
            if target is None or target.repo != repo.full_name or target.number != pull.number:
                raise _not_found()
            root_id = target.in_reply_to_id or target.id
            now = time.time()
            review = _Review(
                id=self._next_id("review"),
                repo=repo.full_name,
                number=pull.number,
                body="",
                state="COMMENTED",
                commit_id=target.commit_id,
                user=ctx.login,
                submitted_at=now,
            )
            self._reviews[review.id] = review
            comment = _ReviewComment(
                id=self._next_id("review_comment"),
                repo=repo.full_name,
                number=pull.number,
                review_id=review.id,
                thread_id=target.thread_id,
                body=body,
                path=target.path,
                line=target.line,
                start_line=target.start_line,
                side=target.side,
                start_side=target.start_side,
                subject_type=target.subject_type,
                commit_id=target.commit_id,
                diff_hunk=target.diff_hunk,
                position=target.position,
                user=ctx.login,
                in_reply_to_id=root_id,
                created_at=now,
                updated_at=now,
            )
            self._review_comments[comment.id] = comment
            thread = self._threads.get(target.thread_id)
            if thread is not None:
                thread.comment_ids.append(comment.id)
            return _Reply(201, self._review_comment_json(comment))

    def _new_review_comment(
        self,
        repo: _Repo,
        pull: _Pull,
        review_id: int,
        *,
        body: str,
        path: str,
        line: int | None,
        start_line: int | None,
        side: str | None,
        start_side: str | None,
        subject_type: str,
        commit_id: str,
        diff_hunk: str,
        position: int | None,
        user: str,
        now: float,
    ) -> _ReviewComment:
        """A top-level review comment and the thread it opens (call with the lock held)."""
        comment_id = self._next_id("review_comment")
        thread_id = _node_id("PRRT", "PullRequestReviewThread", self._next_id("thread"))
        comment = _ReviewComment(
            id=comment_id,
            repo=repo.full_name,
            number=pull.number,
            review_id=review_id,
            thread_id=thread_id,
            body=body,
            path=path,
            line=line,
            start_line=start_line,
            side=side,
            start_side=start_side,
            subject_type=subject_type,
            commit_id=commit_id,
            diff_hunk=diff_hunk,
            position=position,
            user=user,
            in_reply_to_id=None,
            created_at=now,
            updated_at=now,
        )
        self._review_comments[comment_id] = comment
        self._threads[thread_id] = _Thread(
            id=thread_id, repo=repo.full_name, number=pull.number, comment_ids=[comment_id]
        )
        return comment

    def _add_reaction(self, comment_id: int, content: str, user: str) -> tuple[_Reaction, bool]:
        for reaction in self._reactions.values():
            if (reaction.comment_id, reaction.content, reaction.user) == (
                comment_id,
                content,
                user,
            ):
                return reaction, False
        reaction = _Reaction(
            id=self._next_id("reaction"),
            comment_id=comment_id,
            content=content,
            user=user,
            created_at=time.time(),
        )
        self._reactions[reaction.id] = reaction
        return reaction, True

    @staticmethod
    def _reaction_json(reaction: _Reaction) -> dict[str, Any]:
        return {
            "id": reaction.id,
            "node_id": _node_id("REA", "Reaction", reaction.id),
            "user": _user(reaction.user),
            "content": reaction.content,
            "created_at": _iso(reaction.created_at),
        }

    def _list_reactions(self, ctx: _Ctx, repo: _Repo, m: re.Match[str]) -> _Reply:
        comment = self._review_comment_or_404(repo, m.group(1))
        content = ctx.query.get("content")
        with self._lock:
            items = [
                self._reaction_json(r)
                for r in sorted(self._reactions.values(), key=lambda r: r.id)
                if r.comment_id == comment.id and (content is None or r.content == content)
            ]
        return self._list(ctx, items)

    def _post_reaction(self, ctx: _Ctx, repo: _Repo, m: re.Match[str]) -> _Reply:
        comment = self._review_comment_or_404(repo, m.group(1))
        content = _require_str(ctx.json(), "content")
        if content not in REACTIONS:
            raise _validation("Reaction", "content", "invalid")
        with self._lock:
            reaction, created = self._add_reaction(comment.id, content, ctx.login)
            return _Reply(201 if created else 200, self._reaction_json(reaction))

    # ---- REST: reviews ------------------------------------------------------------------

    def _list_reviews(self, ctx: _Ctx, repo: _Repo, m: re.Match[str]) -> _Reply:
        pull = self._pull_or_404(repo, m.group(1))
        with self._lock:
            items = [
                self._review_json(r)
                for r in sorted(self._reviews.values(), key=lambda r: r.id)
                if r.repo == repo.full_name
                and r.number == pull.number
                and (r.state != "PENDING" or r.user == ctx.login)
            ]
        return self._list(ctx, items)

    def _get_review(self, ctx: _Ctx, repo: _Repo, m: re.Match[str]) -> _Reply:
        pull = self._pull_or_404(repo, m.group(1))
        with self._lock:
            review = self._reviews.get(int(m.group(2)))
            if review is None or review.repo != repo.full_name or review.number != pull.number:
                raise _not_found()
            return _Reply(200, self._review_json(review))

    def _post_review(self, ctx: _Ctx, repo: _Repo, m: re.Match[str]) -> _Reply:
        pull = self._pull_or_404(repo, m.group(1))
        data = ctx.json()
        event = _opt_str(data, "event")
        states = {
            "APPROVE": "APPROVED",
            "REQUEST_CHANGES": "CHANGES_REQUESTED",
            "COMMENT": "COMMENTED",
            None: "PENDING",
        }
        if event not in states:
            raise _unprocessable(f"Event {event!r} is not valid")
        body = _opt_str(data, "body") or ""
        _check_body_length("PullRequestReview", body)
        if pull.user == ctx.login and event == "APPROVE":
            raise _unprocessable("Can not approve your own pull request")
        if pull.user == ctx.login and event == "REQUEST_CHANGES":
            raise _unprocessable("Can not request changes on your own pull request")
        if event in ("REQUEST_CHANGES", "COMMENT") and not body.strip():
            raise _unprocessable("Body can't be blank")
        head_sha, base_sha = self._refresh_shas(repo, pull)
        commit_id = _opt_str(data, "commit_id")
        found = (
            (head_sha, base_sha)
            if commit_id is None
            else self._commit_of_pull(repo, pull, commit_id)
        )
        if found is None:
            raise _unprocessable("Commit could not be resolved")
        sha, base_sha = found
        raw_comments = data.get("comments") or []
        if not isinstance(raw_comments, list):
            raise _invalid(f'For "comments", {json.dumps(raw_comments)} is not an array.')
        files = self._pull_diff(repo, base_sha, sha)
        planned: list[dict[str, Any]] = []
        for index, item in enumerate(raw_comments):
            if not isinstance(item, dict):
                raise _invalid(f'For "comments/{index}", {json.dumps(item)} is not an object.')
            path = _require_str(item, "path")
            comment_body = _require_str(item, "body")
            _check_body_length("PullRequestReviewComment", comment_body)
            line = _opt_int(item, "line")
            if line is None:
                raise _unprocessable("Line could not be resolved")
            start_line = _opt_int(item, "start_line")
            side = _opt_str(item, "side") or "RIGHT"
            start_side = _opt_str(item, "start_side") or side
            if side not in ("LEFT", "RIGHT") or start_side not in ("LEFT", "RIGHT"):
                raise _invalid(f'For "comments/{index}/side", "{side}" is not a valid value.')
            error, hunk, position = self._anchor(files, path, line, side, start_line, start_side)
            if error is not None:
                raise _unprocessable(error.review_message)
            planned.append(
                {
                    "body": comment_body,
                    "path": path,
                    "line": line,
                    "start_line": start_line,
                    "side": side,
                    "start_side": start_side if start_line is not None else None,
                    "diff_hunk": hunk,
                    "position": position,
                }
            )
        now = time.time()
        with self._lock:
            if event is None and any(
                r.repo == repo.full_name
                and r.number == pull.number
                and r.user == ctx.login
                and r.state == "PENDING"
                for r in self._reviews.values()
            ):
                raise _unprocessable("User can only have one pending review per pull request")
            review = _Review(
                id=self._next_id("review"),
                repo=repo.full_name,
                number=pull.number,
                body=body,
                state=states[event],
                commit_id=sha,
                user=ctx.login,
                submitted_at=now,
            )
            self._reviews[review.id] = review
            for spec in planned:
                self._new_review_comment(
                    repo,
                    pull,
                    review.id,
                    subject_type="line",
                    commit_id=sha,
                    user=ctx.login,
                    now=now,
                    **spec,
                )
            return _Reply(200, self._review_json(review))

    # ---- GraphQL ------------------------------------------------------------------------

    def _graphql(self, ctx: _Ctx) -> _Reply:
        data = ctx.json()
        query = data.get("query")
        variables = data.get("variables") or {}
        if not isinstance(query, str) or not isinstance(variables, dict):
            return _Reply(200, {"errors": [{"message": "A query attribute must be specified"}]})
        match = _OPERATION.search(query)
        operation = f"{match.group(1)} {match.group(2)}" if match else ""
        ctx.operation = operation or None
        handlers: dict[str, Callable[[_Ctx, str, dict[str, Any]], dict[str, Any]]] = {
            "query ReviewThreads": self._gql_review_threads,
            "mutation ResolveThread": self._gql_resolve,
            "mutation UnresolveThread": self._gql_resolve,
            "query Blobs": self._gql_blobs,
        }
        handler = handlers.get(operation)
        if handler is None:
            name = operation or "anonymous operation"
            return _Reply(200, {"errors": [{"message": f"GitHubEmulator does not know {name!r}"}]})
        try:
            return _Reply(200, handler(ctx, query, variables))
        except _GraphQLError as exc:
            return _Reply(200, exc.payload)

    def _gql_repo(
        self, ctx: _Ctx, variables: dict[str, Any]
    ) -> tuple[_Repo | None, list[dict[str, Any]]]:
        for name in ("owner", "name"):
            if not isinstance(variables.get(name), str):
                raise _GraphQLError(
                    {
                        "errors": [
                            {
                                "message": f"Variable ${name} of type String! was provided "
                                "invalid value"
                            }
                        ]
                    }
                )
        full_name = f"{variables['owner']}/{variables['name']}"
        try:
            return self._visible_repo(ctx, full_name), []
        except _ApiError:
            return None, [
                {
                    "type": "NOT_FOUND",
                    "path": ["repository"],
                    "locations": [{"line": 2, "column": 3}],
                    "message": f"Could not resolve to a Repository with the name '{full_name}'.",
                }
            ]

    def _gql_review_threads(
        self, ctx: _Ctx, query: str, variables: dict[str, Any]
    ) -> dict[str, Any]:
        repo, errors = self._gql_repo(ctx, variables)
        if repo is None:
            return {"data": {"repository": None}, "errors": errors}
        number = variables.get("number")
        if isinstance(number, bool) or not isinstance(number, int):
            raise _GraphQLError(
                {
                    "errors": [
                        {"message": "Variable $number of type Int! was provided invalid value"}
                    ]
                }
            )
        with self._lock:
            pull = repo.pulls.get(number)
            if pull is None:
                return {
                    "data": {"repository": {"pullRequest": None}},
                    "errors": [
                        {
                            "type": "NOT_FOUND",
                            "path": ["repository", "pullRequest"],
                            "message": "Could not resolve to a PullRequest with the number of "
                            f"{number}.",
                        }
                    ],
                }
            threads = [
                t for t in self._threads.values() if t.repo == repo.full_name and t.number == number
            ]
        size_match = _FIRST_THREADS.search(query)
        size = min(int(size_match.group(1)), 100) if size_match else GRAPHQL_PAGE
        cursor = variables.get("cursor")
        start = 0
        if isinstance(cursor, str) and cursor:
            try:
                start = int(base64.b64decode(cursor).decode().split(":", 1)[1]) + 1
            except (ValueError, IndexError):
                return {
                    "errors": [{"message": f"`{cursor}` does not appear to be a valid cursor."}]
                }
        chunk = threads[start : start + size]
        end = start + len(chunk) - 1
        end_cursor = base64.b64encode(f"cursor:{end}".encode()).decode() if chunk else None
        nodes = [
            {
                "id": t.id,
                "isResolved": t.resolved,
                "comments": {"nodes": [{"databaseId": t.comment_ids[0]}] if t.comment_ids else []},
            }
            for t in chunk
        ]
        return {
            "data": {
                "repository": {
                    "pullRequest": {
                        "reviewThreads": {
                            "pageInfo": {
                                "hasNextPage": start + len(chunk) < len(threads),
                                "endCursor": end_cursor,
                            },
                            "nodes": nodes,
                        }
                    }
                }
            }
        }

    def _gql_resolve(self, ctx: _Ctx, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        resolve = "unresolveReviewThread" not in query
        field_name = "resolveReviewThread" if resolve else "unresolveReviewThread"
        thread_id = variables.get("threadId")
        with self._lock:
            thread = self._threads.get(thread_id) if isinstance(thread_id, str) else None
            if thread is not None:
                try:
                    self._visible_repo(ctx, thread.repo)
                except _ApiError:
                    thread = None
            if thread is None:
                return {
                    "data": {field_name: None},
                    "errors": [
                        {
                            "type": "NOT_FOUND",
                            "path": [field_name],
                            "message": f"Could not resolve to a node with the global id of "
                            f"'{thread_id}'",
                        }
                    ],
                }
            thread.resolved = resolve
            return {"data": {field_name: {"thread": {"id": thread.id, "isResolved": resolve}}}}

    def _gql_blobs(self, ctx: _Ctx, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        repo, errors = self._gql_repo(ctx, variables)
        if repo is None:
            return {"data": {"repository": None}, "errors": errors}
        fields: list[tuple[str, str]] = []
        for match in _BLOB_FIELD.finditer(query):
            try:
                expression = json.loads(match.group(2))
            except ValueError:
                raise _GraphQLError(
                    {"errors": [{"message": f"Parse error on {match.group(2)}"}]}
                ) from None
            fields.append((match.group(1), str(expression)))
        objects = _cat_objects(repo.path, [expression for _, expression in fields])
        result: dict[str, Any] = {}
        for (alias, _), found in zip(fields, objects, strict=True):
            if found is None:
                result[alias] = None
                continue
            kind, content = found
            if kind != "blob":
                result[alias] = {}  # the `... on Blob` fragment selects nothing on a tree
                continue
            binary = _is_binary(content)
            result[alias] = {
                "text": None if binary else content.decode(errors="replace"),
                "isBinary": binary,
                "byteSize": len(content),
            }
        return {"data": {"repository": result}}


class _GraphQLError(Exception):
    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(payload)
        self.payload = payload


def _query_int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _parse_ls_tree(out: bytes) -> list[tuple[str, str, str, str, int]]:
    """(mode, type, sha, path, size) of ``git ls-tree -z -l`` output."""
    entries = []
    for record in out.split(b"\0"):
        if not record:
            continue
        meta, _, path = record.partition(b"\t")
        mode, kind, sha, size = meta.decode().split()
        entries.append(
            (
                mode,
                kind,
                sha,
                path.decode(errors="surrogateescape"),
                int(size) if size.isdigit() else 0,
            )
        )
    return entries


def _cat_objects(repo: Path, expressions: list[str]) -> list[tuple[str, bytes] | None]:
    """(type, content) of each ``REV:PATH`` expression (None when it names nothing)."""
    results: list[tuple[str, bytes] | None] = [None] * len(expressions)
    asked = [(i, e) for i, e in enumerate(expressions) if e and "\n" not in e and "\r" not in e]
    if not asked:
        return results
    stdin = "".join(e + "\n" for _, e in asked).encode()
    out = _git(repo, "cat-file", "--batch", stdin=stdin)
    pos = 0
    for index, _ in asked:
        end = out.index(b"\n", pos)
        header = out[pos:end].decode(errors="replace")
        pos = end + 1
        parts = header.split(" ")
        if len(parts) != 3 or not parts[2].isdigit():
            continue  # "<name> missing" / "<name> ambiguous"
        size = int(parts[2])
        results[index] = (parts[1], out[pos : pos + size])
        pos += size + 1
    return results
