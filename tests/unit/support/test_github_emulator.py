"""The GitHub emulator against a real git repository built per test (fast: no network)."""

import base64
import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.support.github_emulator import GitHubEmulator
from tests.support.keys import rsa_pair

REPO = "acme/widgets"
TOKEN = "ghp_emulator_test"
APP_LINES = [f"line {i}\n" for i in range(1, 31)]
BIG_SIZE = 1024 * 1024 + 10


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """main: app.py (30 lines), remove_me.txt, old_name.py, blob.bin, docs/guide.md, big.txt;
    feature (5 commits): app.py edited at line 10 and at the end, new_file.py added,
    remove_me.txt removed, old_name.py renamed to new_name.py, blob.bin changed, 35 gen/ files;
    main then moves on (docs/guide.md), so main...feature has diverged."""
    r = tmp_path_factory.mktemp("template") / "widgets"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    git(r, "config", "user.email", "t@example.com")
    git(r, "config", "user.name", "T")
    git(r, "config", "commit.gpgsign", "false")
    (r / "app.py").write_text("".join(APP_LINES))
    (r / "remove_me.txt").write_text("bye\n")
    (r / "old_name.py").write_text("".join(f"value_{i} = {i}\n" for i in range(10)))
    (r / "blob.bin").write_bytes(b"\x00\x01\x02binary")
    (r / "docs").mkdir()
    (r / "docs" / "guide.md").write_text("# Guide\n")
    (r / "big.txt").write_bytes(b"x" * BIG_SIZE)
    commit_all(r, "base")
    git(r, "checkout", "-qb", "feature")
    lines = list(APP_LINES)
    lines[9] = "changed 10\n"
    lines += ["line 31\n", "line 32\n"]
    (r / "app.py").write_text("".join(lines))
    commit_all(r, "edit app")
    (r / "new_file.py").write_text("".join(f"n{i} = {i}\n" for i in range(120)))
    (r / "remove_me.txt").unlink()
    commit_all(r, "add and remove")
    git(r, "mv", "old_name.py", "new_name.py")
    text = (r / "new_name.py").read_text().replace("value_5 = 5", "value_5 = 55")
    (r / "new_name.py").write_text(text)
    commit_all(r, "rename")
    (r / "blob.bin").write_bytes(b"\x00\x01\x03binary!")
    commit_all(r, "binary")
    (r / "gen").mkdir()
    for i in range(35):
        (r / "gen" / f"f{i:02d}.txt").write_text(f"generated {i}\n")
    commit_all(r, "generated")
    git(r, "checkout", "-q", "main")
    (r / "docs" / "guide.md").write_text("# Guide\n\nMore.\n")
    commit_all(r, "docs on main")
    return r


@pytest.fixture
def repo(template: Path, tmp_path: Path) -> Path:
    """A private copy of the template repository (tests may push to it)."""
    return Path(shutil.copytree(template, tmp_path / "widgets", symlinks=True))


@pytest.fixture
def gh(repo: Path) -> Iterator[GitHubEmulator]:
    with GitHubEmulator() as emulator:
        emulator.add_repository(REPO, repo)
        emulator.add_token(TOKEN)
        emulator.open_pull_request(REPO, base="main", head="feature", title="Feature", body="b")
        yield emulator


@pytest.fixture
def client(gh: GitHubEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=gh.base_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    ) as c:
        yield c


def links(response: httpx.Response) -> dict[str, str]:
    return {
        rel: url for url, rel in re.findall(r'<([^>]+)>;\s*rel="(\w+)"', response.headers["link"])
    }


def follow_all(client: httpx.Client, url: str) -> list[Any]:
    items: list[Any] = []
    response = client.get(url)
    while True:
        assert response.status_code == 200
        items += response.json()
        if "link" not in response.headers or "next" not in links(response):
            return items
        response = client.get(links(response)["next"])


def head_sha(client: httpx.Client) -> str:
    return str(client.get(f"/repos/{REPO}/pulls/1").json()["head"]["sha"])


# ---- auth ---------------------------------------------------------------------------------


def test_bad_or_missing_credentials_are_refused(gh: GitHubEmulator) -> None:
    url = f"{gh.base_url}/repos/{REPO}/pulls/1"
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        response = httpx.get(url, headers=headers)
        assert response.status_code == 401
        assert response.json()["message"] == "Bad credentials"
    assert httpx.get(url, headers={"Authorization": f"token {TOKEN}"}).status_code == 200
    assert [r.status for r in gh.requests] == [401, 401, 401, 200]
    assert gh.requests[-1].path == f"/repos/{REPO}/pulls/1"
    assert gh.requests[-1].login == "reviewflow[bot]"


# ---- pulls, files, commits, compare -------------------------------------------------------


def test_pull_request_shape_and_live_head(
    gh: GitHubEmulator, client: httpx.Client, repo: Path
) -> None:
    pull = client.get(f"/repos/{REPO}/pulls/1").json()
    assert pull["number"] == 1 and pull["state"] == "open" and pull["merged"] is False
    assert pull["user"]["login"] == "alice" and pull["draft"] is False
    assert pull["head"]["ref"] == "feature" and pull["base"]["ref"] == "main"
    assert pull["head"]["sha"] == git(repo, "rev-parse", "feature")
    assert pull["base"]["sha"] == git(repo, "rev-parse", "main")
    assert pull["head"]["repo"]["full_name"] == REPO
    assert pull["html_url"].endswith(f"/{REPO}/pull/1")
    assert client.get(f"/repos/{REPO}/pulls/9").status_code == 404

    # a push to the branch moves the head; so does a force-push back
    old_head = pull["head"]["sha"]
    git(repo, "checkout", "-q", "feature")
    (repo / "extra.py").write_text("x = 1\n")
    new_head = commit_all(repo, "extra")
    assert head_sha(client) == new_head
    git(repo, "reset", "-q", "--hard", old_head)
    assert head_sha(client) == old_head

    listed = client.get(f"/repos/{REPO}/pulls", params={"head": "acme:feature"}).json()
    assert [p["number"] for p in listed] == [1]
    assert client.get(f"/repos/{REPO}/pulls", params={"state": "closed"}).json() == []
    patched = client.patch(f"/repos/{REPO}/pulls/1", json={"body": "new body"})
    assert patched.status_code == 200 and patched.json()["body"] == "new body"
    assert gh.pull(REPO, 1)["body"] == "new body"
    gh.close_pull_request(REPO, 1, merged=True)
    closed = client.get(f"/repos/{REPO}/pulls/1").json()
    assert closed["state"] == "closed" and closed["merged"] is True


def test_pull_files_statuses_patches_and_pagination(client: httpx.Client) -> None:
    first = client.get(f"/repos/{REPO}/pulls/1/files", params={"per_page": 15})
    assert first.status_code == 200 and len(first.json()) == 15
    rels = links(first)
    assert set(rels) == {"next", "last"}
    assert rels["next"].startswith("http://127.0.0.1:") and "page=2" in rels["next"]
    assert "per_page=15" in rels["last"] and "page=3" in rels["last"]
    second = client.get(rels["next"])
    assert set(links(second)) == {"prev", "next", "last", "first"}
    last = client.get(rels["last"])
    assert len(last.json()) == 10 and set(links(last)) == {"prev", "first"}

    files = {f["filename"]: f for f in follow_all(client, f"/repos/{REPO}/pulls/1/files")}
    assert len(files) == 40
    app = files["app.py"]
    assert app["status"] == "modified" and app["additions"] == 3 and app["deletions"] == 1
    assert app["changes"] == 4 and app["patch"].startswith("@@ -7,7 +7,7 @@")
    assert "-line 10\n+changed 10" in app["patch"] and "diff --git" not in app["patch"]
    assert files["new_file.py"]["status"] == "added"
    assert files["remove_me.txt"]["status"] == "removed"
    renamed = files["new_name.py"]
    assert renamed["status"] == "renamed" and renamed["previous_filename"] == "old_name.py"
    assert "+value_5 = 55" in renamed["patch"]
    assert files["blob.bin"]["status"] == "modified" and "patch" not in files["blob.bin"]
    assert "docs/guide.md" not in files  # changed on main only: merge-base diff


def test_pull_commits(client: httpx.Client, repo: Path) -> None:
    commits = follow_all(client, f"/repos/{REPO}/pulls/1/commits?per_page=2")
    assert [c["commit"]["message"] for c in commits] == [
        "edit app",
        "add and remove",
        "rename",
        "binary",
        "generated",
    ]
    assert commits[-1]["sha"] == git(repo, "rev-parse", "feature")
    assert commits[1]["parents"] == [{"sha": commits[0]["sha"]}]


def test_compare_statuses_pagination_and_files(client: httpx.Client, repo: Path) -> None:
    url = f"/repos/{REPO}/compare/main...feature"
    whole = client.get(url).json()
    assert whole["status"] == "diverged" and whole["ahead_by"] == 5 and whole["behind_by"] == 1
    assert whole["total_commits"] == 5 and len(whole["commits"]) == 5
    assert whole["merge_base_commit"]["sha"] == git(repo, "merge-base", "main", "feature")
    assert whole["commits"][0]["commit"]["message"] == "edit app"  # oldest first
    assert len(whole["files"]) == 40

    page1 = client.get(url, params={"per_page": 2})
    assert [c["commit"]["message"] for c in page1.json()["commits"]] == [
        "edit app",
        "add and remove",
    ]
    assert len(page1.json()["files"]) == 40
    rels = links(page1)
    assert "page=3" in rels["last"]
    page2 = client.get(rels["next"]).json()
    assert [c["commit"]["message"] for c in page2["commits"]] == ["rename", "binary"]
    assert "files" not in page2

    base = git(repo, "rev-parse", "main~1")
    assert client.get(f"/repos/{REPO}/compare/{base}...feature").json()["status"] == "ahead"
    assert client.get(f"/repos/{REPO}/compare/feature...{base}").json()["status"] == "behind"
    same = client.get(f"/repos/{REPO}/compare/main...main").json()
    assert same["status"] == "identical" and same["files"] == []
    missing = client.get(f"/repos/{REPO}/compare/main...nope")
    assert missing.status_code == 404 and missing.json()["message"] == "Not Found"


def test_commit_lookup(client: httpx.Client, repo: Path) -> None:
    sha = git(repo, "rev-parse", "feature~4")
    commit = client.get(f"/repos/{REPO}/commits/{sha}").json()
    assert commit["sha"] == sha and commit["commit"]["message"] == "edit app"
    assert [f["filename"] for f in commit["files"]] == ["app.py"]
    unknown = client.get(f"/repos/{REPO}/commits/{'f' * 40}")
    assert unknown.status_code == 422
    assert unknown.json()["message"] == f"No commit found for SHA: {'f' * 40}"


# ---- contents and trees -------------------------------------------------------------------


def test_contents_and_trees(client: httpx.Client, repo: Path) -> None:
    data = client.get(f"/repos/{REPO}/contents/app.py", params={"ref": "feature"}).json()
    assert data["type"] == "file" and data["encoding"] == "base64" and data["path"] == "app.py"
    assert data["sha"] == git(repo, "rev-parse", "feature:app.py")
    text = base64.b64decode(data["content"]).decode()
    assert text == git(repo, "show", "feature:app.py") + "\n"
    assert "changed 10" in text and data["size"] == len(text.encode())
    binary = client.get(f"/repos/{REPO}/contents/blob.bin").json()
    assert base64.b64decode(binary["content"]) == b"\x00\x01\x02binary"  # default branch

    big = client.get(f"/repos/{REPO}/contents/big.txt").json()
    assert big["content"] == "" and big["encoding"] == "none" and big["size"] == BIG_SIZE

    listing = client.get(f"/repos/{REPO}/contents/docs").json()
    assert [(e["type"], e["path"]) for e in listing] == [("file", "docs/guide.md")]
    root = {e["name"]: e["type"] for e in client.get(f"/repos/{REPO}/contents").json()}
    assert root["docs"] == "dir" and root["app.py"] == "file"
    assert client.get(f"/repos/{REPO}/contents/nope.py").status_code == 404
    assert client.get(f"/repos/{REPO}/contents/app.py?ref=nope").status_code == 404

    tree = client.get(f"/repos/{REPO}/git/trees/feature", params={"recursive": "1"}).json()
    assert tree["truncated"] is False
    kinds = {e["path"]: e["type"] for e in tree["tree"]}
    assert kinds["gen"] == "tree" and kinds["gen/f00.txt"] == "blob"
    sizes = {e["path"]: e.get("size") for e in tree["tree"]}
    assert sizes["big.txt"] == BIG_SIZE
    assert client.get(f"/repos/{REPO}/git/trees/nope").status_code == 404


# ---- issue comments -----------------------------------------------------------------------


def test_issue_comments(gh: GitHubEmulator, client: httpx.Client) -> None:
    posted = client.post(f"/repos/{REPO}/issues/1/comments", json={"body": "summary"})
    assert posted.status_code == 201
    comment = posted.json()
    assert comment["user"]["login"] == "reviewflow[bot]" and comment["node_id"]
    assert comment["created_at"].endswith("Z") and "#issuecomment-" in comment["html_url"]
    edited = client.patch(f"/repos/{REPO}/issues/comments/{comment['id']}", json={"body": "v2"})
    assert edited.json()["body"] == "v2"
    assert client.get(f"/repos/{REPO}/issues/comments/{comment['id']}").json()["body"] == "v2"
    assert client.post(f"/repos/{REPO}/issues/1/comments", json={}).status_code == 422
    for i in range(4):
        client.post(f"/repos/{REPO}/issues/1/comments", json={"body": f"c{i}"})
    bodies = [c["body"] for c in follow_all(client, f"/repos/{REPO}/issues/1/comments?per_page=2")]
    assert bodies == ["v2", "c0", "c1", "c2", "c3"]
    assert [c["body"] for c in gh.issue_comments(REPO, 1)] == bodies


# ---- review comments and reviews ----------------------------------------------------------


def test_review_comment_anchor_must_be_in_the_diff(
    gh: GitHubEmulator, client: httpx.Client
) -> None:
    sha = head_sha(client)
    url = f"/repos/{REPO}/pulls/1/comments"
    outside = client.post(
        url, json={"body": "x", "commit_id": sha, "path": "app.py", "line": 20, "side": "RIGHT"}
    )
    assert outside.status_code == 422
    assert outside.json()["message"] == "Validation Failed"
    assert outside.json()["errors"] == [
        {
            "resource": "PullRequestReviewComment",
            "code": "custom",
            "field": "pull_request_review_thread.line",
            "message": "could not be resolved",
        }
    ]
    not_in_diff = client.post(
        url, json={"body": "x", "commit_id": sha, "path": "docs/guide.md", "line": 1}
    )
    assert not_in_diff.status_code == 422
    bad_commit = client.post(
        url, json={"body": "x", "commit_id": "f" * 40, "path": "app.py", "line": 10}
    )
    assert bad_commit.status_code == 422
    bad_start = client.post(
        url,
        json={"body": "x", "commit_id": sha, "path": "app.py", "line": 31, "start_line": 12},
    )
    assert bad_start.status_code == 422
    assert bad_start.json()["errors"][0]["message"] == (
        "pull_request_review_thread.start_line must be part of the same hunk as the line."
    )
    unresolved_start = client.post(
        url,
        json={"body": "x", "commit_id": sha, "path": "app.py", "line": 31, "start_line": 20},
    )
    assert unresolved_start.status_code == 422
    assert unresolved_start.json()["errors"][0]["field"] == "pull_request_review_thread.start_line"
    same_line = client.post(
        url,
        json={"body": "x", "commit_id": sha, "path": "app.py", "line": 10, "start_line": 10},
    )
    assert same_line.status_code == 422
    assert "must precede the end line" in same_line.json()["errors"][0]["message"]
    by_branch = client.post(
        url, json={"body": "x", "commit_id": "feature", "path": "app.py", "line": 10}
    )
    assert by_branch.status_code == 422  # commit_id is a sha, not a ref name
    assert gh.review_comments(REPO, 1) == []

    # a changed line, a context line in the hunk, and a multi-line range in one hunk
    created = client.post(
        url, json={"body": "here", "commit_id": sha, "path": "app.py", "line": 10}
    )
    assert created.status_code == 201
    comment = created.json()
    assert comment["line"] == 10 and comment["side"] == "RIGHT" and comment["commit_id"] == sha
    assert comment["in_reply_to_id"] is None and comment["pull_request_review_id"]
    assert comment["diff_hunk"].startswith("@@") and comment["diff_hunk"].endswith("+changed 10")
    assert comment["reactions"]["total_count"] == 0
    context = client.post(url, json={"body": "c", "commit_id": sha, "path": "app.py", "line": 8})
    assert context.status_code == 201
    ranged = client.post(
        url,
        json={"body": "r", "commit_id": sha, "path": "app.py", "start_line": 29, "line": 32},
    )
    assert ranged.status_code == 201 and ranged.json()["start_line"] == 29
    deleted = client.post(
        url, json={"body": "d", "commit_id": sha, "path": "app.py", "line": 10, "side": "LEFT"}
    )
    assert deleted.status_code == 201

    reply = client.post(url, json={"body": "reply", "in_reply_to": comment["id"]})
    assert reply.status_code == 201 and reply.json()["in_reply_to_id"] == comment["id"]
    assert len(gh.threads(REPO, 1)) == 4
    assert gh.threads(REPO, 1)[0]["comment_ids"] == [comment["id"], reply.json()["id"]]

    gh.add_reaction(REPO, comment["id"], "+1")
    gh.add_reaction(REPO, comment["id"], "eyes", user="carol")
    listed = follow_all(client, f"{url}?per_page=2")
    assert [c["body"] for c in listed] == ["here", "c", "r", "d", "reply"]
    assert listed[0]["reactions"]["+1"] == 1 and listed[0]["reactions"]["total_count"] == 2
    reactions = client.get(f"/repos/{REPO}/pulls/comments/{comment['id']}/reactions").json()
    assert [(r["content"], r["user"]["login"]) for r in reactions] == [
        ("+1", "bob"),
        ("eyes", "carol"),
    ]
    repo_wide = client.get(
        f"/repos/{REPO}/pulls/comments", params={"sort": "created", "direction": "desc"}
    ).json()
    assert [c["body"] for c in repo_wide] == ["reply", "d", "r", "c", "here"]


def test_review_with_one_bad_anchor_creates_nothing(
    gh: GitHubEmulator, client: httpx.Client
) -> None:
    sha = head_sha(client)
    good = {"path": "app.py", "line": 10, "side": "RIGHT", "body": "good"}
    bad = {"path": "app.py", "line": 20, "side": "RIGHT", "body": "bad"}
    refused = client.post(
        f"/repos/{REPO}/pulls/1/reviews",
        json={"commit_id": sha, "body": "review", "event": "COMMENT", "comments": [good, bad]},
    )
    assert refused.status_code == 422
    assert refused.json()["message"] == "Unprocessable Entity"
    assert refused.json()["errors"] == ["Line could not be resolved"]
    cross_hunk = {"path": "app.py", "start_line": 12, "line": 31, "body": "range"}
    wrong_path = {"path": "docs/guide.md", "line": 1, "body": "not in the diff"}
    for comment, error in (
        (cross_hunk, "Pull request review thread start line must be part of the same hunk"),
        (wrong_path, "Path could not be resolved"),
    ):
        response = client.post(
            f"/repos/{REPO}/pulls/1/reviews",
            json={"commit_id": sha, "body": "r", "event": "COMMENT", "comments": [good, comment]},
        )
        assert response.status_code == 422 and response.json()["errors"][0].startswith(error)
    assert gh.reviews(REPO, 1) == [] and gh.review_comments(REPO, 1) == []
    assert client.get(f"/repos/{REPO}/pulls/1/reviews").json() == []

    accepted = client.post(
        f"/repos/{REPO}/pulls/1/reviews",
        json={"commit_id": sha, "body": "review", "event": "COMMENT", "comments": [good]},
    )
    assert accepted.status_code == 200
    review = accepted.json()
    assert review["state"] == "COMMENTED" and review["commit_id"] == sha
    comments = gh.review_comments(REPO, 1)
    assert [c["pull_request_review_id"] for c in comments] == [review["id"]]
    assert [r["id"] for r in client.get(f"/repos/{REPO}/pulls/1/reviews").json()] == [review["id"]]


def test_review_events_and_own_pull_request(gh: GitHubEmulator, client: httpx.Client) -> None:
    url = f"/repos/{REPO}/pulls/1/reviews"
    gh.add_token("alice-token", login="alice")
    own = {"Authorization": "Bearer alice-token"}
    refused = client.post(url, json={"event": "APPROVE"}, headers=own)
    assert refused.status_code == 422
    assert refused.json()["errors"] == ["Can not approve your own pull request"]
    changes = client.post(url, json={"event": "REQUEST_CHANGES", "body": "no"}, headers=own)
    assert changes.status_code == 422
    assert changes.json()["errors"] == ["Can not request changes on your own pull request"]
    for event in ("COMMENT", "REQUEST_CHANGES"):
        assert client.post(url, json={"event": event}).status_code == 422
    approved = client.post(url, json={"event": "APPROVE"})
    assert approved.status_code == 200 and approved.json()["state"] == "APPROVED"
    assert approved.json()["user"]["login"] == "reviewflow[bot]"
    requested = client.post(url, json={"event": "REQUEST_CHANGES", "body": "fix it"})
    assert requested.json()["state"] == "CHANGES_REQUESTED"
    assert [r["state"] for r in gh.reviews(REPO, 1)] == ["APPROVED", "CHANGES_REQUESTED"]
    pending = client.post(url, json={"body": "draft"})
    assert pending.status_code == 200 and pending.json()["state"] == "PENDING"
    assert client.post(url, json={"body": "another"}).status_code == 422


# ---- rate limits and injected failures ----------------------------------------------------


def test_rate_limit_headers_and_exhaustion(gh: GitHubEmulator, client: httpx.Client) -> None:
    window = 1.5
    started = time.time()
    gh.set_rate_limit(3, window)
    url = f"/repos/{REPO}"  # a cheap endpoint: the test depends on timing
    remaining = []
    for _ in range(3):
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["x-ratelimit-limit"] == "3"
        assert response.headers["x-ratelimit-resource"] == "core"
        remaining.append(int(response.headers["x-ratelimit-remaining"]))
    assert remaining == [2, 1, 0]
    assert response.headers["x-ratelimit-used"] == "3"
    exhausted = client.get(f"/repos/{REPO}/pulls/1")
    assert exhausted.status_code == 403
    assert exhausted.json()["message"].startswith("API rate limit exceeded for installation")
    assert exhausted.headers["x-ratelimit-remaining"] == "0"
    reset = int(exhausted.headers["x-ratelimit-reset"])
    assert started + window <= reset <= started + window + 1
    if time.time() < started + window - 0.2:
        assert client.get(url).status_code == 403  # still exhausted
    time.sleep(max(0.0, started + window - time.time()) + 0.05)
    again = client.get(url)
    assert again.status_code == 200 and again.headers["x-ratelimit-remaining"] == "2"
    graphql_budget = client.post("/graphql", json={"query": "query Nope { x }"})
    assert graphql_budget.headers["x-ratelimit-resource"] == "graphql"
    assert graphql_budget.headers["x-ratelimit-limit"] == "5000"


def test_injected_failures(gh: GitHubEmulator, client: httpx.Client) -> None:
    url = f"/repos/{REPO}/pulls/1"
    gh.fail_next(502, count=2)
    assert [client.get(url).status_code for _ in range(3)] == [502, 502, 200]

    gh.fail_next(403, secondary=True, retry_after=1.5)
    secondary = client.get(url)
    assert secondary.status_code == 403 and secondary.headers["retry-after"] == "1.5"
    assert "secondary rate limit" in secondary.json()["message"]

    gh.fail_next(429, retry_after=2)
    limited = client.get(url)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "2"

    gh.fail_next(500, path_contains="/files")
    assert client.get(url).status_code == 200
    assert client.get(f"{url}/files").status_code == 500
    assert client.get(f"{url}/files").status_code == 200
    assert [r.status for r in gh.requests][-3:] == [200, 500, 200]


# ---- GraphQL ------------------------------------------------------------------------------

THREADS = """query ReviewThreads($owner: String!, $name: String!, $number: Int!, $cursor: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviewThreads(first: 100, after: $cursor) {
        pageInfo { hasNextPage endCursor }
        nodes { id isResolved comments(first: 1) { nodes { databaseId } } }
      }
    }
  }
}"""

RESOLVE = """mutation ResolveThread($threadId: ID!) {
  resolveReviewThread(input: {threadId: $threadId}) { thread { id isResolved } }
}"""


def graphql(client: httpx.Client, query: str, **variables: Any) -> Any:
    response = client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200
    return response.json()


def test_graphql_review_threads_and_resolve(gh: GitHubEmulator, client: httpx.Client) -> None:
    sha = head_sha(client)
    comments = [{"path": "new_file.py", "line": i, "body": f"n{i}"} for i in range(1, 106)]
    review = client.post(
        f"/repos/{REPO}/pulls/1/reviews",
        json={"commit_id": sha, "body": "many", "event": "COMMENT", "comments": comments},
    )
    assert review.status_code == 200
    variables = {"owner": "acme", "name": "widgets", "number": 1, "cursor": None}
    first = graphql(client, THREADS, **variables)["data"]["repository"]["pullRequest"]
    threads = first["reviewThreads"]
    assert len(threads["nodes"]) == 100 and threads["pageInfo"]["hasNextPage"] is True
    variables["cursor"] = threads["pageInfo"]["endCursor"]
    second = graphql(client, THREADS, **variables)["data"]["repository"]["pullRequest"]
    rest = second["reviewThreads"]
    assert len(rest["nodes"]) == 5 and rest["pageInfo"]["hasNextPage"] is False
    ids = {c["id"] for c in gh.review_comments(REPO, 1)}
    nodes = threads["nodes"] + rest["nodes"]
    assert {n["comments"]["nodes"][0]["databaseId"] for n in nodes} == ids
    assert not any(n["isResolved"] for n in nodes)
    assert gh.requests[-1].path == "/graphql"
    assert gh.requests[-1].operation == "query ReviewThreads"

    target = nodes[0]["id"]
    resolved = graphql(client, RESOLVE, threadId=target)
    assert resolved == {
        "data": {"resolveReviewThread": {"thread": {"id": target, "isResolved": True}}}
    }
    assert [t["isResolved"] for t in gh.threads(REPO, 1)][:2] == [True, False]
    missing = graphql(client, RESOLVE, threadId="PRRT_nope")
    assert missing["errors"] and missing["data"]["resolveReviewThread"] is None

    unknown = graphql(client, "query Other { viewer { login } }")
    assert unknown["errors"][0]["message"]
    gone = graphql(client, THREADS, owner="acme", name="nope", number=1, cursor=None)
    assert gone["data"]["repository"] is None and gone["errors"][0]["type"] == "NOT_FOUND"


def test_graphql_blobs(client: httpx.Client, repo: Path) -> None:
    sha = git(repo, "rev-parse", "feature")
    fields = {
        "a0": f"{sha}:app.py",
        "a1": "feature:blob.bin",
        "a2": f"{sha}:nope.py",
        "a3": 'nope:we"ird.py',
        "a4": "main:docs/guide.md",
    }
    selections = "\n".join(
        f"    {alias}: object(expression: {json.dumps(expression)}) "
        "{ ... on Blob { text isBinary byteSize } }"
        for alias, expression in fields.items()
    )
    query = (
        "query Blobs($owner: String!, $name: String!) {\n"
        f"  repository(owner: $owner, name: $name) {{\n{selections}\n  }}\n}}"
    )
    data = graphql(client, query, owner="acme", name="widgets")["data"]["repository"]
    text = git(repo, "show", "feature:app.py") + "\n"
    assert data["a0"] == {"text": text, "isBinary": False, "byteSize": len(text.encode())}
    assert data["a1"] == {"text": None, "isBinary": True, "byteSize": 10}
    assert data["a2"] is None and data["a3"] is None
    assert data["a4"]["text"] == "# Guide\n\nMore.\n"


# ---- GitHub App ---------------------------------------------------------------------------


def test_app_jwt_buys_an_installation_token(gh: GitHubEmulator) -> None:
    private_pem, public_pem = rsa_pair()
    gh.add_app(4242, public_pem, {REPO: 77})
    now = int(time.time())
    app_jwt = jwt.encode({"iat": now - 60, "exp": now + 480, "iss": "4242"}, private_pem, "RS256")
    app_headers = {"Authorization": f"Bearer {app_jwt}"}
    with httpx.Client(base_url=gh.base_url, timeout=10) as c:
        found = c.get(f"/repos/{REPO}/installation", headers=app_headers)
        assert found.status_code == 200
        assert found.json()["id"] == 77 and found.json()["app_id"] == 4242
        assert c.get("/repos/acme/other/installation", headers=app_headers).status_code == 404
        # the JWT is no token for the rest of the API, and a token is no JWT
        assert c.get(f"/repos/{REPO}/pulls/1", headers=app_headers).status_code == 401
        assert (
            c.post(
                "/app/installations/77/access_tokens",
                headers={"Authorization": f"Bearer {TOKEN}"},
            ).status_code
            == 401
        )
        expired = jwt.encode(
            {"iat": now - 1200, "exp": now - 600, "iss": "4242"}, private_pem, "RS256"
        )
        assert (
            c.post(
                "/app/installations/77/access_tokens",
                headers={"Authorization": f"Bearer {expired}"},
            ).status_code
            == 401
        )
        assert c.post("/app/installations/78/access_tokens", headers=app_headers).status_code == 404

        issued = c.post("/app/installations/77/access_tokens", headers=app_headers)
        assert issued.status_code == 201
        token = issued.json()["token"]
        assert token.startswith("ghs_") and issued.json()["expires_at"].endswith("Z")
        expires = time.mktime(time.strptime(issued.json()["expires_at"], "%Y-%m-%dT%H:%M:%SZ"))
        assert 3500 < expires - time.mktime(time.gmtime()) <= 3601
        auth = {"Authorization": f"Bearer {token}"}
        posted = c.post(f"/repos/{REPO}/issues/1/comments", json={"body": "hi"}, headers=auth)
        assert posted.status_code == 201
        assert posted.json()["user"]["login"] == "reviewflow[bot]"
        gh.expire_tokens()
        assert c.get(f"/repos/{REPO}/pulls/1", headers=auth).status_code == 401
