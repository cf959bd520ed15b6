"""Request text is logged with control characters escaped and bounded."""

from shared.logsafe import loggable


def test_control_format_and_separator_characters_are_escaped() -> None:
    text = "a\x1b[31m\r\n\x07\x9b\u202e\u2028\U000e0001b"
    assert loggable(text) == "a\\x1b[31m\\x0d\\x0a\\x07\\x9b\\u202e\\u2028\\U000e0001b"


def test_printable_text_is_unchanged_and_long_text_is_cut() -> None:
    assert loggable("Codertocat/Hello-World#2 é ✓") == "Codertocat/Hello-World#2 é ✓"
    assert loggable("x" * 500, 10) == "x" * 10 + "…"
