"""LocalEngine without Java or Zeebe: config, fetch, lifecycle on a fake broker, pid safety."""

import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from reviewflow.engine import local as local_module
from reviewflow.engine.local import (
    EngineError,
    EnginePorts,
    EngineStartError,
    LocalEngine,
    PidRecord,
    default_cache_dir,
    default_state_dir,
    pid_alive,
    process_start_time,
    tail_file,
)
from reviewflow.engine.versions import (
    ZEEBE_COORDINATES,
    ZEEBE_DIST_DIR_NAME,
    ZEEBE_TARBALL_NAME,
    ZEEBE_TARBALL_SHA1,
)

# --- settings and paths ----------------------------------------------------------------------


def test_ports_default_and_env_overrides() -> None:
    assert EnginePorts.from_env({}) == EnginePorts(26500, 8080, 9600, 26501, 26502)
    ports = EnginePorts.from_env(
        {"REVIEWFLOW_ENGINE_GRPC_PORT": "36500", "REVIEWFLOW_ENGINE_MANAGEMENT_PORT": " 39600 "}
    )
    assert (ports.grpc, ports.rest, ports.management) == (36500, 8080, 39600)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REVIEWFLOW_ENGINE_REST_PORT": "http"}, "REVIEWFLOW_ENGINE_REST_PORT='http'"),
        ({"REVIEWFLOW_ENGINE_GRPC_PORT": "70000"}, "REVIEWFLOW_ENGINE_GRPC_PORT=70000"),
        ({"REVIEWFLOW_ENGINE_REST_PORT": "9600"}, "distinct"),
    ],
)
def test_bad_ports_are_rejected_naming_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(EngineError, match=message):
        EnginePorts.from_env(env)


def test_default_dirs(tmp_path: Path) -> None:
    assert default_state_dir({"REVIEWFLOW_STATE_DIR": str(tmp_path)}) == tmp_path
    assert default_state_dir({}) == Path.home() / ".local" / "state" / "reviewflow"
    assert default_cache_dir({"REVIEWFLOW_CACHE_DIR": str(tmp_path)}) == tmp_path
    assert default_cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "reviewflow"
    assert default_cache_dir({}) == Path.home() / ".cache" / "reviewflow"


def test_state_dir_comes_from_env(tmp_path: Path) -> None:
    engine = LocalEngine(env={"REVIEWFLOW_STATE_DIR": str(tmp_path / "s")})
    assert engine.pid_path == tmp_path / "s" / "engine" / "broker.pid"


def test_write_config(tmp_path: Path) -> None:
    ports = EnginePorts(grpc=1111, rest=2222, management=3333, command=4444, internal=5555)
    engine = LocalEngine(tmp_path / "relative" / ".." / "state", ports=ports, env={})
    path = engine.write_config()

    assert path == tmp_path / "state" / "engine" / "application.yaml"
    config = yaml.safe_load(path.read_text())
    broker = config["zeebe"]["broker"]
    assert broker["data"]["directory"] == str(tmp_path / "state" / "engine" / "data")
    assert Path(broker["data"]["directory"]).is_absolute()
    assert Path(broker["data"]["directory"]).is_dir()
    assert broker["gateway"]["network"] == {"host": "127.0.0.1", "port": 1111}
    assert broker["gateway"]["security"]["authentication"]["mode"] == "none"
    assert broker["network"]["host"] == "127.0.0.1"
    assert broker["network"]["commandApi"]["port"] == 4444
    assert broker["network"]["internalApi"]["port"] == 5555
    assert broker["cluster"]["clusterSize"] == 1
    assert config["server"] == {"address": "127.0.0.1", "port": 2222}
    assert config["management"]["server"] == {"address": "127.0.0.1", "port": 3333}
    assert engine.grpc_address == "127.0.0.1:1111"
    assert engine.rest_url == "http://127.0.0.1:2222"
    assert engine.readiness_url == "http://127.0.0.1:3333/actuator/health/readiness"


def test_tail_file(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_text("".join(f"line {i}\n" for i in range(1000)))
    assert tail_file(log, 3) == "line 997\nline 998\nline 999"
    assert tail_file(tmp_path / "missing", 3) == ""


# --- fetch -----------------------------------------------------------------------------------


def _fake_tarball() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in (("bin/broker", "#!/bin/sh\necho broker\n"), ("lib/x.jar", "jar")):
            data = text.encode()
            info = tarfile.TarInfo(f"{ZEEBE_DIST_DIR_NAME}/{name}")
            info.size = len(data)
            info.mode = 0o755
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def fake_mvn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_script: Callable[[Path, str], Path]
) -> Iterator[Path]:
    """`mvn` on PATH that 'downloads' a fake tarball and logs its arguments."""
    tarball = tmp_path / "artifact.tar.gz"
    tarball.write_bytes(_fake_tarball())
    calls = tmp_path / "mvn-calls.log"
    bin_dir = tmp_path / "bin"
    write_script(
        bin_dir / "mvn",
        "#!/bin/sh\n"
        f'echo "$@" >> "{calls}"\n'
        'for a in "$@"; do case "$a" in -DoutputDirectory=*) out="${a#-DoutputDirectory=}";; '
        "esac; done\n"
        f'cp "{tarball}" "$out/{ZEEBE_TARBALL_NAME}"\n',
    )
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(
        local_module,
        "ZEEBE_TARBALL_SHA1",
        hashlib.sha1(tarball.read_bytes(), usedforsecurity=False).hexdigest(),
    )
    yield calls


def test_fetch_downloads_once_checks_and_extracts(tmp_path: Path, fake_mvn: Path) -> None:
    engine = LocalEngine(tmp_path / "state", cache_dir=tmp_path / "cache")

    dist = engine.fetch()

    assert dist == tmp_path / "cache" / "dist" / ZEEBE_DIST_DIR_NAME
    assert (dist / "bin" / "broker").read_text().startswith("#!/bin/sh")
    assert os.access(dist / "bin" / "broker", os.X_OK)
    assert (tmp_path / "cache" / "downloads" / ZEEBE_TARBALL_NAME).is_file()
    (call,) = fake_mvn.read_text().splitlines()
    assert "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy" in call
    assert f"-Dartifact={ZEEBE_COORDINATES}" in call
    assert ZEEBE_COORDINATES == "io.camunda:camunda-zeebe:8.6.0:tar.gz"

    assert engine.fetch() == dist
    assert len(fake_mvn.read_text().splitlines()) == 1, "second fetch must not download again"


def test_fetch_rejects_a_bad_checksum_and_deletes_the_file(tmp_path: Path) -> None:
    engine = LocalEngine(tmp_path / "state", cache_dir=tmp_path / "cache")
    engine.tarball_path.parent.mkdir(parents=True)
    engine.tarball_path.write_bytes(b"not the real thing")

    with pytest.raises(EngineError, match=f"checksum mismatch.*expected {ZEEBE_TARBALL_SHA1}"):
        engine.fetch()
    assert not engine.tarball_path.exists()
    assert not engine.dist_dir.exists()


def test_fetch_without_maven_says_what_to_do(tmp_path: Path) -> None:
    engine = LocalEngine(
        tmp_path / "state", cache_dir=tmp_path / "cache", env={"PATH": str(tmp_path)}
    )
    with pytest.raises(EngineError, match=r"Maven \('mvn'\) is needed") as info:
        engine.fetch()
    assert str(engine.tarball_path) in str(info.value)


def test_maven_failure_is_reported_with_its_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_script: Callable[[Path, str], Path]
) -> None:
    write_script(tmp_path / "bin" / "mvn", "#!/bin/sh\necho 'ERROR 404 Not Found' >&2\nexit 1\n")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    engine = LocalEngine(tmp_path / "state", cache_dir=tmp_path / "cache")
    with pytest.raises(EngineError, match=r"(?s)with Maven failed \(exit 1\).*404 Not Found"):
        engine.fetch()


# --- lifecycle on the fake broker ------------------------------------------------------------


def test_up_status_reuse_down(make_engine: Callable[..., LocalEngine]) -> None:
    engine = make_engine()

    first = engine.up()
    assert first.started
    status = first.status
    assert status.healthy and status.pid_alive and status.ready and status.grpc_open
    assert status.topology is not None and status.topology["clusterSize"] == 1
    record = PidRecord.from_text(engine.pid_path.read_text())
    assert record is not None and record.pid == status.pid
    assert record.start_time == process_start_time(record.pid)
    # environment of the broker: chosen JAVA_HOME, heap, our config file as *additional* config
    log = engine.logs(50)
    assert "fake-broker env JAVA_HOME=/opt/fake-jdk-21" in log
    assert "fake-broker env JAVA_OPTS=-Xms512m -Xmx1g" in log
    assert f"SPRING_CONFIG_ADDITIONAL_LOCATION=file:{engine.config_path}" in log
    # detached from our session
    assert os.getsid(record.pid) == record.pid

    second = engine.up()
    assert not second.started
    assert second.status.pid == status.pid

    down = engine.down()
    assert down.stopped and down.pid == status.pid
    assert not pid_alive(status.pid)
    assert not engine.pid_path.exists()
    assert not engine.status().healthy
    assert engine.down().message == "no engine was started from this state dir"


def test_a_broker_that_exits_fails_with_the_log_tail(
    make_engine: Callable[..., LocalEngine],
) -> None:
    engine = make_engine("crash")
    with pytest.raises(EngineStartError) as info:
        engine.up()
    assert "exited with code 3" in str(info.value)
    assert "FATAL something went wrong on purpose" in info.value.log_tail
    assert not engine.pid_path.exists()


def test_a_broker_that_never_gets_ready_is_stopped(
    make_engine: Callable[..., LocalEngine],
) -> None:
    engine = make_engine("hang", start_timeout=1.5)
    started = time.monotonic()
    with pytest.raises(EngineStartError, match="not ready after 2 s") as info:
        engine.up()
    assert time.monotonic() - started < 15
    assert "fake-broker env JAVA_HOME" in info.value.log_tail
    assert not engine.pid_path.exists()
    pid = int(info.value.reason.split("(pid ")[1].split(")")[0])
    assert not pid_alive(pid)


def test_down_escalates_to_sigkill(make_engine: Callable[..., LocalEngine]) -> None:
    engine = make_engine("stubborn", stop_timeout=1.0)
    pid = engine.up().status.pid
    assert pid is not None
    started = time.monotonic()
    assert engine.down().stopped
    assert 1.0 <= time.monotonic() - started < 10
    assert not pid_alive(pid)


def test_up_refuses_ports_held_by_someone_else(
    make_engine: Callable[..., LocalEngine], ports: EnginePorts
) -> None:
    engine = make_engine()
    with socket.socket() as other:
        other.bind(("127.0.0.1", ports.grpc))
        other.listen()
        with pytest.raises(EngineError, match="REVIEWFLOW_ENGINE_GRPC_PORT"):
            engine.up()
    assert not engine.pid_path.exists()
    assert not engine.log_path.exists(), "nothing may be spawned"


# --- pid safety: down() only ever signals the broker it started ------------------------------


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    """An unrelated process that must survive."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield process
    process.kill()
    process.wait()


def _write_pid(engine: LocalEngine, pid: int, start_time: str | None) -> None:
    engine.engine_dir.mkdir(parents=True, exist_ok=True)
    engine.pid_path.write_text(
        json.dumps({"pid": pid, "start_time": start_time, "started_at": "x"})
    )


def test_down_leaves_an_unrelated_process_alone(
    tmp_path: Path, bystander: subprocess.Popen[bytes]
) -> None:
    engine = LocalEngine(tmp_path / "state", env={})
    # even with the right start time: it is not a Zeebe broker
    _write_pid(engine, bystander.pid, process_start_time(bystander.pid))

    result = engine.down()

    assert not result.stopped
    assert "left it alone" in result.message
    time.sleep(0.2)
    assert bystander.poll() is None, "the unrelated process was signalled"
    assert not engine.pid_path.exists()


def test_down_leaves_a_reused_pid_alone(tmp_path: Path) -> None:
    # looks like a broker, but started at another time than the recorded one (pid reuse)
    lookalike = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; time.sleep(120)",
            "io.camunda.application.StandaloneBroker",
        ]
    )
    try:
        engine = LocalEngine(tmp_path / "state", env={})
        assert engine.owns_process(
            PidRecord(lookalike.pid, process_start_time(lookalike.pid), "x")
        ), "sanity: with the right start time it would count as ours"
        _write_pid(engine, lookalike.pid, "12345")

        assert not engine.down().stopped
        time.sleep(0.2)
        assert lookalike.poll() is None
    finally:
        lookalike.kill()
        lookalike.wait()


@pytest.mark.parametrize("content", ["", "garbage", '{"pid": 1}', '{"pid": "x"}'])
def test_unreadable_pid_files_are_removed_without_signalling(tmp_path: Path, content: str) -> None:
    engine = LocalEngine(tmp_path / "state", env={})
    engine.engine_dir.mkdir(parents=True)
    engine.pid_path.write_text(content)
    result = engine.down()
    assert not result.stopped and result.pid is None
    assert not engine.pid_path.exists()


def test_dead_pid_is_reported_and_cleaned(tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    engine = LocalEngine(tmp_path / "state", env={})
    _write_pid(engine, process.pid, "1")
    result = engine.down()
    assert not result.stopped
    assert "was not running" in result.message
    assert not engine.pid_path.exists()


def test_status_does_not_claim_a_foreign_process(
    tmp_path: Path, bystander: subprocess.Popen[bytes], ports: EnginePorts
) -> None:
    engine = LocalEngine(tmp_path / "state", ports=ports, env={})
    _write_pid(engine, bystander.pid, process_start_time(bystander.pid))
    status = engine.status()
    assert status.pid == bystander.pid
    assert not status.pid_alive
    assert not status.healthy
