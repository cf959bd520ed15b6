"""The run's event log: one JSON line per stage transition, next to the run's artifacts.

Workers append; the CLI follows it to show live progress. It holds stage names, statuses and
short human-readable details only (never file contents or secrets).
"""

import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from shared.paths import contained, safe_id

Status = Literal["started", "completed", "failed", "skipped", "dispatched", "stale"]


class StageEvent(BaseModel):
    run_id: str
    stage: str
    status: Status
    detail: str = ""
    at: float


class EventLog:
    def __init__(self, root: Path, run_id: str) -> None:
        self.run_id = safe_id(run_id, "run id")
        self.path = contained(root, self.run_id, "events.jsonl")

    def emit(self, stage: str, status: Status, detail: str = "") -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        event = StageEvent(
            run_id=self.run_id, stage=stage, status=status, detail=detail[:500], at=time.time()
        )
        line = event.model_dump_json() + "\n"
        # one write() of a short line on an O_APPEND file: lines from processes do not interleave
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)

    def read(self, offset: int = 0) -> tuple[list[StageEvent], int]:
        """Events from byte ``offset`` on, and the offset to continue from."""
        if not self.path.exists():
            return [], offset
        with open(self.path, encoding="utf-8") as handle:
            handle.seek(offset)
            data = handle.read()
        complete, _, _ = data.rpartition("\n")
        if not complete:
            return [], offset
        events = [StageEvent.model_validate_json(line) for line in complete.split("\n") if line]
        return events, offset + len(complete.encode()) + 1
