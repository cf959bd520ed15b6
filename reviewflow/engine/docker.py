"""Camunda 8.9 in Docker (``reviewflow engine up --docker``), for users with a Docker engine.

Runs the official ``camunda/camunda`` image (Zeebe + Operate + Tasklist + REST v2) with H2 as
secondary storage, so Operate works without Elasticsearch. Only the cluster: the connectors
runtime (webhook ingress) comes with ``docker compose up`` (see ``docker-compose.yml``).

Everything goes through the ``docker`` CLI with argument lists. The container carries a label
and ``down()`` removes only a container that has it. The Operate password is passed to the
``docker`` process in its environment (``-e NAME`` without a value), never on the command line.
"""

import os
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from reviewflow.engine.endpoints import EngineEndpoints
from reviewflow.engine.local import EngineError, EnginePorts, port_open
from reviewflow.engine.versions import DOCKER_CAMUNDA_IMAGE

CONTAINER_NAME = "reviewflow-camunda"
LABEL_KEY = "io.reviewflow.engine"
LABEL_VALUE = "camunda"
DATA_VOLUME = "reviewflow-camunda-data"
CONTAINER_DATA_DIR = "/usr/local/camunda/data"
PASSWORD_ENV = "REVIEWFLOW_OPERATE_PASSWORD"  # noqa: S105 (a variable name)
DEFAULT_OPERATE_USER = "demo"
# Operate login of a local, 127.0.0.1-only dev container; override with REVIEWFLOW_OPERATE_PASSWORD
DEFAULT_OPERATE_PASSWORD = "demo"  # noqa: S105
_PASSWORD_VAR = "CAMUNDA_SECURITY_INITIALIZATION_USERS_0_PASSWORD"  # noqa: S105 (a name)

Runner = Callable[[list[str], Mapping[str, str] | None], "subprocess.CompletedProcess[str]"]


class DockerUnavailableError(EngineError):
    """``--docker`` was asked for but no Docker engine answers."""


def run_docker(
    command: list[str], env: Mapping[str, str] | None = None
) -> "subprocess.CompletedProcess[str]":
    try:
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            env=dict(env) if env is not None else None,
        )
    except FileNotFoundError:
        return subprocess.CompletedProcess(command, 127, "", "docker: command not found")
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(command, 124, "", f"timed out: {' '.join(command)}")


def h2_environment() -> dict[str, str]:
    """Spring settings (as environment variables) for one node with H2 secondary storage and an
    unprotected API (pyzeebe speaks plain gRPC without Basic auth). Mirrors Camunda's published
    ``application-h2.yaml`` for 8.9. The Operate password is not here (see ``build_run_command``).
    """
    return {
        "CAMUNDA_DATA_PRIMARYSTORAGE_DIRECTORY": CONTAINER_DATA_DIR,
        "CAMUNDA_DATA_SECONDARYSTORAGE_TYPE": "rdbms",
        "CAMUNDA_DATA_SECONDARYSTORAGE_RDBMS_URL": f"jdbc:h2:file:{CONTAINER_DATA_DIR}/h2/h2db",
        "CAMUNDA_DATA_SECONDARYSTORAGE_RDBMS_USERNAME": "sa",
        "CAMUNDA_DATA_SECONDARYSTORAGE_RDBMS_FLUSHINTERVAL": "PT0.5S",
        "CAMUNDA_DATA_SECONDARYSTORAGE_RDBMS_QUEUESIZE": "1000",
        "CAMUNDA_SECURITY_AUTHENTICATION_METHOD": "basic",
        "CAMUNDA_SECURITY_AUTHENTICATION_UNPROTECTEDAPI": "true",
        "CAMUNDA_SECURITY_AUTHORIZATIONS_ENABLED": "false",
        "CAMUNDA_SECURITY_INITIALIZATION_USERS_0_USERNAME": DEFAULT_OPERATE_USER,
        "CAMUNDA_SECURITY_INITIALIZATION_USERS_0_NAME": "Demo",
        "CAMUNDA_SECURITY_INITIALIZATION_USERS_0_EMAIL": "demo@example.com",
        "CAMUNDA_SECURITY_INITIALIZATION_DEFAULTROLES_ADMIN_USERS_0": DEFAULT_OPERATE_USER,
        "CAMUNDA_SYSTEM_CPUTHREADCOUNT": "2",
        "CAMUNDA_SYSTEM_IOTHREADCOUNT": "2",
        "CAMUNDA_BACKUP_WEBAPPS_ENABLED": "false",
        "JAVA_OPTS": "-Xms512m -Xmx1g",
    }


def build_run_command(
    ports: EnginePorts,
    *,
    name: str = CONTAINER_NAME,
    image: str = DOCKER_CAMUNDA_IMAGE,
    volume: str = DATA_VOLUME,
    bind_host: str = "127.0.0.1",
) -> list[str]:
    command = [
        "docker",
        "run",
        "--detach",
        "--name",
        name,
        "--label",
        f"{LABEL_KEY}={LABEL_VALUE}",
        "--publish",
        f"{bind_host}:{ports.grpc}:26500",
        "--publish",
        f"{bind_host}:{ports.rest}:8080",
        "--publish",
        f"{bind_host}:{ports.management}:9600",
        "--volume",
        f"{volume}:{CONTAINER_DATA_DIR}",
    ]
    for key, value in h2_environment().items():
        command += ["--env", f"{key}={value}"]
    # value taken from the docker CLI's own environment: not visible in `ps`
    command += ["--env", _PASSWORD_VAR, image]
    return command


@dataclass(frozen=True)
class DockerStatus:
    container: str
    running: bool
    ready: bool
    grpc_open: bool
    grpc_address: str
    rest_url: str
    management_url: str

    @property
    def healthy(self) -> bool:
        return self.running and self.ready and self.grpc_open


class DockerEngine(EngineEndpoints):
    ports: EnginePorts

    def __init__(
        self,
        ports: EnginePorts | None = None,
        *,
        runner: Runner = run_docker,
        env: Mapping[str, str] | None = None,
        name: str = CONTAINER_NAME,
        image: str = DOCKER_CAMUNDA_IMAGE,
        host: str = "127.0.0.1",
        start_timeout: float = 300.0,
    ) -> None:
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.ports = ports or EnginePorts.from_env(self.env)
        self.runner = runner
        self.name = name
        self.image = image
        self.host = host
        self.start_timeout = start_timeout

    def check_docker(self) -> str:
        """The Docker server version, or ``DockerUnavailableError``."""
        result = self.runner(["docker", "info", "--format", "{{.ServerVersion}}"], None)
        version = result.stdout.strip()
        if result.returncode != 0 or not version:
            detail = (result.stderr or result.stdout).strip().splitlines()
            reason = detail[-1] if detail else f"exit code {result.returncode}"
            raise DockerUnavailableError(
                "--docker needs a running Docker engine, and none answers "
                f"(`docker info` failed: {reason}). Start Docker, or run `reviewflow engine up` "
                "without --docker (the local Java broker), or point ZEEBE_ADDRESS at a cluster."
            )
        return version

    def _inspect(self, template: str) -> str | None:
        result = self.runner(["docker", "inspect", "--format", template, self.name], None)
        return result.stdout.strip() if result.returncode == 0 else None

    def _ours(self) -> bool:
        label = self._inspect(f'{{{{index .Config.Labels "{LABEL_KEY}"}}}}')
        return label == LABEL_VALUE

    def _running(self) -> bool:
        return self._inspect("{{.State.Running}}") == "true"

    def up(self) -> DockerStatus:
        self.check_docker()
        exists = self._inspect("{{.Id}}") is not None
        if exists and not self._ours():
            raise EngineError(
                f"a container named {self.name} exists but was not created by reviewflow "
                f"(no {LABEL_KEY} label); remove or rename it"
            )
        if exists and not self._running():
            self._check(self.runner(["docker", "start", self.name], None), "docker start")
        elif not exists:
            env = dict(self.env)
            env.setdefault(_PASSWORD_VAR, self.env.get(PASSWORD_ENV, DEFAULT_OPERATE_PASSWORD))
            command = build_run_command(self.ports, name=self.name, image=self.image)
            self._check(self.runner(command, env), "docker run")
        deadline = time.monotonic() + self.start_timeout
        while not self._ready():
            if not self._running():
                raise EngineError(f"container {self.name} stopped:\n{self.logs(40)}")
            if time.monotonic() >= deadline:
                raise EngineError(
                    f"container {self.name} not ready after {self.start_timeout:.0f} s:\n"
                    f"{self.logs(40)}"
                )
            time.sleep(1.0)
        return self.status()

    def _check(self, result: "subprocess.CompletedProcess[str]", what: str) -> None:
        if result.returncode != 0:
            raise EngineError(f"{what} failed: {(result.stderr or result.stdout).strip()}")

    def down(self) -> bool:
        self.check_docker()
        if self._inspect("{{.Id}}") is None:
            return False
        if not self._ours():
            raise EngineError(f"container {self.name} was not created by reviewflow; left alone")
        self._check(self.runner(["docker", "rm", "--force", self.name], None), "docker rm")
        return True

    def status(self) -> DockerStatus:
        return DockerStatus(
            container=self.name,
            running=self._running(),
            ready=self._ready(),
            grpc_open=port_open(self.host, self.ports.grpc),
            grpc_address=self.grpc_address,
            rest_url=self.rest_url,
            management_url=self.management_url,
        )

    def logs(self, lines: int = 100) -> str:
        result = self.runner(["docker", "logs", "--tail", str(lines), self.name], None)
        return (result.stdout + result.stderr).strip()
