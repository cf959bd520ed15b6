"""Run one analyzer binary the safe way: an argument list (never a shell), the temporary tree
as working directory, a minimal environment, no network where the kernel allows a private
network namespace, a memory limit (RLIMIT_AS) and a timeout that kills the whole process group.

``argv[0]`` must be an absolute path (it is exec'd as is, without a PATH search).
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# Sets the limits in a fresh interpreter, then becomes the tool (exec): no code runs between
# fork and exec in the worker (``preexec_fn`` is unsafe in a process with threads). A private
# network namespace has only a down loopback: no network at all. Root can make one directly,
# others through a user namespace; where neither is allowed the tools still run (they are
# offline by construction: no fetching, no verification calls).
_LAUNCHER = """
import ctypes, os, resource, sys
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
unshare = getattr(ctypes.CDLL(None, use_errno=True), "unshare", None)  # Linux only
uid, gid = os.getuid(), os.getgid()
if unshare is not None and unshare(0x40000000) != 0 and unshare(0x10000000 | 0x40000000) == 0:
    # keep our own ids inside the user namespace, so the tree stays readable
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"),
                       ("gid_map", f"{gid} {gid} 1")):
        try:
            with open(f"/proc/self/{name}", "w") as fh:
                fh.write(text)
        except OSError:
            pass
os.execv(sys.argv[2], sys.argv[2:])
"""


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
        # few threads: each reserves address space, which RLIMIT_AS counts (Ruff uses rayon)
        "RAYON_NUM_THREADS": "2",
    }


def run_tool(
    argv: Sequence[str], cwd: Path, timeout_s: float, memory_mb: int, home: Path | None = None
) -> ToolResult:
    memory = memory_mb * 1024 * 1024
    started = time.monotonic()
    launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(memory)]
    process = subprocess.Popen(  # an argument list of a pinned binary, no shell
        [*launcher, *argv],
        cwd=cwd,
        env=minimal_env(home or cwd),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
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
