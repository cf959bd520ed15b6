"""One redaction helper for every error text that may carry a credential."""

from shared.redact import REDACTED, redact

TOKEN = "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiI0MiJ9.c2lnbmF0dXJlLXBhcnQ"


def test_known_secret_values_are_redacted_wherever_they_appear() -> None:
    text = f"proxy echoed x{TOKEN}y and again {TOKEN}"
    assert redact(text, [TOKEN]) == f"proxy echoed x{REDACTED}y and again {REDACTED}"


def test_credential_shapes_are_redacted_without_knowing_the_value() -> None:
    text = (
        f"Authorization: Bearer {JWT}; token {TOKEN}; "
        "ghs_16C7e42F292c6912E7710c838347Ae178B4a; github_pat_11ABCDEFG0123456789_abcdefghij; "
        "sk-proj-abcdefghijklmnop1234"
    )
    redacted = redact(text)
    for secret in (JWT, TOKEN, "ghs_16C7e42F292c6912E7710c838347Ae178B4a", "github_pat_11AB"):
        assert secret not in redacted
    assert "sk-proj-abcdefghijklmnop1234" not in redacted
    assert redacted.count(REDACTED) >= 4


def test_an_echoed_authorization_header_is_redacted_in_json_and_text() -> None:
    for text in (
        '{"headers": {"Authorization": "token abcdefgh1234"}}',
        "authorization=Basic dXNlcjpwYXNz",
        "Authorization: token abcdefgh1234",
    ):
        redacted = redact(text)
        assert "abcdefgh1234" not in redacted and "dXNlcjpwYXNz" not in redacted, redacted


def test_a_private_key_is_redacted_even_when_cut() -> None:
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"
    assert "MIIEow" not in redact(f"bad key {pem} here")
    assert "MIIEow" not in redact(f"bad key {pem[:40]}")


def test_ordinary_words_stay() -> None:
    text = "Bad credentials: the token expired; see the docs"
    assert redact(text) == text


def test_long_text_is_cut_after_redacting() -> None:
    text = "x" * 5000 + TOKEN
    out = redact(text, [TOKEN], limit=100)
    assert len(out) == 100 and out.endswith("…")
    edge = "y" * 90 + TOKEN  # a secret across the cut never leaves its prefix behind
    assert "ghp_A1b2" not in redact(edge, [TOKEN], limit=100)
