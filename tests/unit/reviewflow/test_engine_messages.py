"""publish_idempotent against a fake client that behaves like Zeebe on duplicate message ids."""

from typing import Any, cast

import grpc  # type: ignore[import-untyped,unused-ignore]
import pytest
from pyzeebe import ZeebeClient
from pyzeebe.errors import MessageAlreadyExistsError, ZeebeBackPressureError

from reviewflow.engine.messages import publish_idempotent


class FakeClient:
    def __init__(self, error: Exception | None = None) -> None:
        self.buffered: set[tuple[str, str, str | None]] = set()
        self.published: list[dict[str, Any]] = []
        self.error = error

    async def publish_message(self, **kwargs: Any) -> None:
        if self.error is not None:
            raise self.error
        identity = (kwargs["name"], kwargs["correlation_key"], kwargs["message_id"])
        if identity in self.buffered:
            raise MessageAlreadyExistsError()
        self.buffered.add(identity)
        self.published.append(kwargs)


async def test_second_publish_with_the_same_id_is_success_without_a_second_message() -> None:
    fake = FakeClient()
    client = cast(ZeebeClient, fake)

    first = await publish_idempotent(client, "Msg_AstDone", "run-1", {"ok": True}, 3_600_000, "d1")
    again = await publish_idempotent(client, "Msg_AstDone", "run-1", {"ok": True}, 3_600_000, "d1")

    assert (first, again) == (True, False)
    assert fake.published == [
        {
            "name": "Msg_AstDone",
            "correlation_key": "run-1",
            "variables": {"ok": True},
            "time_to_live_in_milliseconds": 3_600_000,
            "message_id": "d1",
        }
    ]


async def test_other_errors_propagate() -> None:
    client = cast(
        ZeebeClient,
        FakeClient(
            error=ZeebeBackPressureError(
                grpc.aio.AioRpcError(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    grpc.aio.Metadata(),
                    grpc.aio.Metadata(),
                    "busy",
                )
            )
        ),
    )
    with pytest.raises(ZeebeBackPressureError):
        await publish_idempotent(client, "m", "k", None, 1000, "id")


@pytest.mark.parametrize(("ttl", "message_id"), [(1000, ""), (-1, "id")])
async def test_a_message_id_and_a_valid_ttl_are_required(ttl: int, message_id: str) -> None:
    client = cast(ZeebeClient, FakeClient())
    with pytest.raises(ValueError, match=r"message_id|ttl_ms"):
        await publish_idempotent(client, "m", "k", {}, ttl, message_id)
