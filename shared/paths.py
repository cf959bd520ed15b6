"""Paths built from ids that arrive in process variables (run ids, artifact names).

A run id comes from a webhook delivery or a process variable: ``../../x`` or an absolute path
joined into a path would write outside the state directory. Ids are checked where they enter
(:func:`safe_id`) and every path built from them is resolved and checked again
(:func:`contained`), so a symlink in the tree cannot lead out either.
"""

import re
from pathlib import Path

_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def safe_id(value: object, what: str = "id") -> str:
    """``value`` when it is a plain name (``[A-Za-z0-9][A-Za-z0-9._:-]{0,127}``, no ``..``);
    otherwise ValueError."""
    if not isinstance(value, str) or not _SAFE_ID.fullmatch(value) or ".." in value:
        raise ValueError(f"invalid {what}: {str(value)[:80]!r}")
    return value


def contained(root: Path, *parts: str) -> Path:
    """``root`` joined with ``parts``, resolved (symlinks followed); ValueError when the
    result is not strictly inside the resolved ``root``."""
    base = root.resolve()
    path = base.joinpath(*parts).resolve()
    if path == base or not path.is_relative_to(base):
        raise ValueError(f"path outside {base}: {'/'.join(parts)[:120]!r}")
    return path
