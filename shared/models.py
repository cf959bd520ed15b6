"""Domain model shared by stages, workers and git hosts.

Everything here is plain data (pydantic); no I/O. Process variables carry only small
objects from this module; large ones (file contents, AST reports, raw model output)
go through :mod:`shared.artifacts` and travel as artifact ids.
"""

import hashlib
import re
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

# GitHub's rules: an owner is 1-39 letters, digits or hyphens, not starting or ending with a
# hyphen; a repository name is 1-100 of [A-Za-z0-9._-] and not `.` or `..`
_GITHUB_REPO = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?/(?!\.\.?\Z)[A-Za-z0-9._-]{1,100}"
)
# GitHub's PR numbers are int32; other ids (installations) int64
MAX_PR_NUMBER = 2**31 - 1
MAX_GITHUB_ID = 2**63 - 1


def is_github_repository(full_name: str) -> bool:
    """``owner/name`` by GitHub's naming rules."""
    return _GITHUB_REPO.fullmatch(full_name) is not None


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """Higher is more severe."""
        return {"critical": 4, "high": 3, "medium": 2, "low": 1}[self.value]


class Category(StrEnum):
    BUG = "bug"
    SECURITY = "security"
    PERFORMANCE = "performance"
    MAINTAINABILITY = "maintainability"
    STYLE = "style"
    DOCS = "docs"
    BREAKING_CHANGE = "breaking_change"


class FileStatus(StrEnum):
    ADDED = "added"
    MODIFIED = "modified"
    REMOVED = "removed"
    RENAMED = "renamed"


class ReviewTarget(Frozen):
    """What is reviewed: a pull request on GitHub, or two refs of a local repository.

    ``local``: ``repository`` is the absolute path of the repository, ``base_ref`` and
    ``head_ref`` the refs given on the command line. ``github``: ``repository`` is
    ``owner/name`` and ``pr_number`` the pull request; ``installation_id`` is the GitHub App
    installation the webhook named (not a secret; the App's key stays in the environment).
    """

    provider: Literal["local", "github"]
    repository: str
    base_ref: str | None = None
    head_ref: str | None = None
    # strict: a float, bool or numeric string is refused, never coerced
    pr_number: StrictInt | None = Field(default=None, ge=1, le=MAX_PR_NUMBER)
    installation_id: StrictInt | None = Field(default=None, ge=1, le=MAX_GITHUB_ID)

    @model_validator(mode="after")
    def _check_provider_fields(self) -> "ReviewTarget":
        if self.provider == "github":
            if not is_github_repository(self.repository):
                raise ValueError(f"a GitHub repository is `owner/name`, got {self.repository!r}")
            if self.pr_number is None:
                raise ValueError("a GitHub target needs `pr_number`")
        elif self.pr_number is not None or self.installation_id is not None:
            raise ValueError("`pr_number` and `installation_id` belong to GitHub targets")
        return self

    @property
    def key(self) -> str:
        """Stable identity of the review target (used for state, locks and idempotency)."""
        if self.provider == "github":
            return f"github:{self.repository.lower()}#{self.pr_number}"
        digest = hashlib.sha256(
            f"{self.repository}\0{self.base_ref}\0{self.head_ref}".encode()
        ).hexdigest()[:16]
        return f"local:{digest}"

    @property
    def label(self) -> str:
        """How the target is named to people."""
        if self.provider == "github":
            return f"{self.repository}#{self.pr_number}"
        return f"{self.repository} ({self.base_ref}..{self.head_ref})"


class PullRequestInfo(Frozen):
    title: str
    body: str = ""
    base_branch: str
    head_branch: str
    base_sha: str
    head_sha: str
    draft: bool = False
    author: str = ""
    state: Literal["open", "closed", "merged"] = "open"


class CommitInfo(Frozen):
    sha: str
    parents: tuple[str, ...]
    message: str = ""

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1


class ChangedFile(Frozen):
    """One file of the change, with its unified-diff patch (new-side line numbers)."""

    path: str
    status: FileStatus
    patch: str = ""
    previous_path: str | None = None
    additions: int = 0
    deletions: int = 0
    # full content on the head side; None for removed or binary files
    content: str | None = None
    binary: bool = False


class LineRange(Frozen):
    start: int = Field(ge=1)
    end: int = Field(ge=1)

    def contains(self, line: int) -> bool:
        return self.start <= line <= self.end


class Suggestion(Frozen):
    """One review finding anchored on the new side of the diff."""

    path: str
    start_line: int = Field(ge=1)
    end_line: int = Field(ge=1)
    category: Category
    severity: Severity
    message: str = Field(min_length=1)
    replacement: str | None = None
    rule: str = ""
    source: Literal["offline", "llm", "ast", "analyzer"] = "offline"
    # the rule's documentation (analyzer findings)
    doc_url: str | None = None
    # a stable key of the flagged code (analyzer findings: rule and the flagged line's text);
    # when set, the fingerprint uses it instead of the message, so a merged finding whose
    # message an LLM rewrote from run to run is still the same finding
    identity: str = ""

    @property
    def fingerprint(self) -> str:
        """Stable id of a finding: same file, rule/category and message (or ``identity``) →
        same id.

        Line numbers are left out on purpose: a finding that moves because lines were
        added above it is still the same finding and must not be posted again.
        """
        what = self.identity or self.message.strip().lower()
        raw = f"{self.path}\0{self.category}\0{self.rule}\0{what}"
        return hashlib.sha256(raw.encode()).hexdigest()[:20]


class PrFinding(Frozen):
    """A PR-level (not line-anchored) finding."""

    category: Category
    severity: Severity
    title: str = Field(min_length=1)
    message: str = Field(min_length=1)
    paths: tuple[str, ...] = ()
    rule: str = ""
    source: Literal["offline", "llm", "ast"] = "offline"

    @property
    def fingerprint(self) -> str:
        raw = f"pr\0{self.category}\0{self.rule}\0{self.title.strip().lower()}"
        return hashlib.sha256(raw.encode()).hexdigest()[:20]


class DiscardedSuggestion(Frozen):
    suggestion: Suggestion
    reason: str


class SkippedFile(Frozen):
    path: str
    reason: str


class FeedbackRecord(Frozen):
    """A past suggestion on this repository and what the team did with it."""

    category: Category
    rule: str = ""
    outcome: Literal["accepted", "rejected"]


class BranchOutcome(Frozen):
    """What a heavy branch reports in its completion message (a failure travels here too)."""

    status: Literal["ok", "failed", "timeout"]
    artifact: str | None = None
    error: str | None = None
    items: int = 0
    seconds: float = 0.0
    tokens: int = 0


class Verdict(StrEnum):
    APPROVE = "approve"
    REQUEST_CHANGES = "request_changes"
    COMMENT = "comment"
