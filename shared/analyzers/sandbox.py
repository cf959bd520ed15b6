"""Run one analyzer binary the safe way: an argument list (never a shell), the temporary tree
as working directory, a minimal environment, no network where the kernel allows a private
network namespace, a memory limit (RLIMIT_AS) and a timeout that kills the whole process group.
"""

import ctypes
import os
import resource
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000
_LIBC = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True)
class ToolResult:
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool
    seconds: float


def minimal_env(home: Path) -> dict[str, str]:
    """No inherited variables: no credentials, no proxies, no tool configuration from the
    worker's environment (RUFF_*, NODE_OPTIONS, ...)."""
    return {
        "PATH": os.defpath,
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "NO_COLOR": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _limits(memory_bytes: int) -> None:
    """Runs in the child between fork and exec."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # a private network namespace has only a down loopback: no network at all. Root can make
    # one directly, others through a user namespace; where neither is allowed the tools still
    # run (they are offline by construction: no fetching, no verification calls).
    if _LIBC.unshare(_CLONE_NEWNET) != 0:
        _LIBC.unshare(_CLONE_NEWUSER | _CLONE_NEWNET)


def run_tool(
    argv: Sequence[str], cwd: Path, timeout_s: float, memory_mb: int, home: Path | None = None
) -> ToolResult:
    memory = memory_mb * 1024 * 1024
    started = time.monotonic()
    process = subprocess.Popen(  # an argument list of a pinned binary, no shell
        list(argv),
        cwd=cwd,
        env=minimal_env(home or cwd),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: _limits(memory),  # the child runs no threads
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        return ToolResult(
            None,
            out.decode("utf-8", "replace"),
            err.decode("utf-8", "replace"),
            True,
            time.monotonic() - started,
        )
    return ToolResult(
        process.returncode,
        out.decode("utf-8", "replace"),
        err.decode("utf-8", "replace"),
        False,
        time.monotonic() - started,
    )
