"""Credentials out of error texts: one helper for every text that came from a server.

A proxy or an upstream that echoes the request's ``Authorization`` header in its error body
would otherwise put the token into exceptions, logs and incidents. :func:`redact` replaces
the secret values the caller knows (a token, an installation token, a key), then anything
shaped like a credential (``Bearer``/``token``/``Basic`` values, an echoed Authorization
header, GitHub token formats, JWTs, private keys, ``sk-`` keys), and then cuts the text.
"""

import re
from collections.abc import Iterable

REDACTED = "[redacted]"
MAX_TEXT = 500
_VALUE = r"[A-Za-z0-9._~+/=-]"
_SHAPES = (
    # an echoed header: `Authorization: Bearer x`, `"authorization": "token x"`, `authorization=x`
    (
        re.compile(
            r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)(?:(?:bearer|token|basic)\s+)?[^\s\"',;]+"
        ),
        r"\1" + REDACTED,
    ),
    # a scheme and a credential-like value (with a digit, or long): never "token expired"
    (
        re.compile(
            rf"(?i)\b(bearer|token|basic)(\s+)(?:(?={_VALUE}*\d){_VALUE}{{8,}}|{_VALUE}{{20,}})"
        ),
        r"\1\2" + REDACTED,
    ),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{16,}"), REDACTED),
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{16,}"), REDACTED),
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), REDACTED),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), REDACTED),
    (
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S
        ),
        REDACTED,
    ),
)


def redact(text: str, secrets: Iterable[str | None] = (), limit: int | None = MAX_TEXT) -> str:
    """``text`` without the given secret values or credential-shaped parts, cut to ``limit``
    characters (``…`` marks a cut; None: no cut). Redaction happens before the cut, so a
    secret across the cut leaves no prefix behind."""
    if limit is not None:
        text = text[: limit * 10]  # bound the work on a huge body
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    for pattern, replacement in _SHAPES:
        text = pattern.sub(replacement, text)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text
