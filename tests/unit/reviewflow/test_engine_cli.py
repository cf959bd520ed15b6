"""`reviewflow engine ...` end to end on the fake mvn and the fake engine (no Java, no Maven)."""

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from reviewflow.cli import app
from reviewflow.commands import engine as engine_command
from reviewflow.engine import local as local_module
from reviewflow.engine.local import JAR_NAME, LocalEngine
from reviewflow.engine.operaton import OperatonEngine

runner = CliRunner()


@pytest.fixture
def cli_env(
    tmp_path: Path,
    port: int,
    module: Path,
    fake_mvn: Path,
    java_home: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[LocalEngine]:
    """Environment for the CLI: own state and cache dirs, a fake module, mvn and Java 17."""
    for name in list(os.environ):
        if name.startswith("REVIEWFLOW_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(local_module, "DEFAULT_MODULE_DIR", module)
    monkeypatch.setenv("REVIEWFLOW_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("REVIEWFLOW_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("REVIEWFLOW_ENGINE_PORT", str(port))
    monkeypatch.setenv(
        "REVIEWFLOW_JAVA_HOME", str(java_home(tmp_path, "jdk17", 'openjdk version "17.0.15"'))
    )
    monkeypatch.setenv("FAKE_ENGINE_MODE", "ok")
    engine = LocalEngine()
    yield engine
    engine.down()


def test_build_up_status_logs_down(cli_env: LocalEngine, port: int, fake_mvn: Path) -> None:
    built = runner.invoke(app, ["engine", "build"])
    assert built.exit_code == 0, built.output
    assert f"engine jar: {cli_env.jar_path()}" in built.output
    assert cli_env.jar_path().name == JAR_NAME

    up = runner.invoke(app, ["engine", "up"])
    assert up.exit_code == 0, up.output
    assert "Operaton 1.0.3 engine started" in up.output
    assert f"REST API:  yes http://127.0.0.1:{port}/engine-rest" in up.output
    assert "no authentication: bound to 127.0.0.1 only" in up.output
    assert f"Cockpit:   http://127.0.0.1:{port}/operaton/app/cockpit/default/" in up.output
    assert "user:      admin" in up.output
    password = cli_env.admin_password()
    assert f"password:  {password}  (stored in {cli_env.password_path})" in up.output
    assert "database:  H2 (file " in up.output
    assert len(fake_mvn.read_text().splitlines()) == 1  # build reused by up

    again = runner.invoke(app, ["engine", "up"])
    assert again.exit_code == 0 and "already running, reused" in again.output

    status = runner.invoke(app, ["engine", "status"])
    assert status.exit_code == 0, status.output
    assert "engine is healthy" in status.output
    assert re.search(r"process:   yes \(pid \d+\)", status.output)
    assert f"password:  {password}" in status.output

    logs = runner.invoke(app, ["engine", "logs", "-n", "200"])
    assert logs.exit_code == 0 and "fake-engine ready" in logs.output
    assert password not in logs.output

    down = runner.invoke(app, ["engine", "down"])
    assert down.exit_code == 0 and "stopped the engine" in down.output

    after = runner.invoke(app, ["engine", "status"])
    assert after.exit_code == 1
    assert "not healthy" in after.output


def test_status_notes_a_running_engine_built_from_older_sources(
    cli_env: LocalEngine, module: Path
) -> None:
    assert runner.invoke(app, ["engine", "up"]).exit_code == 0
    fresh = runner.invoke(app, ["engine", "status"])
    assert "older build" not in fresh.output
    (module / "pom.xml").write_text("<project>v2</project>\n")
    changed = runner.invoke(app, ["engine", "status"])
    assert changed.exit_code == 0
    assert "the engine runs an older build of engine/" in changed.output


def test_status_when_nothing_ever_ran(cli_env: LocalEngine) -> None:
    result = runner.invoke(app, ["engine", "status"])
    assert result.exit_code == 1
    assert "process:   no (pid -)" in result.output
    assert "generated on the first `reviewflow engine up`" in result.output
    assert not cli_env.password_path.exists()  # status never creates one


def test_status_when_bound_wider(cli_env: LocalEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWFLOW_ENGINE_HOST", "0.0.0.0")  # noqa: S104 (only a setting)
    protected = runner.invoke(app, ["engine", "status"])
    assert "(HTTP Basic authentication with engine users, e.g. admin" in protected.output
    assert "warning" not in protected.output
    monkeypatch.setenv("REVIEWFLOW_ENGINE_REST_AUTH", "false")
    result = runner.invoke(app, ["engine", "status"])
    assert "warning: bound to 0.0.0.0" in result.output
    assert "without authentication (REVIEWFLOW_ENGINE_REST_AUTH=false)" in result.output


def test_status_names_the_database_without_its_password(
    cli_env: LocalEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REVIEWFLOW_ENGINE_JDBC_URL", "jdbc:postgresql://db/operaton")
    monkeypatch.setenv("REVIEWFLOW_ENGINE_DB_USER", "op")
    monkeypatch.setenv("REVIEWFLOW_ENGINE_DB_PASSWORD", "hunter2")
    result = runner.invoke(app, ["engine", "status"])
    assert "database:  PostgreSQL jdbc:postgresql://db/operaton (user op)" in result.output
    assert "hunter2" not in result.output


def test_failed_start_exits_non_zero_with_the_log(
    cli_env: LocalEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_ENGINE_MODE", "crash")
    result = runner.invoke(app, ["engine", "up"])
    assert result.exit_code == 1
    assert "exited with code 3" in result.output
    assert "APPLICATION FAILED TO START on purpose" in result.output


def test_missing_maven_is_reported(
    cli_env: LocalEngine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    result = runner.invoke(app, ["engine", "up"])
    assert result.exit_code == 1
    assert "Maven ('mvn') is needed to build the engine" in result.output
    assert not cli_env.pid_path.exists()


def test_incidents_are_listed_and_retried_through_the_rest_api(
    cli_env: LocalEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = [
        {
            "id": "inc-1",
            "incidentType": "failedExternalTask",
            "incidentMessage": "boom: broken on purpose",
            "processInstanceId": "pi-1",
            "activityId": "Task_LoadFeedback",
            "configuration": "ext-1",
            "incidentTimestamp": "2026-11-30T06:40:12.345+0000",
        }
    ]
    seen: list[tuple[str, str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path, request.headers.get("authorization")))
        if request.method == "GET":
            return httpx.Response(200, json=answer)
        return httpx.Response(204)

    def engine_with_transport(rest_url: str, **kwargs: Any) -> OperatonEngine:
        return OperatonEngine(rest_url, transport=httpx.MockTransport(handler), **kwargs)

    monkeypatch.setattr(engine_command, "OperatonEngine", engine_with_transport)
    result = runner.invoke(app, ["engine", "incidents"])
    assert result.exit_code == 0, result.output
    rest_path = httpx.URL(cli_env.rest_url).path
    assert seen == [("GET", f"{rest_path}/incident", None)]  # loopback: no REST authentication
    assert "incident inc-1  2026-11-30T06:40:12.345+0000  instance pi-1" in result.output
    assert "failedExternalTask: boom: broken on purpose" in result.output
    assert "external task: ext-1" in result.output
    assert "--retry INCIDENT" in result.output

    result = runner.invoke(app, ["engine", "incidents", "--retry", "inc-1", "--retries", "2"])
    assert result.exit_code == 0, result.output
    assert seen[-1][:2] == ("PUT", f"{rest_path}/external-task/ext-1/retries")
    unknown = runner.invoke(app, ["engine", "incidents", "--retry", "inc-9"])
    assert unknown.exit_code == 1 and "no open incident 'inc-9'" in unknown.output

    monkeypatch.setenv("REVIEWFLOW_ENGINE_REST_AUTH", "true")
    monkeypatch.setenv("REVIEWFLOW_ENGINE_ADMIN_PASSWORD", "pw")
    assert runner.invoke(app, ["engine", "incidents"]).exit_code == 0
    assert str(seen[-1][2]).startswith("Basic ")


def test_incidents_without_an_engine(cli_env: LocalEngine) -> None:
    result = runner.invoke(app, ["engine", "incidents"])
    assert result.exit_code == 1
    assert "did not answer" in result.output
