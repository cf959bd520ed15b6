"""Find a Java runtime recent enough for the Operaton engine (``MIN_JAVA_MAJOR``, 17: Spring
Boot 3.5 and Operaton 1.0 need 17; 17 and 25 were both tried).

Candidates, in order:

1. ``$REVIEWFLOW_JAVA_HOME``: an explicit choice; if it is unusable that is an error.
2. ``$JAVA_HOME``
3. the ``java`` on ``PATH`` (symlinks resolved to its home)
4. JDKs under ``/usr/lib/jvm`` (Temurin first, newest version first)

Every candidate is checked by running ``<home>/bin/java -version``; an older one is skipped.
"""

import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from reviewflow.engine.errors import EngineError

MIN_JAVA_MAJOR = 17
DEFAULT_JVM_ROOTS: tuple[Path, ...] = (Path("/usr/lib/jvm"),)

_VERSION_RE = re.compile(r'version "(?P<version>[^"]+)"')


class JavaNotFoundError(EngineError):
    """No usable Java runtime; the message says what is missing and how to get it."""


@dataclass(frozen=True)
class JavaRuntime:
    home: Path
    version: str
    major: int
    source: str

    @property
    def executable(self) -> Path:
        return self.home / "bin" / "java"


def parse_java_version(output: str) -> tuple[str, int]:
    """The version string and major number from ``java -version`` output.

    ``openjdk version "25.0.3" 2026-04-21`` gives ``("25.0.3", 25)``; the legacy
    ``java version "1.8.0_402"`` gives ``("1.8.0_402", 8)``.
    """
    match = _VERSION_RE.search(output)
    if match is None:
        raise ValueError(f"no version in java -version output: {output.strip()[:200]!r}")
    version = match.group("version")
    head = re.match(r"\d+(?:\.\d+)?", version)
    if head is None:
        raise ValueError(f"unparsable java version {version!r}")
    parts = head.group(0).split(".")
    major = int(parts[1]) if parts[0] == "1" and len(parts) > 1 else int(parts[0])
    return version, major


def probe_java_home(home: Path, source: str, timeout: float = 30.0) -> JavaRuntime:
    """Run ``<home>/bin/java -version``; raise ``ValueError`` with the reason if unusable."""
    java = home / "bin" / "java"
    if not java.is_file():
        raise ValueError(f"{java} does not exist")
    if not os.access(java, os.X_OK):
        raise ValueError(f"{java} is not executable")
    try:
        result = subprocess.run(
            [str(java), "-version"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ValueError(f"{java} -version failed: {exc}") from exc
    output = result.stderr + result.stdout
    if result.returncode != 0:
        raise ValueError(f"{java} -version exited {result.returncode}: {output.strip()[:200]}")
    version, major = parse_java_version(output)
    return JavaRuntime(home=home, version=version, major=major, source=source)


def _jvm_sort_key(path: Path) -> tuple[int, int, str]:
    name = path.name
    numbers = [int(n) for n in re.findall(r"\d+", name)]
    # the first number that looks like a Java major version (1.8 style counts as 8)
    major = 0
    if numbers:
        major = numbers[1] if numbers[0] == 1 and len(numbers) > 1 else numbers[0]
    return (0 if "temurin" in name.lower() else 1, -major, name)


def _path_java_home(env: Mapping[str, str]) -> Path | None:
    """The home of the ``java`` on PATH (``/usr/bin/java`` -> ``/usr/lib/jvm/<jdk>``)."""
    found = shutil.which("java", path=env.get("PATH", ""))
    if found is None:
        return None
    return Path(found).resolve().parent.parent


def candidate_homes(
    env: Mapping[str, str] | None = None,
    jvm_roots: Sequence[Path] = DEFAULT_JVM_ROOTS,
) -> list[tuple[Path, str]]:
    """Candidate Java homes, best first, each with where it came from."""
    env = os.environ if env is None else env
    found: list[tuple[Path, str]] = []
    for var in ("REVIEWFLOW_JAVA_HOME", "JAVA_HOME"):
        value = env.get(var, "").strip()
        if value:
            found.append((Path(value), f"${var}"))
    on_path = _path_java_home(env)
    if on_path is not None:
        found.append((on_path, "PATH"))
    for root in jvm_roots:
        if root.is_dir():
            homes = sorted((p for p in root.iterdir() if p.is_dir()), key=_jvm_sort_key)
            found.extend((home, str(root)) for home in homes)
    unique: list[tuple[Path, str]] = []
    seen: set[Path] = set()
    for home, source in found:
        key = home.resolve()
        if key not in seen:
            seen.add(key)
            unique.append((home, source))
    return unique


def find_java(
    min_major: int = MIN_JAVA_MAJOR,
    env: Mapping[str, str] | None = None,
    jvm_roots: Sequence[Path] = DEFAULT_JVM_ROOTS,
) -> JavaRuntime:
    """The first candidate with Java ``min_major`` or newer, or a ``JavaNotFoundError``."""
    env = os.environ if env is None else env
    rejected: list[str] = []
    for home, source in candidate_homes(env, jvm_roots):
        try:
            runtime = probe_java_home(home, source)
        except ValueError as exc:
            reason = str(exc)
        else:
            if runtime.major >= min_major:
                return runtime
            reason = f"Java {runtime.version} is older than {min_major}"
        if source == "$REVIEWFLOW_JAVA_HOME":
            raise JavaNotFoundError(
                f"REVIEWFLOW_JAVA_HOME={home} is not usable: {reason}. "
                f"Point it at a Java {min_major}+ home (a directory with bin/java) or unset it."
            )
        rejected.append(f"  - {home} (from {source}): {reason}")
    tried = "\n".join(rejected) if rejected else "  (no candidates found)"
    roots = ", ".join(str(r) for r in jvm_roots)
    raise JavaNotFoundError(
        f"The engine (Operaton) needs Java {min_major} or newer, and none was found.\n"
        f"Looked at $REVIEWFLOW_JAVA_HOME, $JAVA_HOME, the java on PATH and {roots}:\n"
        f"{tried}\n"
        f"Install a JDK {min_major}+ (e.g. `apt-get install openjdk-17-jdk-headless`, or "
        f"Eclipse Temurin 17/21/25) and, if it is not the default, set REVIEWFLOW_JAVA_HOME "
        f"to its home directory (the directory with bin/java)."
    )
