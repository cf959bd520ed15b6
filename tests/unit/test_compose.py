"""docker-compose.yml: the four services, pinned images matching versions.py, the workers built
from this repository, and no literal secret anywhere."""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

DOCKER_CAMUNDA_IMAGE = "camunda/camunda:8.9.23"
DOCKER_CONNECTORS_IMAGE = "camunda/connectors-bundle:8.9.14"
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


def test_the_four_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"camunda", "connectors", "worker-light", "worker-heavy"}


def test_images_are_pinned_like_versions_py(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["camunda"]["image"] == DOCKER_CAMUNDA_IMAGE == "camunda/camunda:8.9.23"
    assert services["connectors"]["image"] == DOCKER_CONNECTORS_IMAGE
    assert DOCKER_CONNECTORS_IMAGE == "camunda/connectors-bundle:8.9.14"
    # only the minor version has to match between cluster and connectors
    minor = {
        s["image"].split(":")[1].rsplit(".", 1)[0]
        for s in (services["camunda"], services["connectors"])
    }
    assert minor == {"8.9"}


def test_camunda_uses_h2_and_an_unprotected_api(compose: dict[str, Any]) -> None:
    env = _environment(compose["services"]["camunda"])
    assert env["CAMUNDA_DATA_SECONDARYSTORAGE_TYPE"] == "rdbms"
    assert env["CAMUNDA_DATA_SECONDARYSTORAGE_RDBMS_URL"].startswith("jdbc:h2:file:/")
    assert env["CAMUNDA_SECURITY_AUTHENTICATION_UNPROTECTEDAPI"] == "true"
    assert env["CAMUNDA_SECURITY_AUTHORIZATIONS_ENABLED"] == "false"


def test_connectors_reach_camunda_without_auth(compose: dict[str, Any]) -> None:
    env = _environment(compose["services"]["connectors"])
    assert env["CAMUNDA_CLIENT_GRPCADDRESS"] == "http://camunda:26500"
    assert env["CAMUNDA_CLIENT_RESTADDRESS"] == "http://camunda:8080"
    assert env["CAMUNDA_CLIENT_AUTH_METHOD"] == "none"
    assert env["SERVER_PORT"] == "8085"


@pytest.mark.parametrize(("name", "group"), [("worker-light", "light"), ("worker-heavy", "heavy")])
def test_workers_are_built_here_and_share_artifacts(
    compose: dict[str, Any], name: str, group: str
) -> None:
    service = compose["services"][name]
    assert service["build"] == "."
    assert service["command"] == ["worker", group]
    env = _environment(service)
    assert env["ZEEBE_ADDRESS"] == "camunda:26500"
    artifacts = [v for v in service["volumes"] if v.startswith("artifacts:")]
    assert artifacts == ["artifacts:/var/lib/reviewflow/artifacts"]
    assert env["REVIEWFLOW_STATE_DIR"] + "/artifacts" == artifacts[0].split(":", 1)[1]
    assert service["depends_on"]["camunda"]["condition"] == "service_healthy"
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
