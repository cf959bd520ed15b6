"""Fixtures for the engine unit tests: free ports, fake Java homes (one whose ``java`` runs the
fake engine), a fake ``mvn``, and an engine module to hash and build."""

import os
import socket
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reviewflow.engine.java import JavaRuntime
from reviewflow.engine.local import JAR_NAME, LocalEngine

FAKE_ENGINE = Path(__file__).with_name("fake_engine.py")

# a stand-in for `mvn -B -q -f <dir>/pom.xml package -DskipTests`: writes <dir>/target/<jar>
# (its content: the pom's first line), logs each call to $FAKE_MVN_LOG, fails with
# FAKE_MVN_FAIL=1
FAKE_MVN = f"""#!{sys.executable}
import os, sys
from pathlib import Path
args = sys.argv[1:]
with open(os.environ["FAKE_MVN_LOG"], "a") as log:
    log.write(" ".join(args) + " JAVA_HOME=" + os.environ.get("JAVA_HOME", "") + "\\n")
if os.environ.get("FAKE_MVN_FAIL") == "1":
    print("[ERROR] COMPILATION ERROR on purpose")
    sys.exit(1)
pom = Path(args[args.index("-f") + 1])
target = pom.parent / "target"
target.mkdir()
(target / "{JAR_NAME}").write_text(pom.read_text().splitlines()[0])
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def make_executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def fake_java_home(root: Path, name: str, version_line: str, exit_code: int = 0) -> Path:
    """A directory with bin/java: ``-version`` prints ``version_line`` to stderr, as
    ``java -version`` does; anything else runs the fake engine with those arguments."""
    home = root / name
    make_executable(
        home / "bin" / "java",
        "#!/bin/sh\n"
        'if [ "$1" = "-version" ]; then\n'
        f"  echo '{version_line}' >&2\n  echo 'Runtime Environment (test)' >&2\n"
        f"  exit {exit_code}\nfi\n"
        f'exec "{sys.executable}" "{FAKE_ENGINE}" "$@"\n',
    )
    return home


def make_module(root: Path) -> Path:
    """A small engine module (pom.xml + src/) to hash and build."""
    module = root / "engine-module"
    (module / "src" / "main" / "resources").mkdir(parents=True)
    (module / "pom.xml").write_text("<project>v1</project>\n")
    (module / "src" / "main" / "resources" / "application.yaml").write_text("server: {}\n")
    return module


@pytest.fixture
def write_script() -> Callable[[Path, str], Path]:
    """``write_script(path, text)``: an executable file."""
    return make_executable


@pytest.fixture
def java_home() -> Callable[..., Path]:
    """``java_home(root, name, version_line, exit_code=0)``: a fake Java home."""
    return fake_java_home


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def fake_java(tmp_path: Path) -> JavaRuntime:
    home = fake_java_home(tmp_path, "fake-jdk-17", 'openjdk version "17.0.15"')
    return JavaRuntime(home=home, version="17.0.15", major=17, source="test")


@pytest.fixture
def module(tmp_path: Path) -> Path:
    return make_module(tmp_path)


@pytest.fixture
def fake_mvn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake ``mvn`` first on PATH; returns the file that logs its calls."""
    bin_dir = tmp_path / "mvn-bin"
    make_executable(bin_dir / "mvn", FAKE_MVN)
    log = tmp_path / "mvn-calls.log"
    log.write_text("")
    monkeypatch.setenv("FAKE_MVN_LOG", str(log))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return log


@pytest.fixture
def make_engine(
    tmp_path: Path,
    port: int,
    module: Path,
    fake_mvn: Path,
    fake_java: JavaRuntime,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., LocalEngine]]:
    """Build LocalEngines on the fake mvn and fake java; stop whatever they started after."""
    made: list[LocalEngine] = []
    for name in list(os.environ):
        if name.startswith("REVIEWFLOW_"):
            monkeypatch.delenv(name)

    def make(mode: str = "ok", **kwargs: object) -> LocalEngine:
        monkeypatch.setenv("FAKE_ENGINE_MODE", mode)
        options: dict[str, object] = {
            "cache_dir": tmp_path / "cache",
            "module_dir": module,
            "port": port,
            "env": os.environ,
            "java_finder": lambda: fake_java,
            "start_timeout": 20.0,
            "stop_timeout": 5.0,
        }
        options.update(kwargs)
        engine = LocalEngine(tmp_path / "state", **options)  # type: ignore[arg-type]
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.down()
