import os
import subprocess
from pathlib import Path

import pytest

from shared.git.base import InlineComment
from shared.git.local import LocalGitError, LocalGitHost
from shared.models import FileStatus, ReviewTarget, Verdict


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    r = tmp_path / "repo"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    git(r, "config", "user.email", "t@example.com")
    git(r, "config", "user.name", "T")
    (r / "a.py").write_text("x = 1\n")
    (r / "old.py").write_text("gone\n")
    git(r, "add", ".")
    git(r, "commit", "-qm", "base")
    git(r, "checkout", "-qb", "feature")
    (r / "a.py").write_text("x = 1\ny = 2\n")
    (r / "old.py").unlink()
    (r / "b.py").write_text("print('b')\n")
    git(r, "add", "-A")
    git(r, "commit", "-qm", "Add y and b")
    return r


def host(repo: Path, tmp_path: Path) -> LocalGitHost:
    return LocalGitHost(
        ReviewTarget(provider="local", repository=str(repo), base_ref="main", head_ref="feature"),
        tmp_path / "state",
    )


def test_pull_request_and_changes(repo: Path, tmp_path: Path) -> None:
    h = host(repo, tmp_path)
    pr = h.pull_request()
    assert pr.title == "Add y and b" and pr.base_sha == git(repo, "rev-parse", "main")
    files = {f.path: f for f in h.changed_files(pr.base_sha, pr.head_sha)}
    assert files["a.py"].status is FileStatus.MODIFIED and "+y = 2" in files["a.py"].patch
    assert files["old.py"].status is FileStatus.REMOVED and files["b.py"].status is FileStatus.ADDED
    assert h.file_content("a.py", pr.head_sha) == "x = 1\ny = 2\n"
    assert h.read_files(["a.py", "b.py", "nope.py"], pr.head_sha) == {
        "a.py": "x = 1\ny = 2\n",
        "b.py": "print('b')\n",
    }
    assert len(h.commits(pr.base_sha, pr.head_sha)) == 1
    assert h.is_ancestor(pr.base_sha, pr.head_sha) and not h.has_commit("f" * 40)


def test_option_like_ref_is_refused(repo: Path, tmp_path: Path) -> None:
    h = LocalGitHost(
        ReviewTarget(
            provider="local", repository=str(repo), base_ref="--output=/tmp/x", head_ref="feature"
        ),
        tmp_path / "state",
    )
    with pytest.raises(LocalGitError, match="invalid git ref"):
        h.pull_request()


def test_state_comments_verdict_and_report(repo: Path, tmp_path: Path) -> None:
    h = host(repo, tmp_path)
    cid = h.create_issue_comment("in progress")
    h.update_issue_comment(cid, "done")
    h.create_inline_comment(
        InlineComment(path="a.py", start_line=2, end_line=2, body="bug here"), "sha"
    )
    h.submit_verdict(Verdict.COMMENT, "fine", "sha")
    h.submit_verdict(Verdict.COMMENT, "fine", "sha")
    h.record_reviewed_commit("abc")
    assert [c.body for c in h.list_comments()] == ["done", "bug here"]
    assert h.last_reviewed_commit() == "abc"
    report = (h.state_dir / "report.md").read_text()
    assert "a.py:2" in report and report.count("Verdict: comment") == 1


# ---- awkward file names ---------------------------------------------------------------

AWKWARD = {
    "new\nline.py": "first = 1\n",
    "after.py": "second = 2\n",
    "tab\there.py": "third = 3\n",
    "with space.py": "fourth = 4\n",
    "-dash.py": "fifth = 5\n",
    '"quoted".py': "sixth = 6\n",
    "*.py": "seventh = 7\n",
    "dir/inner.py": "eighth = 8\n",
}


@pytest.fixture
def awkward(repo: Path) -> Path:
    git(repo, "checkout", "-q", "feature")
    for name, text in AWKWARD.items():
        (repo / name).parent.mkdir(exist_ok=True)
        (repo / name).write_text(text)
    (repo / "binary.bin").write_bytes(b"\0\1\2" * 10)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Awkward names")
    return repo


def test_read_files_keeps_every_name_with_its_own_content(awkward: Path, tmp_path: Path) -> None:
    h = host(awkward, tmp_path)
    head = git(awkward, "rev-parse", "feature")
    assert h.read_files(list(AWKWARD), head) == AWKWARD


def test_read_files_leaves_out_missing_binary_and_directory_paths(
    awkward: Path, tmp_path: Path
) -> None:
    h = host(awkward, tmp_path)
    head = git(awkward, "rev-parse", "feature")
    asked = ["no such file.py", "missing\nfile.py", "binary.bin", "dir", "after.py", ""]
    assert h.read_files(asked, head) == {"after.py": "second = 2\n"}


def test_read_files_leaves_out_oversized_files(repo: Path, tmp_path: Path) -> None:
    git(repo, "checkout", "-q", "feature")
    (repo / "big.py").write_text("x = 1\n" * 200_000)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Big")
    h = host(repo, tmp_path)
    head = git(repo, "rev-parse", "feature")
    assert h.read_files(["big.py", "a.py"], head) == {"a.py": "x = 1\ny = 2\n"}


def test_changed_files_of_awkward_names_are_diffed_by_their_own_path(
    awkward: Path, tmp_path: Path
) -> None:
    h = host(awkward, tmp_path)
    base, head = git(awkward, "rev-parse", "main"), git(awkward, "rev-parse", "feature")
    files = {f.path: f for f in h.changed_files(base, head)}
    for name, text in AWKWARD.items():
        assert files[name].status is FileStatus.ADDED
        assert files[name].patch.endswith(f"+{text}"), (name, files[name].patch)
        assert files[name].additions == 1


NON_UTF8 = os.fsdecode(b"caf\xe9.py")


@pytest.fixture
def latin1_named(repo: Path) -> Path:
    git(repo, "checkout", "-q", "feature")
    (repo / NON_UTF8).write_text("menu = 1\n")
    (repo / "fine.py").write_text("ok = 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "A file name that is not UTF-8")
    return repo


def test_non_utf8_file_names_are_skipped_with_a_reason_not_a_crash(
    latin1_named: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    h = host(latin1_named, tmp_path)
    base = git(latin1_named, "rev-parse", "main")
    head = git(latin1_named, "rev-parse", "feature")
    with caplog.at_level("WARNING", logger="reviewflow.git.local"):
        changed = {f.path for f in h.changed_files(base, head)}
        listed = h.list_files(head)
    assert changed == {"a.py", "old.py", "b.py", "fine.py"}
    assert set(listed) == {"a.py", "b.py", "fine.py"}
    assert any("not UTF-8" in r.getMessage() and "caf" in r.getMessage() for r in caplog.records)
    # a name that is not UTF-8 can still be asked for: surrogate-escaped, as os.fsdecode gives
    expected = {NON_UTF8: "menu = 1\n", "fine.py": "ok = 1\n"}
    assert h.read_files([NON_UTF8, "fine.py"], head) == expected
