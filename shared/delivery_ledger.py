"""Which webhook deliveries already started a review: by delivery id and by body digest.

``X-GitHub-Delivery`` is not covered by the signature: a captured signed body sent again
with new delivery ids would start a review each time. The ingress therefore records, for
every delivery it is about to publish, both the delivery id and the SHA-256 of the raw body,
and answers any later delivery that repeats either as a duplicate.

The SQLite ledger records atomically (one ``BEGIN IMMEDIATE`` transaction, ``UNIQUE``
constraints decide), so concurrent requests in one process and several ingress processes on
one state directory agree through SQLite's file locking. A record is undone when publishing
fails, so that GitHub's redelivery of a failed delivery goes through. Records older than the
retention (30 days by default) are pruned.
"""

import hashlib
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Protocol

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

LEDGER_FILE_NAME = "deliveries.sqlite3"
DEFAULT_RETENTION_SECONDS = 30 * 24 * 3600
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS deliveries ("
    " delivery_id TEXT NOT NULL UNIQUE,"
    " digest TEXT NOT NULL UNIQUE,"
    " recorded_at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS deliveries_recorded_at ON deliveries (recorded_at)",
)


class DeliveryLedger(Protocol):
    def seen_or_record(self, delivery_id: str, digest: str) -> bool:
        """True when the delivery id or the body digest was recorded before (then nothing
        is recorded); otherwise record both, atomically, and return False."""
        ...

    def forget(self, delivery_id: str, digest: str) -> None:
        """Undo :meth:`seen_or_record` (publishing failed; a redelivery must go through)."""
        ...


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _default_state_dir() -> Path:
    return Path.home() / ".local" / "state" / "reviewflow"


class LedgerSettings(BaseSettings):
    """The state directory, as the workers read it (``REVIEWFLOW_STATE_DIR``)."""

    model_config = SettingsConfigDict(env_prefix="REVIEWFLOW_", extra="ignore")

    state_dir: Path = Field(default_factory=_default_state_dir)


def default_ledger_path() -> Path:
    return LedgerSettings().state_dir / LEDGER_FILE_NAME


class SqliteDeliveryLedger:
    """A :class:`DeliveryLedger` in one SQLite file; safe across threads and processes (a
    connection per call, SQLite's locks between them)."""

    def __init__(
        self,
        path: Path,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.retention_seconds = retention_seconds
        self._clock = clock

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # autocommit mode: transactions are the explicit BEGIN ... COMMIT below
        connection = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        for statement in _SCHEMA:
            connection.execute(statement)
        return connection

    def seen_or_record(self, delivery_id: str, digest: str) -> bool:
        now = self._clock()
        with closing(self._connect()) as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.execute(
                    "DELETE FROM deliveries WHERE recorded_at < ?", (now - self.retention_seconds,)
                )
                connection.execute(
                    "INSERT INTO deliveries (delivery_id, digest, recorded_at) VALUES (?, ?, ?)",
                    (delivery_id, digest, now),
                )
            except sqlite3.IntegrityError:
                connection.execute("ROLLBACK")
                return True
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
            return False

    def forget(self, delivery_id: str, digest: str) -> None:
        with closing(self._connect()) as connection:
            connection.execute(
                "DELETE FROM deliveries WHERE delivery_id = ? AND digest = ?",
                (delivery_id, digest),
            )
