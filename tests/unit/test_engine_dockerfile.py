"""engine/Dockerfile (no Docker engine needed): two stages, the module's jar, 0.0.0.0:8080 inside
the container, and no password baked in."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "engine" / "Dockerfile"


def _instructions() -> list[str]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def test_builds_with_maven_and_runs_on_a_jre() -> None:
    stages = [line for line in _instructions() if line.startswith("FROM ")]
    assert stages == ["FROM maven:3-eclipse-temurin-17 AS build", "FROM eclipse-temurin:17-jre"]
    assert any("mvn -B -q package -DskipTests" in line for line in _instructions())
    assert any(
        line.startswith("COPY --from=build /build/target/reviewflow-engine.jar")
        for line in _instructions()
    )
    assert (ROOT / "engine" / ".dockerignore").read_text().split() == ["target/"]


def test_binds_all_interfaces_inside_the_container_on_8080() -> None:
    lines = _instructions()
    env = " ".join(line for line in lines if line.startswith("ENV "))
    assert "REVIEWFLOW_ENGINE_BIND=0.0.0.0" in env
    assert "REVIEWFLOW_ENGINE_PORT=8080" in env
    assert "REVIEWFLOW_ENGINE_REST_AUTH=true" in env  # reachable beyond loopback: not open
    assert "EXPOSE 8080" in lines
    assert any(line.startswith("USER engine") for line in lines)


def test_no_password_is_baked_in() -> None:
    text = DOCKERFILE.read_text()
    for line in _instructions():
        if line.startswith(("ENV ", "ARG ", "LABEL ")):
            assert not re.search(r"PASSWORD|SECRET|TOKEN", line, re.IGNORECASE), line
    # the entrypoint refuses to start without one from the run-time environment
    assert 'if [ -z \\"${REVIEWFLOW_ENGINE_ADMIN_PASSWORD:-}\\" ]' in text
