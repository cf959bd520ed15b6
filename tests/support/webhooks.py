"""GitHub's published webhook payloads (octokit/webhooks, MIT; see the LICENSE file beside
them) and signed deliveries built from them."""

import json
import uuid
from pathlib import Path
from typing import Any

from shared.ingress import signature

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "github-webhooks"


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def delivery(
    secret: str,
    event: str,
    body: dict[str, Any] | bytes,
    delivery_id: str | None = None,
    signed: bool = True,
) -> tuple[dict[str, str], bytes]:
    """Headers (as GitHub sends them) and body of one delivery."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/test",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "1",
    }
    if signed:
        headers["X-Hub-Signature-256"] = signature(secret, raw)
    return headers, raw
