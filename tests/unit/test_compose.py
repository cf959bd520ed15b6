"""docker-compose.yml: the engine built from this repository, PostgreSQL, both worker kinds
(scalable) and the ingress; no Camunda 8 image; ports on 127.0.0.1; every image it builds has
a Dockerfile whose build steps exist here; and no literal secret anywhere."""

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
    assert set(compose["services"]) == {
        "postgres",
        "engine",
        "worker-light",
        "worker-heavy",
        "ingress",
    }


def test_no_camunda_8_image_or_broker_anywhere() -> None:
    text = COMPOSE.read_text().lower()
    for word in ("camunda/camunda", "zeebe", "connectors-bundle", "operate", "26500"):
        assert word not in text, word


def test_the_engine_is_built_from_this_repository_on_postgresql(compose: dict[str, Any]) -> None:
    engine = compose["services"]["engine"]
    assert engine["build"]["context"] == "./engine"
    env = _environment(engine)
    assert env["REVIEWFLOW_ENGINE_JDBC_URL"] == "jdbc:postgresql://postgres:5432/reviewflow"
    assert ENV_REFERENCE.match(env["REVIEWFLOW_ENGINE_ADMIN_PASSWORD"])
    assert engine["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_published_ports_are_loopback_only(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port}"


@pytest.mark.parametrize(("name", "group"), [("worker-light", "light"), ("worker-heavy", "heavy")])
def test_workers_are_built_here_scalable_and_share_artifacts(
    compose: dict[str, Any], name: str, group: str
) -> None:
    service = compose["services"][name]
    assert service["build"] == "."
    assert service["command"] == ["worker", group]
    # `docker compose up --scale` needs no fixed name and no published port
    assert "container_name" not in service and "ports" not in service
    env = _environment(service)
    assert env["REVIEWFLOW_ENGINE_URL"] == "http://engine:8080/engine-rest"
    artifacts = [v for v in service["volumes"] if v.startswith("artifacts:")]
    assert artifacts == ["artifacts:/var/lib/reviewflow/artifacts"]
    assert env["REVIEWFLOW_STATE_DIR"] + "/artifacts" == artifacts[0].split(":", 1)[1]
    assert service["depends_on"]["engine"]["condition"] == "service_healthy"


def test_the_ingress_serves_webhooks(compose: dict[str, Any]) -> None:
    ingress = compose["services"]["ingress"]
    assert ingress["command"][:2] == ["webhook", "serve"]
    assert ENV_REFERENCE.match(_environment(ingress)["SECRET_GITHUB_WEBHOOK_SECRET"])


def _build_dockerfiles(compose: dict[str, Any]) -> list[tuple[Path, Path]]:
    found = []
    for service in compose["services"].values():
        build = service.get("build")
        if build is None:
            continue
        context = ROOT / (build if isinstance(build, str) else build["context"])
        name = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        found.append((context.resolve(), (context / name).resolve()))
    return found


def test_every_built_image_has_a_dockerfile_whose_sources_exist(compose: dict[str, Any]) -> None:
    built = _build_dockerfiles(compose)
    assert {d.relative_to(ROOT).as_posix() for _, d in built} == {"Dockerfile", "engine/Dockerfile"}
    for context, dockerfile in built:
        assert dockerfile.is_file(), dockerfile
        for line in dockerfile.read_text().splitlines():
            words = line.split()
            if not words or words[0].upper() not in ("COPY", "ADD"):
                continue
            if any(w.startswith("--from") for w in words):
                continue  # from an earlier build stage
            for source in words[1:-1]:
                assert (context / source).exists(), f"{dockerfile}: {source} does not exist"


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
    assert SECRET_WORDS.search("REVIEWFLOW_ENGINE_ADMIN_PASSWORD")
    assert not ENV_REFERENCE.match("demo")
    assert ENV_REFERENCE.match("${POSTGRES_PASSWORD:?set it}")
    assert ENV_REFERENCE.match("${REVIEWFLOW_LLM_API_KEY:-}")
