"""Publishing messages so that a retry (or a redelivered webhook) is harmless.

Zeebe rejects a message whose name, correlation key and message id equal those of a message
still buffered (within its TTL): pyzeebe raises ``MessageAlreadyExistsError``. For a publisher
that retries, that means "already published", i.e. success.

Superseded by the Camunda 8 adapter (:class:`reviewflow.engine.zeebe.ZeebeEngine` publishes
with a message id and treats ALREADY_EXISTS as success). Kept only because the old local-broker
smoke test (``tests/integration/test_engine_smoke.py``) still imports it: delete both together.
"""

import logging
from collections.abc import Mapping
from typing import Any

from pyzeebe import ZeebeClient
from pyzeebe.errors import MessageAlreadyExistsError

log = logging.getLogger(__name__)


async def publish_idempotent(
    client: ZeebeClient,
    name: str,
    key: str,
    variables: Mapping[str, Any] | None,
    ttl_ms: int,
    message_id: str,
) -> bool:
    """Publish once per ``message_id``. True when this call published it, False when a message
    with the same name, key and id was already buffered (treated as success)."""
    if not message_id:
        raise ValueError("message_id is required: without it a retry publishes a second message")
    if ttl_ms < 0:
        raise ValueError(f"ttl_ms must be >= 0, got {ttl_ms}")
    try:
        await client.publish_message(
            name=name,
            correlation_key=key,
            variables=dict(variables or {}),
            time_to_live_in_milliseconds=ttl_ms,
            message_id=message_id,
        )
    except MessageAlreadyExistsError:
        log.info("message %s (key %s, id %s) was already published", name, key, message_id)
        return False
    return True
