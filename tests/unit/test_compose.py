"""docker-compose.yml: the engine built from engine/, the workers built from this repository, no
Camunda 8 image, and no literal secret anywhere."""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
SECRET_WORDS = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY|APIKEY|CREDENTIAL", re.IGNORECASE)
# a value that only refers to the environment: ${NAME}, ${NAME:-}, ${NAME:?message}
ENV_REFERENCE = re.compile(r"^\$\{[A-Z][A-Z0-9_]*(:?[-?][^}]*)?\}$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def test_the_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"engine", "worker-light", "worker-heavy"}


def test_no_camunda_8_image() -> None:
    # the Zeebe broker, Operate and the 8.x connectors are not open source: never pulled
    assert "camunda/" not in COMPOSE.read_text()


def test_the_engine_is_built_here_and_bound_to_loopback(compose: dict[str, Any]) -> None:
    engine = compose["services"]["engine"]
    assert engine["build"] == "./engine"
    assert engine["ports"] == ["127.0.0.1:8080:8080"]
    env = _environment(engine)
    assert env["REVIEWFLOW_ENGINE_ADMIN_PASSWORD"].startswith(
        "${REVIEWFLOW_ENGINE_ADMIN_PASSWORD:?"
    )
    assert engine["volumes"] == ["engine-data:/var/lib/reviewflow-engine"]
    assert "engine-data" in compose["volumes"]


@pytest.mark.parametrize(("name", "group"), [("worker-light", "light"), ("worker-heavy", "heavy")])
def test_workers_are_built_here_and_share_artifacts(
    compose: dict[str, Any], name: str, group: str
) -> None:
    service = compose["services"][name]
    assert service["build"] == "."
    assert service["command"] == ["worker", group]
    env = _environment(service)
    assert env["REVIEWFLOW_ENGINE_URL"] == "http://engine:8080"
    artifacts = [v for v in service["volumes"] if v.startswith("artifacts:")]
    assert artifacts == ["artifacts:/var/lib/reviewflow/artifacts"]
    assert env["REVIEWFLOW_STATE_DIR"] + "/artifacts" == artifacts[0].split(":", 1)[1]
    assert service["depends_on"]["engine"]["condition"] == "service_healthy"
    assert "artifacts" in compose["volumes"]


def test_dockerfile_runs_the_cli() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "FROM python:3.11-slim" in dockerfile
    assert 'ENTRYPOINT ["reviewflow"]' in dockerfile
    assert "pip install" in dockerfile


def test_no_literal_secret(compose: dict[str, Any]) -> None:
    offenders = []
    for name, service in compose["services"].items():
        for key, value in _environment(service).items():
            if SECRET_WORDS.search(key) and value and not ENV_REFERENCE.match(value):
                offenders.append(f"{name}: {key}={value}")
    assert offenders == []
    # and nothing that looks like a real credential anywhere in the file
    text = COMPOSE.read_text()
    for pattern in (r"gh[pousr]_[A-Za-z0-9]{20,}", r"sk-[A-Za-z0-9]{20,}", r"-----BEGIN"):
        assert not re.search(pattern, text), pattern


def test_the_secret_check_catches_a_literal() -> None:
    # guards the guard: the regexes above must flag an inline value and accept references
    assert SECRET_WORDS.search("CAMUNDA_SECURITY_INITIALIZATION_USERS_0_PASSWORD")
    assert not ENV_REFERENCE.match("demo")
    assert ENV_REFERENCE.match("${CAMUNDA_DEMO_PASSWORD:?set it}")
    assert ENV_REFERENCE.match("${REVIEWFLOW_LLM_API_KEY:-}")
