"""GitHubHost against the GitHub emulator (real git repositories behind GitHub's rules)."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reviewflow.sample import git, make_sample_repo, write
from shared.git.base import (
    PROGRESS_FINGERPRINT,
    InlineComment,
    fingerprint_of,
    with_fingerprint,
)
from shared.git.github import GitHubHost, category_of, read_state
from shared.git.github_api import GitHubApi, GitHubSettings, RateLimitedError
from shared.models import Category, FileStatus, ReviewTarget, Verdict
from tests.support.github_emulator import GitHubEmulator
from tests.support.keys import rsa_pair

REPO = "acme/inventory"
TOKEN = "ghp_host_test"
BOT = "reviewflow-bot"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_sample_repo(tmp_path / "inventory")


@pytest.fixture
def gh(repo: Path) -> Iterator[GitHubEmulator]:
    with GitHubEmulator() as emulator:
        emulator.add_repository(REPO, repo)
        emulator.add_token(TOKEN, login=BOT)
        emulator.add_token("ghp_mallory", login="mallory")
        emulator.open_pull_request(
            REPO, base="main", head="feature", title="Orders", body="Adds orders."
        )
        yield emulator


def host_for(gh: GitHubEmulator, **settings: Any) -> GitHubHost:
    values: dict[str, Any] = {"api_url": gh.base_url, "token": TOKEN, **settings}
    target = ReviewTarget(provider="github", repository=REPO, pr_number=1)
    api = GitHubApi(GitHubSettings.model_validate(values), REPO, sleep=lambda s: None)
    return GitHubHost(target, api)


@pytest.fixture
def host(gh: GitHubEmulator) -> GitHubHost:
    return host_for(gh)


def test_pull_request_reads_titles_shas_and_the_merge_base(host: GitHubHost, repo: Path) -> None:
    pr = host.pull_request()
    assert (pr.title, pr.body, pr.base_branch, pr.head_branch) == (
        "Orders",
        "Adds orders.",
        "main",
        "feature",
    )
    assert pr.head_sha == git(repo, "rev-parse", "feature")
    assert pr.base_sha == git(repo, "merge-base", "main", "feature")
    assert pr.author == "alice" and pr.state == "open" and not pr.draft


def test_commits_files_and_contents(host: GitHubHost, repo: Path) -> None:
    pr = host.pull_request()
    commits = host.commits(pr.base_sha, pr.head_sha)
    assert [c.sha for c in commits] == [pr.head_sha]
    files = {f.path: f for f in host.changed_files(pr.base_sha, pr.head_sha)}
    assert files["inventory/orders.py"].status == FileStatus.ADDED
    assert files["inventory/stock.py"].status == FileStatus.MODIFIED
    assert "+    if amount < 0:" in files["inventory/stock.py"].patch
    text = host.file_content("inventory/orders.py", pr.head_sha)
    assert text is not None and "pending=[]" in text
    assert host.file_content("missing.py", pr.head_sha) is None
    assert set(host.list_files(pr.head_sha)) >= {"inventory/orders.py", "README.md"}


def test_many_files_are_read_in_one_graphql_call(gh: GitHubEmulator, host: GitHubHost) -> None:
    pr = host.pull_request()
    before = len(gh.requests)
    texts = host.read_files(["inventory/stock.py", "inventory/report.py", "nope.py"], pr.head_sha)
    assert set(texts) == {"inventory/stock.py", "inventory/report.py"}
    assert "total_quantity" in texts["inventory/report.py"]
    assert len(gh.requests) - before == 1


def test_incremental_range_uses_compare(host: GitHubHost, repo: Path) -> None:
    first = host.pull_request().head_sha
    git(repo, "checkout", "-q", "feature")
    write(repo, {"inventory/extra.py": "X = 1\n"})
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "extra")
    head = host.pull_request().head_sha
    assert head != first
    assert host.is_ancestor(first, head) and not host.is_ancestor(head, first)
    assert [f.path for f in host.changed_files(first, head)] == ["inventory/extra.py"]
    assert [c.sha for c in host.commits(first, head)] == [head]


def test_unknown_commits_after_a_force_push(host: GitHubHost) -> None:
    assert not host.has_commit("0" * 40)
    assert not host.has_commit("not-a-sha")
    assert host.has_commit(host.pull_request().head_sha)
    assert not host.is_ancestor("1" * 40, host.pull_request().head_sha)


def test_only_our_own_comments_count(gh: GitHubEmulator, host: GitHubHost) -> None:
    host.create_issue_comment(with_fingerprint("ours", "fp-1"))
    # someone pastes our marker into a comment of their own: it must not silence a finding
    httpx.post(
        f"{gh.base_url}/repos/{REPO}/issues/1/comments",
        headers={"Authorization": "Bearer ghp_mallory"},
        json={"body": with_fingerprint("fake", "fp-2")},
    ).raise_for_status()
    fingerprints = {c.fingerprint for c in host.list_comments()}
    assert fingerprints == {"fp-1"}


def test_review_state_lives_in_the_progress_comment(gh: GitHubEmulator, host: GitHubHost) -> None:
    assert host.last_reviewed_commit() is None
    comment_id = host.create_issue_comment(with_fingerprint("in progress", PROGRESS_FINGERPRINT))
    sha = host.pull_request().head_sha
    host.record_reviewed_commit(sha)
    assert host.last_reviewed_commit() == sha
    # the summary replaces the text; the state stays
    host.update_issue_comment(comment_id, with_fingerprint("done", PROGRESS_FINGERPRINT))
    assert host.last_reviewed_commit() == sha
    body = gh.issue_comments(REPO, 1)[0]["body"]
    assert body.startswith("done") and read_state(body) == {"lastReviewed": sha}


def test_state_is_recorded_even_without_a_progress_comment(host: GitHubHost) -> None:
    sha = host.pull_request().head_sha
    host.record_reviewed_commit(sha)
    assert host.last_reviewed_commit() == sha
    assert len(host.list_comments()) == 1


def test_a_forged_state_marker_is_ignored(gh: GitHubEmulator, host: GitHubHost) -> None:
    forged = with_fingerprint(
        '<!-- reviewflow:state={"lastReviewed": "' + "a" * 40 + '"} -->', PROGRESS_FINGERPRINT
    )
    httpx.post(
        f"{gh.base_url}/repos/{REPO}/issues/1/comments",
        headers={"Authorization": "Bearer ghp_mallory"},
        json={"body": forged},
    ).raise_for_status()
    assert host.last_reviewed_commit() is None


def _comment(path: str, line: int, text: str) -> InlineComment:
    return InlineComment(
        path=path, start_line=line, end_line=line, body=with_fingerprint(text, text)
    )


def test_inline_comments_go_in_one_review(gh: GitHubEmulator, host: GitHubHost) -> None:
    head = host.pull_request().head_sha
    before = len(gh.requests)
    results = host.post_inline_comments(
        [_comment("inventory/orders.py", 4, "c1"), _comment("inventory/orders.py", 10, "c2")], head
    )
    assert [r.posted for r in results] == [True, True]
    assert len(gh.requests) - before == 1
    assert len(gh.reviews(REPO, 1)) == 1
    assert {fingerprint_of(c["body"]) for c in gh.review_comments(REPO, 1)} == {"c1", "c2"}


def test_one_bad_anchor_never_sinks_the_review(gh: GitHubEmulator, host: GitHubHost) -> None:
    head = host.pull_request().head_sha
    results = host.post_inline_comments(
        [
            _comment("inventory/orders.py", 4, "good"),
            # report.py is not part of the diff: GitHub answers 422
            _comment("inventory/report.py", 2, "bad"),
        ],
        head,
    )
    assert [r.posted for r in results] == [True, False]
    assert results[1].error is not None and "422" in results[1].error
    assert [fingerprint_of(c["body"]) for c in gh.review_comments(REPO, 1)] == ["good"]


def test_multi_line_comment_and_thread_resolution(gh: GitHubEmulator, host: GitHubHost) -> None:
    head = host.pull_request().head_sha
    comment = InlineComment(
        path="inventory/orders.py", start_line=4, end_line=6, body=with_fingerprint("x", "m1")
    )
    host.post_inline_comments([comment], head)
    posted = [c for c in host.list_comments() if c.kind == "inline"]
    assert len(posted) == 1 and not posted[0].resolved
    host.resolve_comment(posted[0].id)
    assert [c.resolved for c in host.list_comments() if c.kind == "inline"] == [True]
    assert [t["isResolved"] for t in gh.threads(REPO, 1)] == [True]


def test_verdict_is_submitted_once_per_run(gh: GitHubEmulator, host: GitHubHost) -> None:
    head = host.pull_request().head_sha
    body = with_fingerprint("Two bugs.", "verdict-run1")
    host.submit_verdict(Verdict.REQUEST_CHANGES, body, head)
    host.submit_verdict(Verdict.REQUEST_CHANGES, body, head)  # a retried job
    reviews = gh.reviews(REPO, 1)
    assert [r["state"] for r in reviews] == ["CHANGES_REQUESTED"]


def test_own_pr_cannot_be_approved_so_a_comment_review_is_left(gh: GitHubEmulator) -> None:
    gh.open_pull_request(REPO, base="main", head="feature", title="Mine", user=BOT)
    target = ReviewTarget(provider="github", repository=REPO, pr_number=2)
    api = GitHubApi(GitHubSettings.model_validate({"api_url": gh.base_url, "token": TOKEN}), REPO)
    host = GitHubHost(target, api)
    host.submit_verdict(
        Verdict.APPROVE, with_fingerprint("Fine.", "v"), host.pull_request().head_sha
    )
    reviews = gh.reviews(REPO, 2)
    assert [r["state"] for r in reviews] == ["COMMENTED"]
    assert "would approve" in reviews[0]["body"]


def test_description_is_updated(gh: GitHubEmulator, host: GitHubHost) -> None:
    host.update_description("Adds orders.\n\n## Summary\nok")
    assert gh.pull(REPO, 1)["body"].endswith("ok")


def test_feedback_from_reactions_on_our_comments(gh: GitHubEmulator, host: GitHubHost) -> None:
    head = host.pull_request().head_sha
    body = with_fingerprint("**HIGH** · bug\n\nShared default list.", "f1")
    host.post_inline_comments(
        [InlineComment(path="inventory/orders.py", start_line=4, end_line=4, body=body)], head
    )
    comment_id = gh.review_comments(REPO, 1)[0]["id"]
    gh.add_reaction(REPO, comment_id, "-1", user="bob")
    gh.add_reaction(REPO, comment_id, "-1", user="carol")
    records = host.feedback()
    assert [(r.category, r.outcome) for r in records] == [(Category.BUG, "rejected")]


def test_category_header_parsing() -> None:
    assert category_of("**LOW** · breaking change\n\ntext") == Category.BREAKING_CHANGE
    assert category_of("no header") is None


def test_rate_limit_exhaustion_fails_the_call_for_a_later_retry(gh: GitHubEmulator) -> None:
    host = host_for(gh, max_wait_seconds=1)
    gh.set_rate_limit(2, reset_in=600)
    with pytest.raises(RateLimitedError):
        for _ in range(5):
            host.pull_request()


def test_transient_502s_are_retried(gh: GitHubEmulator, host: GitHubHost) -> None:
    gh.fail_next(502, count=2)
    assert host.pull_request().title == "Orders"


def test_as_a_github_app(gh: GitHubEmulator) -> None:
    private, public = rsa_pair()
    gh.add_app(99, public, installations={REPO: 5})
    settings = GitHubSettings.model_validate(
        {"api_url": gh.base_url, "token": None, "app_id": 99, "app_private_key": private}
    )
    target = ReviewTarget(provider="github", repository=REPO, pr_number=1)
    host = GitHubHost(target, GitHubApi(settings, REPO))
    host.create_issue_comment(with_fingerprint("from the app", "app-1"))
    assert gh.issue_comments(REPO, 1)[0]["user"]["login"] == "reviewflow[bot]"
    assert [c.fingerprint for c in host.list_comments()] == ["app-1"]
