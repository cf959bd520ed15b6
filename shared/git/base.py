"""The interface every git host implements (a local repository, GitHub)."""

import re
from collections.abc import Callable
from typing import Literal, Protocol

from shared.models import (
    ChangedFile,
    CommitInfo,
    FeedbackRecord,
    Frozen,
    PullRequestInfo,
    ReviewTarget,
    Verdict,
)

FINGERPRINT_MARKER = "reviewflow:fp="
# the one "review in progress" comment of a target; on GitHub it also carries the review state
PROGRESS_FINGERPRINT = "progress"
_FP = re.compile(r"<!--\s*reviewflow:fp=([A-Za-z0-9_.:-]+)\s*-->")


def with_fingerprint(body: str, fingerprint: str) -> str:
    """Append the hidden marker that makes a posted comment recognisable on a re-run."""
    return f"{body}\n\n<!-- {FINGERPRINT_MARKER}{fingerprint} -->"


def fingerprint_of(body: str) -> str | None:
    match = _FP.search(body)
    return match.group(1) if match else None


class PostedComment(Frozen):
    id: str
    kind: Literal["issue", "inline"]
    body: str
    path: str | None = None
    line: int | None = None
    resolved: bool = False

    @property
    def fingerprint(self) -> str | None:
        return fingerprint_of(self.body)


class InlineComment(Frozen):
    path: str
    start_line: int
    end_line: int
    body: str


class InlineResult(Frozen):
    """What became of one inline comment: posted, or refused by the host (with its reason)."""

    comment: InlineComment
    posted: bool
    error: str | None = None


class GitHostError(RuntimeError):
    """A host call failed in a way a retry may fix (network, rate limit, server error)."""


class AnchorRejectedError(GitHostError):
    """The host refused an inline comment because its line is not part of the diff."""


def post_each(
    create: Callable[[InlineComment, str], str], comments: list[InlineComment], head_sha: str
) -> list[InlineResult]:
    """Post comments one by one; a refused anchor is reported and the others still go."""
    results = []
    for comment in comments:
        try:
            create(comment, head_sha)
        except AnchorRejectedError as exc:
            results.append(InlineResult(comment=comment, posted=False, error=str(exc)))
        else:
            results.append(InlineResult(comment=comment, posted=True))
    return results


class GitHost(Protocol):
    target: ReviewTarget

    # reading the change
    def pull_request(self) -> PullRequestInfo: ...
    def commits(self, base_sha: str, head_sha: str) -> list[CommitInfo]: ...
    def has_commit(self, sha: str) -> bool: ...
    def is_ancestor(self, ancestor: str, descendant: str) -> bool: ...
    def changed_files(self, base_sha: str, head_sha: str) -> list[ChangedFile]: ...
    def file_content(self, path: str, ref: str) -> str | None: ...
    def list_files(self, ref: str) -> list[str]: ...
    def read_files(self, paths: list[str], ref: str) -> dict[str, str]:
        """Text of many files at one ref in as few calls as the host allows (binary, missing
        and oversized files left out)."""
        ...

    # review state and output
    def last_reviewed_commit(self) -> str | None: ...
    def record_reviewed_commit(self, sha: str) -> None: ...
    def list_comments(self) -> list[PostedComment]: ...
    def create_issue_comment(self, body: str) -> str: ...
    def update_issue_comment(self, comment_id: str, body: str) -> None: ...
    def create_inline_comment(self, comment: InlineComment, head_sha: str) -> str: ...
    def post_inline_comments(
        self, comments: list[InlineComment], head_sha: str
    ) -> list[InlineResult]:
        """All comments in one go where the host allows; one refused anchor never sinks the
        others."""
        ...

    def resolve_comment(self, comment_id: str) -> None: ...
    def submit_verdict(self, verdict: Verdict, body: str, head_sha: str) -> None: ...
    def update_description(self, body: str) -> None: ...
    def feedback(self) -> list[FeedbackRecord]: ...
