"""`reviewflow engine ...` end to end on the fake distribution (no Java, no Zeebe)."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reviewflow.cli import app
from reviewflow.engine.local import PORT_ENV, EnginePorts, LocalEngine

runner = CliRunner()


@pytest.fixture
def cli_env(
    tmp_path: Path,
    fake_cache: Path,
    ports: EnginePorts,
    java_home: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[LocalEngine]:
    """Environment for the CLI: own state dir, fake distribution, free ports, fake Java 21."""
    for name in ("ZEEBE_ADDRESS", "ZEEBE_CLIENT_ID", "ZEEBE_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REVIEWFLOW_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("REVIEWFLOW_CACHE_DIR", str(fake_cache))
    monkeypatch.setenv(
        "REVIEWFLOW_JAVA_HOME", str(java_home(tmp_path, "jdk21", 'openjdk version "21.0.4"'))
    )
    monkeypatch.setenv("FAKE_BROKER_MODE", "ok")
    for field, port in ports.as_dict().items():
        monkeypatch.setenv(PORT_ENV[field], str(port))
    engine = LocalEngine()
    yield engine
    engine.down()


def test_up_status_logs_down(cli_env: LocalEngine, ports: EnginePorts) -> None:
    up = runner.invoke(app, ["engine", "up"])
    assert up.exit_code == 0, up.output
    assert "broker started" in up.output
    assert f"gRPC (pyzeebe): 127.0.0.1:{ports.grpc}" in up.output
    assert f"http://127.0.0.1:{ports.rest}/v2" in up.output
    assert f"http://127.0.0.1:{ports.management}/actuator/health" in up.output
    assert "Operate" in up.output and "Elasticsearch" in up.output
    assert "webhook connector" in up.output and "connector-runtime-bundle" in up.output

    again = runner.invoke(app, ["engine", "up"])
    assert again.exit_code == 0 and "already running, reused" in again.output

    status = runner.invoke(app, ["engine", "status"])
    assert status.exit_code == 0, status.output
    assert "engine is healthy" in status.output

    logs = runner.invoke(app, ["engine", "logs", "-n", "200"])
    assert logs.exit_code == 0 and "fake-broker ready" in logs.output

    down = runner.invoke(app, ["engine", "down"])
    assert down.exit_code == 0 and "stopped the engine" in down.output

    after = runner.invoke(app, ["engine", "status"])
    assert after.exit_code == 1
    assert "not healthy" in after.output


def test_status_fails_when_nothing_runs(cli_env: LocalEngine) -> None:
    result = runner.invoke(app, ["engine", "status"])
    assert result.exit_code == 1
    assert "process alive:  no" in result.output


def test_failed_start_exits_non_zero_with_the_log(
    cli_env: LocalEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_BROKER_MODE", "crash")
    result = runner.invoke(app, ["engine", "up"])
    assert result.exit_code == 1
    assert "exited with code 3" in result.output
    assert "FATAL something went wrong on purpose" in result.output


def test_external_cluster_starts_nothing(
    cli_env: LocalEngine, monkeypatch: pytest.MonkeyPatch, ports: EnginePorts
) -> None:
    monkeypatch.setenv("ZEEBE_ADDRESS", f"127.0.0.1:{ports.grpc}")  # nobody listens there
    result = runner.invoke(app, ["engine", "up"])
    assert result.exit_code == 1
    assert "external cluster" in result.output and "does not answer" in result.output
    assert not cli_env.pid_path.exists()


def test_docker_without_a_docker_engine(
    cli_env: LocalEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no docker CLI at all
    result = runner.invoke(app, ["engine", "up", "--docker"])
    assert result.exit_code == 1
    assert "needs a running Docker engine, and none answers" in result.output
