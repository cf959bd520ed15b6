"""Fixtures for the engine unit tests: free ports, a fake Zeebe distribution, fake Java homes."""

import os
import socket
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reviewflow.engine.java import JavaRuntime
from reviewflow.engine.local import EnginePorts, LocalEngine
from reviewflow.engine.versions import ZEEBE_DIST_DIR_NAME, ZEEBE_TARBALL_SHA1

FAKE_BROKER = Path(__file__).with_name("fake_broker.py")


def free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def make_executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def fake_java_home(root: Path, name: str, version_line: str, exit_code: int = 0) -> Path:
    """A directory with bin/java printing ``version_line`` to stderr, as ``java -version`` does."""
    home = root / name
    make_executable(
        home / "bin" / "java",
        f"#!/bin/sh\necho '{version_line}' >&2\necho 'Runtime Environment (test)' >&2\n"
        f"exit {exit_code}\n",
    )
    return home


def install_fake_distribution(cache_dir: Path) -> Path:
    """A cache dir whose extracted distribution is the fake broker (fetch() will not download)."""
    dist = cache_dir / "dist" / ZEEBE_DIST_DIR_NAME
    make_executable(
        dist / "bin" / "broker",
        f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_BROKER}" '
        "io.camunda.application.StandaloneBroker\n",
    )
    (dist / ".reviewflow-installed").write_text(ZEEBE_TARBALL_SHA1 + "\n")
    return dist


FAKE_JAVA = JavaRuntime(home=Path("/opt/fake-jdk-21"), version="21.0.4", major=21, source="test")


@pytest.fixture
def write_script() -> Callable[[Path, str], Path]:
    """``write_script(path, text)``: an executable file."""
    return make_executable


@pytest.fixture
def java_home() -> Callable[..., Path]:
    """``java_home(root, name, version_line, exit_code=0)``: a fake Java home."""
    return fake_java_home


@pytest.fixture
def ports() -> EnginePorts:
    grpc, rest, management, command, internal = free_ports(5)
    return EnginePorts(
        grpc=grpc, rest=rest, management=management, command=command, internal=internal
    )


@pytest.fixture
def fake_cache(tmp_path: Path) -> Path:
    """A cache dir holding the fake distribution."""
    cache = tmp_path / "cache"
    install_fake_distribution(cache)
    return cache


@pytest.fixture
def make_engine(
    tmp_path: Path, ports: EnginePorts, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., LocalEngine]]:
    """Build LocalEngines on the fake distribution; stop whatever they started afterwards."""
    install_fake_distribution(tmp_path / "cache")
    made: list[LocalEngine] = []

    def make(mode: str = "ok", **kwargs: object) -> LocalEngine:
        monkeypatch.setenv("FAKE_BROKER_MODE", mode)
        options: dict[str, object] = {
            "cache_dir": tmp_path / "cache",
            "ports": ports,
            "env": os.environ,
            "java_finder": lambda: FAKE_JAVA,
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
