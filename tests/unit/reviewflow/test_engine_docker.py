"""The Docker engine cannot run here (no Docker daemon): check what it would run, and that a
missing Docker engine gives a clear error before anything is attempted."""

import subprocess
from collections.abc import Mapping

import pytest

from reviewflow.engine.docker import (
    DockerEngine,
    DockerUnavailableError,
    build_run_command,
    h2_environment,
)
from reviewflow.engine.local import EngineError, EnginePorts
from reviewflow.engine.versions import DOCKER_CAMUNDA_IMAGE

PORTS = EnginePorts(grpc=36500, rest=38080, management=39600, command=36501, internal=36502)


class FakeDocker:
    """Records docker CLI calls and answers from a script of (argv prefix -> result)."""

    def __init__(self, answers: dict[tuple[str, ...], tuple[int, str, str]]) -> None:
        self.answers = answers
        self.calls: list[tuple[list[str], Mapping[str, str] | None]] = []

    def __call__(
        self, command: list[str], env: Mapping[str, str] | None
    ) -> subprocess.CompletedProcess[str]:
        self.calls.append((command, env))
        for prefix, (code, out, err) in self.answers.items():
            if tuple(command[: len(prefix)]) == prefix:
                return subprocess.CompletedProcess(command, code, out, err)
        return subprocess.CompletedProcess(command, 1, "", "Error: No such object")

    def commands(self) -> list[list[str]]:
        return [command for command, _ in self.calls]


def _env_pairs(command: list[str]) -> list[str]:
    return [command[i + 1] for i, arg in enumerate(command) if arg == "--env"]


def test_run_command_pins_image_ports_storage_and_security() -> None:
    command = build_run_command(PORTS)

    assert command[:3] == ["docker", "run", "--detach"]
    assert command[-1] == DOCKER_CAMUNDA_IMAGE == "camunda/camunda:8.9.23"
    assert command[command.index("--name") + 1] == "reviewflow-camunda"
    assert "io.reviewflow.engine=camunda" in command
    publish = [command[i + 1] for i, arg in enumerate(command) if arg == "--publish"]
    assert publish == [
        "127.0.0.1:36500:26500",
        "127.0.0.1:38080:8080",
        "127.0.0.1:39600:9600",
    ]
    assert "reviewflow-camunda-data:/usr/local/camunda/data" in command
    env = _env_pairs(command)
    assert "CAMUNDA_DATA_SECONDARYSTORAGE_TYPE=rdbms" in env
    assert (
        "CAMUNDA_DATA_SECONDARYSTORAGE_RDBMS_URL=jdbc:h2:file:/usr/local/camunda/data/h2/h2db"
        in env
    )
    assert "CAMUNDA_SECURITY_AUTHENTICATION_UNPROTECTEDAPI=true" in env
    assert "CAMUNDA_SECURITY_AUTHORIZATIONS_ENABLED=false" in env
    assert len(env) == len(h2_environment()) + 1


def test_operate_password_never_appears_on_the_command_line() -> None:
    command = build_run_command(PORTS)
    env = _env_pairs(command)
    assert "CAMUNDA_SECURITY_INITIALIZATION_USERS_0_PASSWORD" in env  # name only
    assert not any("PASSWORD=" in pair for pair in env)


def test_no_docker_engine_is_a_clear_error_and_nothing_runs() -> None:
    docker = FakeDocker(
        {
            ("docker", "info"): (
                1,
                "",
                "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
                "Is the docker daemon running?",
            )
        }
    )
    engine = DockerEngine(PORTS, runner=docker, env={})

    with pytest.raises(DockerUnavailableError) as info:
        engine.up()

    message = str(info.value)
    assert "needs a running Docker engine, and none answers" in message
    assert "Cannot connect to the Docker daemon" in message
    assert "reviewflow engine up` without --docker" in message
    assert docker.commands() == [["docker", "info", "--format", "{{.ServerVersion}}"]]


def test_missing_docker_cli_is_the_same_clear_error() -> None:
    docker = FakeDocker({("docker", "info"): (127, "", "docker: command not found")})
    with pytest.raises(DockerUnavailableError, match="command not found"):
        DockerEngine(PORTS, runner=docker, env={}).check_docker()


def test_up_runs_the_container_with_the_password_in_the_environment(ports: EnginePorts) -> None:
    docker = FakeDocker(
        {
            ("docker", "info"): (0, "27.3.1\n", ""),
            ("docker", "run"): (0, "abc123\n", ""),
            # the container stops at once: up() must report it instead of waiting
        }
    )
    # free ports: nothing answers readiness, so up() must notice the stopped container
    engine = DockerEngine(
        ports, runner=docker, env={"REVIEWFLOW_OPERATE_PASSWORD": "s3cret"}, start_timeout=5
    )

    with pytest.raises(EngineError, match="container reviewflow-camunda stopped"):
        engine.up()

    (run_command, run_env) = next(c for c in docker.calls if c[0][:2] == ["docker", "run"])
    assert run_command == build_run_command(ports)
    assert run_env is not None
    assert run_env["CAMUNDA_SECURITY_INITIALIZATION_USERS_0_PASSWORD"] == "s3cret"
    assert "s3cret" not in " ".join(run_command)


def test_down_removes_only_a_labelled_container() -> None:
    foreign = FakeDocker(
        {
            ("docker", "info"): (0, "27.3.1", ""),
            ("docker", "inspect", "--format", "{{.Id}}"): (0, "abc", ""),
            ("docker", "inspect"): (0, "", ""),  # no label
        }
    )
    with pytest.raises(EngineError, match="not created by reviewflow"):
        DockerEngine(PORTS, runner=foreign, env={}).down()
    assert not any(c[:2] == ["docker", "rm"] for c in foreign.commands())

    ours = FakeDocker(
        {
            ("docker", "info"): (0, "27.3.1", ""),
            ("docker", "inspect", "--format", "{{.Id}}"): (0, "abc", ""),
            ("docker", "inspect"): (0, "camunda", ""),
            ("docker", "rm"): (0, "reviewflow-camunda", ""),
        }
    )
    assert DockerEngine(PORTS, runner=ours, env={}).down()
    assert ["docker", "rm", "--force", "reviewflow-camunda"] in ours.commands()
