"""Stages 1-4: what to review and whether to review at all. Pure functions, no I/O."""

import re

from shared.config import ReviewConfig, path_matches
from shared.models import ChangedFile, CommitInfo, FileStatus, Frozen, PullRequestInfo, SkippedFile


class CommitDecision(Frozen):
    proceed: bool
    reason: str
    from_sha: str
    incremental: bool
    new_commits: int = 0


def decide_commits(
    pr: PullRequestInfo,
    last_reviewed: str | None,
    last_reachable: bool,
    new_commits: list[CommitInfo],
    explicit: bool,
) -> CommitDecision:
    """Stage 1 (ValidateNewCommits).

    ``last_reviewed`` is the head of the last successful review; ``last_reachable`` says it
    still exists and is an ancestor of the head (false after a force-push or rebase);
    ``new_commits`` are the commits after it (or after the base when there is none).
    """
    full = CommitDecision(
        proceed=True,
        reason="full review",
        from_sha=pr.base_sha,
        incremental=False,
        new_commits=len(new_commits),
    )
    if last_reviewed is None:
        return full
    if not last_reachable:
        return full.model_copy(
            update={
                "reason": f"last reviewed commit {last_reviewed[:12]} is gone "
                "(force-push or rebase): full review",
            }
        )
    if last_reviewed == pr.head_sha or not new_commits:
        if explicit:
            return full.model_copy(update={"reason": "review requested explicitly: full review"})
        return CommitDecision(
            proceed=False,
            reason=f"nothing new since the last review of {last_reviewed[:12]}",
            from_sha=last_reviewed,
            incremental=True,
        )
    if all(c.is_merge for c in new_commits) and not explicit:
        return CommitDecision(
            proceed=False,
            reason=f"only merge commits since the last review ({len(new_commits)})",
            from_sha=last_reviewed,
            incremental=True,
            new_commits=len(new_commits),
        )
    return CommitDecision(
        proceed=True,
        reason=f"incremental review of {len(new_commits)} new commit(s)",
        from_sha=last_reviewed,
        incremental=True,
        new_commits=len(new_commits),
    )


def should_review(config: ReviewConfig, pr: PullRequestInfo, explicit: bool) -> tuple[bool, str]:
    """Stage 3 (ValidateConfig): (proceed, reason)."""
    if not config.enabled:
        return False, "reviews are disabled in the configuration (`enabled: false`)"
    if not any(path_matches(pr.base_branch, glob) for glob in config.base_branches):
        branches = ", ".join(config.base_branches)
        return False, f"target branch `{pr.base_branch}` is not in `baseBranches` ({branches})"
    title = pr.title.lower()
    for keyword in config.ignored_title_keywords:
        if re.search(rf"(?<!\w){re.escape(keyword.lower())}(?!\w)", title):
            return False, f"title contains ignored keyword `{keyword}`"
    if pr.draft and not config.run_on_draft and not explicit:
        return False, "pull request is a draft and `runOnDraft` is false"
    return True, "review allowed"


class FileSelection(Frozen):
    kept: tuple[ChangedFile, ...]
    skipped: tuple[SkippedFile, ...]
    refused: str | None = None


def select_files(files: list[ChangedFile], config: ReviewConfig) -> FileSelection:
    """Stage 4 (FetchChangedFiles), the deciding part: drop removed, ignored and binary files,
    and refuse a change with more reviewable files than ``maxFiles``."""
    kept: list[ChangedFile] = []
    skipped: list[SkippedFile] = []
    ignore = config.all_ignore_paths()
    for file in files:
        if file.status is FileStatus.REMOVED:
            skipped.append(SkippedFile(path=file.path, reason="file removed"))
        elif file.binary:
            skipped.append(SkippedFile(path=file.path, reason="binary file"))
        elif (glob := next((g for g in ignore if path_matches(file.path, g)), None)) is not None:
            skipped.append(SkippedFile(path=file.path, reason=f"matches ignorePaths `{glob}`"))
        elif config.for_path(file.path).ignore:
            skipped.append(SkippedFile(path=file.path, reason="ignored by a directory override"))
        elif not file.patch.strip():
            skipped.append(
                SkippedFile(path=file.path, reason="no textual change (rename or mode only)")
            )
        else:
            kept.append(file)
    refused = None
    if len(kept) > config.max_files:
        refused = (
            f"this change has {len(kept)} reviewable files, above the limit of {config.max_files} "
            "(`maxFiles`); split it or raise the limit"
        )
    return FileSelection(kept=tuple(kept), skipped=tuple(skipped), refused=refused)
