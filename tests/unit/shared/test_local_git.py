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
