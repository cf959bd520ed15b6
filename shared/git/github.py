"""A GitHub pull request as the review target, over GitHub's REST and GraphQL APIs.

Reading: the PR, its commits and files (paginated), comparisons between commits, file contents
(many files in one GraphQL call), the tree. Writing: one review carrying every inline comment
(GitHub refuses the whole review when one anchor is off the diff, so then each comment is
posted alone and only the refused ones are dropped), issue comments created and updated, the
verdict as a review, the PR description, resolved threads.

Idempotency: every comment we post carries a hidden fingerprint (``shared.git.base``), and only
comments by our own login count, so a pasted marker cannot silence a finding. The last reviewed
commit lives in a hidden state marker inside our "review in progress" comment: the state stays
with the PR, any worker can read it, and nothing is kept on a worker's disk.
"""

import json
import logging
import re
from typing import Any
from urllib.parse import quote

from shared.git.base import (
    PROGRESS_FINGERPRINT,
    AnchorRejectedError,
    InlineComment,
    InlineResult,
    PostedComment,
    fingerprint_of,
    post_each,
    with_fingerprint,
)
from shared.git.github_api import (
    GitHubApi,
    GitHubError,
    NotFoundError,
    ValidationFailedError,
    decode_content,
)
from shared.models import (
    Category,
    ChangedFile,
    CommitInfo,
    FeedbackRecord,
    FileStatus,
    PullRequestInfo,
    ReviewTarget,
    Verdict,
)

logger = logging.getLogger("reviewflow.github")

MAX_FILE_BYTES = 1_000_000
# the compare API lists at most 300 files
COMPARE_MAX_FILES = 300
# files per GraphQL blob query
BLOB_BATCH = 50
# review comments read for feedback (newest first)
FEEDBACK_PAGES = 3

_SHA = re.compile(r"^[0-9a-f]{7,64}$")
_STATE = re.compile(r"<!--\s*reviewflow:state=(\{[^<>]*\})\s*-->")
# the header of our inline comments: **SEVERITY** · category words
_CATEGORY = re.compile(r"^\*\*[A-Z]+\*\* · ([a-z ]+)", re.MULTILINE)
_STATUS = {
    "added": FileStatus.ADDED,
    "removed": FileStatus.REMOVED,
    "renamed": FileStatus.RENAMED,
    "copied": FileStatus.ADDED,
}
_EVENTS = {
    Verdict.APPROVE: "APPROVE",
    Verdict.REQUEST_CHANGES: "REQUEST_CHANGES",
    Verdict.COMMENT: "COMMENT",
}

REVIEW_THREADS_QUERY = """
query ReviewThreads($owner: String!, $name: String!, $number: Int!, $cursor: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviewThreads(first: 100, after: $cursor) {
        pageInfo { hasNextPage endCursor }
        nodes { id isResolved comments(first: 1) { nodes { databaseId } } }
      }
    }
  }
}
"""

RESOLVE_THREAD_MUTATION = """
mutation ResolveThread($threadId: ID!) {
  resolveReviewThread(input: {threadId: $threadId}) { thread { id isResolved } }
}
"""


def state_marker(state: dict[str, Any]) -> str:
    return f"<!-- reviewflow:state={json.dumps(state, sort_keys=True)} -->"


def read_state(body: str) -> dict[str, Any]:
    match = _STATE.search(body)
    if not match:
        return {}
    try:
        value = json.loads(match.group(1))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def with_state(body: str, state: dict[str, Any]) -> str:
    """``body`` with its state marker replaced by (or extended with) ``state``."""
    stripped = _STATE.sub("", body).rstrip()
    return f"{stripped}\n{state_marker(state)}"


def blobs_query(expressions: list[str]) -> str:
    """One GraphQL query reading many ``rev:path`` blobs (aliases f0, f1, ...)."""
    fields = "\n".join(
        f"    f{i}: object(expression: {json.dumps(expr)}) "
        "{ ... on Blob { text isBinary byteSize } }"
        for i, expr in enumerate(expressions)
    )
    return (
        "query Blobs($owner: String!, $name: String!) {\n"
        "  repository(owner: $owner, name: $name) {\n"
        f"{fields}\n"
        "  }\n"
        "}\n"
    )


def changed_file(item: dict[str, Any]) -> ChangedFile:
    """A ``files`` entry of the pulls or compare API."""
    status = _STATUS.get(str(item.get("status")), FileStatus.MODIFIED)
    patch = item.get("patch")
    additions = int(item.get("additions", 0))
    deletions = int(item.get("deletions", 0))
    # GitHub leaves the patch out for binary files (no line counts) and for huge diffs
    binary = patch is None and additions == 0 and deletions == 0 and status != FileStatus.REMOVED
    return ChangedFile(
        path=str(item["filename"]),
        status=status,
        patch=str(patch or ""),
        previous_path=item.get("previous_filename"),
        additions=additions,
        deletions=deletions,
        binary=binary,
    )


def category_of(body: str) -> Category | None:
    match = _CATEGORY.search(body)
    if not match:
        return None
    try:
        return Category(match.group(1).strip().replace(" ", "_"))
    except ValueError:
        return None


def feedback_of(comment: dict[str, Any]) -> FeedbackRecord | None:
    """What the team did with one of our comments, read off its 👍/👎 reactions."""
    reactions = comment.get("reactions") or {}
    up, down = int(reactions.get("+1", 0)), int(reactions.get("-1", 0))
    if up == down:
        return None
    category = category_of(str(comment.get("body", "")))
    if category is None:
        return None
    return FeedbackRecord(category=category, outcome="accepted" if up > down else "rejected")


class GitHubHost:
    """Implements :class:`shared.git.base.GitHost` for one pull request."""

    def __init__(self, target: ReviewTarget, api: GitHubApi) -> None:
        if target.provider != "github" or target.pr_number is None:
            raise ValueError("GitHubHost needs a GitHub target with a PR number")
        self.target = target
        self.api = api
        self.repo = target.repository
        self.number = target.pr_number
        self.owner, self.name = self.repo.split("/", 1)
        self._threads: dict[str, tuple[str, bool]] = {}

    @property
    def _base(self) -> str:
        return f"/repos/{self.repo}"

    # ---- reading the change -------------------------------------------------------------
    def _pull(self) -> dict[str, Any]:
        data: dict[str, Any] = self.api.get_json(f"{self._base}/pulls/{self.number}")
        return data

    def _compare(self, base: str, head: str, commits: int = 100) -> dict[str, Any]:
        """A comparison with its first ``commits`` commits (its files come on the first page
        whatever the page size)."""
        data: dict[str, Any] = self.api.get_json(
            f"{self._base}/compare/{quote(base, safe='')}...{quote(head, safe='')}",
            params={"per_page": commits, "page": 1},
        )
        return data

    def _merge_base(self, pull: dict[str, Any]) -> str:
        compare = self._compare(str(pull["base"]["sha"]), str(pull["head"]["sha"]), commits=1)
        return str(compare["merge_base_commit"]["sha"])

    def pull_request(self) -> PullRequestInfo:
        data = self._pull()
        if data.get("merged"):
            state = "merged"
        else:
            state = "closed" if data.get("state") == "closed" else "open"
        return PullRequestInfo(
            title=str(data.get("title") or ""),
            body=str(data.get("body") or ""),
            base_branch=str(data["base"]["ref"]),
            head_branch=str(data["head"]["ref"]),
            base_sha=self._merge_base(data),
            head_sha=str(data["head"]["sha"]),
            draft=bool(data.get("draft", False)),
            author=str((data.get("user") or {}).get("login", "")),
            state=state,
        )

    def commits(self, base_sha: str, head_sha: str) -> list[CommitInfo]:
        items = self.api.paginate(
            f"{self._base}/compare/{quote(base_sha, safe='')}...{quote(head_sha, safe='')}",
            key="commits",
        )
        return [
            CommitInfo(
                sha=str(c["sha"]),
                parents=tuple(str(p["sha"]) for p in c.get("parents", [])),
                message=str((c.get("commit") or {}).get("message", "")),
            )
            for c in items
        ]

    def has_commit(self, sha: str) -> bool:
        if not _SHA.match(sha):
            return False
        try:
            self.api.get_json(f"{self._base}/commits/{sha}")
        except (NotFoundError, ValidationFailedError):
            return False
        return True

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        try:
            status = self._compare(ancestor, descendant)["status"]
        except (NotFoundError, ValidationFailedError):
            return False
        return status in ("ahead", "identical")

    def changed_files(self, base_sha: str, head_sha: str) -> list[ChangedFile]:
        """The PR's own file list (paginated, up to 3000) when asked for its whole range;
        otherwise the comparison's (GitHub lists at most 300 files there)."""
        pull = self._pull()
        if head_sha == pull["head"]["sha"] and base_sha == self._merge_base(pull):
            return [
                changed_file(f)
                for f in self.api.paginate(f"{self._base}/pulls/{self.number}/files")
            ]
        files = self._compare(base_sha, head_sha).get("files") or []
        if len(files) >= COMPARE_MAX_FILES:
            logger.warning(
                "%s: the comparison %s...%s lists only the first %d files",
                self.target.label,
                base_sha[:7],
                head_sha[:7],
                COMPARE_MAX_FILES,
            )
        return [changed_file(f) for f in files]

    def file_content(self, path: str, ref: str) -> str | None:
        try:
            data = self.api.get_json(
                f"{self._base}/contents/{quote(path, safe='/')}", params={"ref": ref}
            )
        except NotFoundError:
            return None
        if not isinstance(data, dict):
            return None  # a directory
        raw = decode_content(data)
        if raw is None or len(raw) > MAX_FILE_BYTES or b"\0" in raw[:8000]:
            return None
        return raw.decode(errors="replace")

    def read_files(self, paths: list[str], ref: str) -> dict[str, str]:
        result: dict[str, str] = {}
        for start in range(0, len(paths), BLOB_BATCH):
            batch = paths[start : start + BLOB_BATCH]
            data = self.api.graphql(
                blobs_query([f"{ref}:{p}" for p in batch]),
                {"owner": self.owner, "name": self.name},
            )
            repository = data.get("repository") or {}
            for i, path in enumerate(batch):
                blob = repository.get(f"f{i}")
                if not blob or blob.get("isBinary") or blob.get("text") is None:
                    continue
                if int(blob.get("byteSize", 0)) > MAX_FILE_BYTES:
                    continue
                result[path] = str(blob["text"])
        return result

    def list_files(self, ref: str) -> list[str]:
        data = self.api.get_json(
            f"{self._base}/git/trees/{quote(ref, safe='')}", params={"recursive": 1}
        )
        if data.get("truncated"):
            logger.warning("%s: the tree at %s is truncated by GitHub", self.target.label, ref)
        return [str(e["path"]) for e in data.get("tree", []) if e.get("type") == "blob"]

    # ---- review state -------------------------------------------------------------------
    def _own(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        login = self.api.login()
        return [c for c in items if (c.get("user") or {}).get("login") == login]

    def _issue_comments(self) -> list[dict[str, Any]]:
        return self._own(list(self.api.paginate(f"{self._base}/issues/{self.number}/comments")))

    def _progress_comment(self) -> dict[str, Any] | None:
        for comment in self._issue_comments():
            if fingerprint_of(str(comment.get("body", ""))) == PROGRESS_FINGERPRINT:
                return comment
        return None

    def last_reviewed_commit(self) -> str | None:
        comment = self._progress_comment()
        if comment is None:
            return None
        value = read_state(str(comment.get("body", ""))).get("lastReviewed")
        return str(value) if isinstance(value, str) and _SHA.match(value) else None

    def record_reviewed_commit(self, sha: str) -> None:
        comment = self._progress_comment()
        if comment is None:
            body = with_fingerprint(
                f"reviewflow reviewed this pull request up to `{sha[:12]}`.", PROGRESS_FINGERPRINT
            )
            self.create_issue_comment(with_state(body, {"lastReviewed": sha}))
            return
        body = str(comment.get("body", ""))
        state = {**read_state(body), "lastReviewed": sha}
        self.api.request(
            "PATCH",
            f"{self._base}/issues/comments/{comment['id']}",
            json={"body": with_state(body, state)},
        )

    # ---- comments -----------------------------------------------------------------------
    def _review_threads(self) -> dict[str, tuple[str, bool]]:
        """First comment id of each review thread → (thread id, resolved)."""
        threads: dict[str, tuple[str, bool]] = {}
        cursor: str | None = None
        while True:
            data = self.api.graphql(
                REVIEW_THREADS_QUERY,
                {"owner": self.owner, "name": self.name, "number": self.number, "cursor": cursor},
            )
            page = data["repository"]["pullRequest"]["reviewThreads"]
            for node in page["nodes"]:
                for first in node["comments"]["nodes"][:1]:
                    threads[str(first["databaseId"])] = (str(node["id"]), bool(node["isResolved"]))
            if not page["pageInfo"]["hasNextPage"]:
                break
            cursor = page["pageInfo"]["endCursor"]
        self._threads = threads
        return threads

    def list_comments(self) -> list[PostedComment]:
        comments = [
            PostedComment(id=str(c["id"]), kind="issue", body=str(c.get("body", "")))
            for c in self._issue_comments()
        ]
        inline = [
            c
            for c in self._own(
                list(self.api.paginate(f"{self._base}/pulls/{self.number}/comments"))
            )
            if c.get("in_reply_to_id") is None
        ]
        threads = self._review_threads() if inline else {}
        for c in inline:
            comments.append(
                PostedComment(
                    id=str(c["id"]),
                    kind="inline",
                    body=str(c.get("body", "")),
                    path=c.get("path"),
                    line=c.get("line") or c.get("original_line"),
                    resolved=threads.get(str(c["id"]), ("", False))[1],
                )
            )
        return comments

    def create_issue_comment(self, body: str) -> str:
        response = self.api.request(
            "POST", f"{self._base}/issues/{self.number}/comments", json={"body": body}
        )
        return str(response.json()["id"])

    def update_issue_comment(self, comment_id: str, body: str) -> None:
        """Replace the text; a state marker the comment carries is kept."""
        path = f"{self._base}/issues/comments/{comment_id}"
        state = read_state(str(self.api.get_json(path).get("body", "")))
        if state and not read_state(body):
            body = with_state(body, state)
        self.api.request("PATCH", path, json={"body": body})

    @staticmethod
    def _anchor(comment: InlineComment) -> dict[str, Any]:
        anchor: dict[str, Any] = {
            "path": comment.path,
            "line": comment.end_line,
            "side": "RIGHT",
            "body": comment.body,
        }
        if comment.start_line < comment.end_line:
            anchor["start_line"] = comment.start_line
            anchor["start_side"] = "RIGHT"
        return anchor

    def create_inline_comment(self, comment: InlineComment, head_sha: str) -> str:
        try:
            response = self.api.request(
                "POST",
                f"{self._base}/pulls/{self.number}/comments",
                json={"commit_id": head_sha, **self._anchor(comment)},
            )
        except ValidationFailedError as exc:
            raise AnchorRejectedError(str(exc)) from None
        return str(response.json()["id"])

    def post_inline_comments(
        self, comments: list[InlineComment], head_sha: str
    ) -> list[InlineResult]:
        """One review with every comment (one call, one notification); when GitHub refuses it
        (a single bad anchor refuses the lot), each comment alone."""
        if not comments:
            return []
        body = f"reviewflow: {len(comments)} comment(s) on `{head_sha[:7]}`."
        try:
            self.api.request(
                "POST",
                f"{self._base}/pulls/{self.number}/reviews",
                json={
                    "commit_id": head_sha,
                    "event": "COMMENT",
                    "body": body,
                    "comments": [self._anchor(c) for c in comments],
                },
            )
        except ValidationFailedError as exc:
            logger.warning(
                "%s: GitHub refused the review with %d comments (%s); posting them one by one",
                self.target.label,
                len(comments),
                exc,
            )
        else:
            return [InlineResult(comment=c, posted=True) for c in comments]
        return post_each(self.create_inline_comment, comments, head_sha)

    def resolve_comment(self, comment_id: str) -> None:
        thread = self._threads.get(comment_id) or self._review_threads().get(comment_id)
        if thread is None:
            raise GitHubError(f"no review thread starts with comment {comment_id}")
        thread_id, resolved = thread
        if resolved:
            return
        self.api.graphql(RESOLVE_THREAD_MUTATION, {"threadId": thread_id})
        self._threads[comment_id] = (thread_id, True)

    def submit_verdict(self, verdict: Verdict, body: str, head_sha: str) -> None:
        """One review per run: a retried job finds its own review by fingerprint. GitHub
        refuses approving or requesting changes on one's own PR: then a comment review."""
        fingerprint = fingerprint_of(body)
        if fingerprint is not None:
            reviews = self._own(
                list(self.api.paginate(f"{self._base}/pulls/{self.number}/reviews"))
            )
            if any(fingerprint_of(str(r.get("body") or "")) == fingerprint for r in reviews):
                return
        path = f"{self._base}/pulls/{self.number}/reviews"
        payload = {"commit_id": head_sha, "body": body, "event": _EVENTS[verdict]}
        try:
            self.api.request("POST", path, json=payload)
        except ValidationFailedError as exc:
            if verdict == Verdict.COMMENT:
                raise
            logger.warning(
                "%s: GitHub refused %s (%s); leaving a comment review instead",
                self.target.label,
                _EVENTS[verdict],
                exc,
            )
            note = f"_(reviewflow would {verdict.value.replace('_', ' ')}; GitHub refused it.)_"
            self.api.request(
                "POST", path, json={**payload, "event": "COMMENT", "body": f"{note}\n\n{body}"}
            )

    def update_description(self, body: str) -> None:
        self.api.request("PATCH", f"{self._base}/pulls/{self.number}", json={"body": body})

    def feedback(self) -> list[FeedbackRecord]:
        """Reactions to our recent inline comments across the repository, one call a page."""
        comments = self.api.paginate(
            f"{self._base}/pulls/comments",
            params={"sort": "created", "direction": "desc"},
            max_pages=FEEDBACK_PAGES,
        )
        records = []
        for comment in self._own(list(comments)):
            if fingerprint_of(str(comment.get("body", ""))) is None:
                continue
            record = feedback_of(comment)
            if record is not None:
                records.append(record)
        return records
