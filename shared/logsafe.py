"""Text from a request (headers, payload fields, reasons quoting them) made safe to log.

A terminal shows a log line as it is: ESC/CSI sequences in an unauthenticated header could
clear the screen, retitle the window or forge a log line (CR/LF). Everything that is not a
printable character is shown escaped (``\\x1b``, ``\\n``, ``\\u202e``) so an operator still
sees what arrived, and the text is cut to a bounded length.
"""

MAX_LOGGED = 200


def loggable(text: object, limit: int = MAX_LOGGED) -> str:
    """``text`` with control, format and separator characters escaped, at most ``limit``
    characters of input (a cut is marked with ``…``)."""
    value = str(text)
    cut = len(value) > limit
    escaped = "".join(_escape(c) for c in value[:limit])
    return escaped + ("…" if cut else "")


def _escape(char: str) -> str:
    if char.isprintable():
        return char
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"
