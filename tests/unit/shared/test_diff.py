from shared.diff import anchor, parse_patch, split_git_diff

PATCH = """@@ -1,4 +1,5 @@
 line1
-old2
+new2
+new3
 line4
 line5
"""


def test_added_and_commentable_lines() -> None:
    lines = parse_patch(PATCH)
    assert lines.added == {2, 3}
    assert lines.commentable == {1, 2, 3, 4, 5}


def test_anchor_keeps_short_range_in_diff() -> None:
    assert anchor(2, 3, parse_patch(PATCH)) == (2, 3)


def test_anchor_falls_back_to_first_line_in_diff() -> None:
    assert anchor(5, 40, parse_patch(PATCH)) == (5, 5)


def test_anchor_outside_diff_is_none() -> None:
    assert anchor(30, 40, parse_patch(PATCH)) is None


def test_empty_or_garbage_patch() -> None:
    assert parse_patch("").added == frozenset()
    assert parse_patch("not a diff").commentable == frozenset()


def test_split_git_diff_by_path() -> None:
    diff = "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n" + PATCH
    assert parse_patch(split_git_diff(diff)["x.py"]).added == {2, 3}
