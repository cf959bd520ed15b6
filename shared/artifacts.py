"""The artifact store: large data (file contents, AST reports, raw model output) lives here,
and process variables carry only artifact ids.

The default store is a local directory shared by the workers of one machine (or a volume
shared by containers). Ids are ``<run id>/<name>``, so one run's artifacts are deleted
together and two runs never overwrite each other.
"""

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter

from shared.paths import contained, safe_id

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class ArtifactNotFoundError(LookupError):
    pass


class ArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, artifact_id: str) -> Path:
        parts = artifact_id.split("/")
        if len(parts) != 2:
            raise ValueError(f"invalid artifact id: {artifact_id[:120]!r}")
        run_id, name = (safe_id(part, "artifact id") for part in parts)
        return contained(self.root, run_id, f"{name}.json")

    def put(self, run_id: str, name: str, data: Any) -> str:
        """Write ``data`` (JSON-able, or a pydantic model / list of models) atomically."""
        artifact_id = f"{run_id}/{name}"
        path = self._path(artifact_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = _dump(data)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(payload)
        os.replace(tmp, path)
        return artifact_id

    def get_raw(self, artifact_id: str) -> Any:
        path = self._path(artifact_id)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ArtifactNotFoundError(artifact_id) from exc

    def get(self, artifact_id: str, kind: type[T]) -> T:
        return TypeAdapter(kind).validate_python(self.get_raw(artifact_id))

    def exists(self, artifact_id: str) -> bool:
        return self._path(artifact_id).exists()

    def delete(self, artifact_id: str) -> bool:
        try:
            self._path(artifact_id).unlink()
        except FileNotFoundError:
            return False
        return True

    def delete_run(self, run_id: str) -> int:
        """Remove every artifact of a run; returns how many files were removed."""
        folder = contained(self.root, safe_id(run_id, "run id"))
        if not folder.exists():
            return 0
        count = sum(1 for _ in folder.glob("*.json"))
        shutil.rmtree(folder)
        return count


def _dump(data: Any) -> str:
    if isinstance(data, BaseModel):
        return data.model_dump_json()
    return json.dumps(TypeAdapter(Any).dump_python(data, mode="json"))
