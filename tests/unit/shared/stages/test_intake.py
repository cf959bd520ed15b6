from shared.config import ReviewConfig
from shared.models import ChangedFile, CommitInfo, FileStatus, PullRequestInfo
from shared.stages.intake import decide_commits, select_files, should_review

PR = PullRequestInfo(
    title="Add parser", base_branch="main", head_branch="feat", base_sha="b" * 40, head_sha="h" * 40
)
C1 = CommitInfo(sha="1" * 40, parents=("b" * 40,))
MERGE = CommitInfo(sha="2" * 40, parents=("1" * 40, "9" * 40))


def test_first_review_is_full() -> None:
    d = decide_commits(PR, None, False, [C1], explicit=False)
    assert d.proceed and not d.incremental and d.from_sha == PR.base_sha


def test_incremental_after_last_review() -> None:
    d = decide_commits(PR, "a" * 40, True, [C1], explicit=False)
    assert d.proceed and d.incremental and d.from_sha == "a" * 40


def test_force_push_falls_back_to_full() -> None:
    d = decide_commits(PR, "a" * 40, False, [C1], explicit=False)
    assert d.proceed and not d.incremental and "force-push" in d.reason


def test_nothing_new_skips_with_reason() -> None:
    d = decide_commits(PR, PR.head_sha, True, [], explicit=False)
    assert not d.proceed and "nothing new" in d.reason


def test_only_merge_commits_skip_unless_explicit() -> None:
    assert not decide_commits(PR, "a" * 40, True, [MERGE], explicit=False).proceed
    assert decide_commits(PR, "a" * 40, True, [MERGE], explicit=True).proceed


def test_explicit_command_always_runs() -> None:
    d = decide_commits(PR, PR.head_sha, True, [], explicit=True)
    assert d.proceed and not d.incremental


def test_should_review_reasons() -> None:
    ok, _ = should_review(ReviewConfig(), PR, explicit=False)
    assert ok
    off = ReviewConfig.model_validate({"enabled": False})
    assert should_review(off, PR, False) == (
        False,
        "reviews are disabled in the configuration (`enabled: false`)",
    )
    branches = ReviewConfig.model_validate({"baseBranches": ["release/*"]})
    assert "not in `baseBranches`" in should_review(branches, PR, False)[1]
    wip = PR.model_copy(update={"title": "WIP: parser"})
    assert "ignored keyword `wip`" in should_review(ReviewConfig(), wip, False)[1]
    assert should_review(ReviewConfig(), PR.model_copy(update={"title": "Wipe cache"}), False)[0]
    draft = PR.model_copy(update={"draft": True})
    assert "draft" in should_review(ReviewConfig(), draft, False)[1]
    assert should_review(ReviewConfig.model_validate({"runOnDraft": True}), draft, False)[0]


def _file(
    path: str, status: FileStatus = FileStatus.MODIFIED, patch: str = "@@ -1 +1 @@\n-a\n+b\n"
) -> ChangedFile:
    return ChangedFile(path=path, status=status, patch=patch)


def test_select_files_drops_with_reasons_and_refuses_large() -> None:
    files = [
        _file("src/a.py"),
        _file("gone.py", FileStatus.REMOVED),
        _file("package-lock.json"),
        ChangedFile(path="img.bin", status=FileStatus.ADDED, binary=True),
        _file("mv.py", patch=""),
    ]
    selection = select_files(files, ReviewConfig())
    assert [f.path for f in selection.kept] == ["src/a.py"]
    reasons = {s.path: s.reason for s in selection.skipped}
    assert reasons["gone.py"] == "file removed" and "ignorePaths" in reasons["package-lock.json"]
    assert reasons["img.bin"] == "binary file" and "no textual change" in reasons["mv.py"]
    refused = select_files(
        [_file(f"f{i}.py") for i in range(3)], ReviewConfig.model_validate({"maxFiles": 2})
    )
    assert refused.refused is not None and "3 reviewable files" in refused.refused
