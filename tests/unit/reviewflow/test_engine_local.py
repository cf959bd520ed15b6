"""LocalEngine without Java, Maven or Operaton: settings, the build hash, the admin password,
the lifecycle on a fake engine process, and pid safety."""

import json
import os
import re
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reviewflow.engine.java import JavaRuntime
from reviewflow.engine.local import (
    DEFAULT_MODULE_DIR,
    JAR_NAME,
    OPERATON_VERSION,
    EngineError,
    EngineStartError,
    LocalEngine,
    PidRecord,
    default_cache_dir,
    default_state_dir,
    module_hash,
    pid_alive,
    port_from_env,
    process_cmdline,
    process_start_time,
    redact_jdbc_url,
    tail_file,
)

MakeEngine = Callable[..., LocalEngine]
ANY_ADDRESS = "0.0.0.0"  # noqa: S104 (a setting under test, nothing binds here)

# --- settings, addresses, paths --------------------------------------------------------------


def test_default_dirs(tmp_path: Path) -> None:
    assert default_state_dir({"REVIEWFLOW_STATE_DIR": str(tmp_path)}) == tmp_path
    assert default_state_dir({}) == Path.home() / ".local" / "state" / "reviewflow"
    assert default_cache_dir({"REVIEWFLOW_CACHE_DIR": str(tmp_path)}) == tmp_path
    assert default_cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "reviewflow"
    assert default_cache_dir({}) == Path.home() / ".cache" / "reviewflow"


def test_port_from_env() -> None:
    assert port_from_env({}) == 8080
    assert port_from_env({"REVIEWFLOW_ENGINE_PORT": " 8093 "}) == 8093
    with pytest.raises(EngineError, match="REVIEWFLOW_ENGINE_PORT='http'"):
        port_from_env({"REVIEWFLOW_ENGINE_PORT": "http"})
    with pytest.raises(EngineError, match="REVIEWFLOW_ENGINE_PORT=70000"):
        port_from_env({"REVIEWFLOW_ENGINE_PORT": "70000"})


def test_addresses_and_paths_default_to_loopback(tmp_path: Path) -> None:
    engine = LocalEngine(env={"REVIEWFLOW_STATE_DIR": str(tmp_path / "s")})
    assert engine.host == "127.0.0.1" and engine.port == 8080
    assert engine.base_url == "http://127.0.0.1:8080"
    assert engine.rest_url == "http://127.0.0.1:8080/engine-rest"
    assert engine.cockpit_url == "http://127.0.0.1:8080/operaton/app/cockpit/default/"
    assert engine.admin_user == "admin"
    assert engine.engine_dir == tmp_path / "s" / "engine"
    assert engine.pid_path == tmp_path / "s" / "engine" / "engine.pid"
    assert engine.log_path == tmp_path / "s" / "engine" / "engine.log"
    assert engine.password_path == tmp_path / "s" / "engine" / "admin-password"
    assert engine.database() == f"H2 (file {tmp_path / 's' / 'engine' / 'h2' / 'operaton-h2'})"


def test_host_and_port_from_env(tmp_path: Path) -> None:
    env = {"REVIEWFLOW_ENGINE_HOST": ANY_ADDRESS, "REVIEWFLOW_ENGINE_PORT": "8093"}
    engine = LocalEngine(tmp_path, env=env)
    assert engine.host == ANY_ADDRESS
    # clients on this machine still go through loopback
    assert engine.rest_url == "http://127.0.0.1:8093/engine-rest"
    child = engine.engine_environment("pw")
    assert child["REVIEWFLOW_ENGINE_BIND"] == ANY_ADDRESS
    assert child["REVIEWFLOW_ENGINE_REST_AUTH"] == "true"


def test_rest_auth_is_on_exactly_when_bound_beyond_loopback_unless_set(tmp_path: Path) -> None:
    assert not LocalEngine(tmp_path, env={}).rest_auth
    assert LocalEngine(tmp_path, env={"REVIEWFLOW_ENGINE_HOST": ANY_ADDRESS}).rest_auth
    assert LocalEngine(tmp_path, env={"REVIEWFLOW_ENGINE_HOST": "10.1.2.3"}).rest_auth
    assert LocalEngine(tmp_path, env={"REVIEWFLOW_ENGINE_REST_AUTH": "true"}).rest_auth
    loose = LocalEngine(
        tmp_path, env={"REVIEWFLOW_ENGINE_HOST": ANY_ADDRESS, "REVIEWFLOW_ENGINE_REST_AUTH": "no"}
    )
    assert not loose.rest_auth
    assert loose.engine_environment("pw")["REVIEWFLOW_ENGINE_REST_AUTH"] == "false"
    with pytest.raises(EngineError, match="REVIEWFLOW_ENGINE_REST_AUTH='maybe'"):
        LocalEngine(tmp_path, env={"REVIEWFLOW_ENGINE_REST_AUTH": "maybe"})


def test_engine_environment(tmp_path: Path) -> None:
    engine = LocalEngine(tmp_path, port=8093, env={"PATH": "/usr/bin"})
    env = engine.engine_environment("s3cret")
    assert env["REVIEWFLOW_ENGINE_BIND"] == "127.0.0.1"
    assert env["REVIEWFLOW_ENGINE_PORT"] == "8093"
    assert env["REVIEWFLOW_ENGINE_STATE"] == str(tmp_path / "engine" / "h2")
    assert env["REVIEWFLOW_ENGINE_ADMIN_USER"] == "admin"
    assert env["REVIEWFLOW_ENGINE_ADMIN_PASSWORD"] == "s3cret"
    assert env["PATH"] == "/usr/bin"
    assert env["REVIEWFLOW_ENGINE_REST_AUTH"] == "false"
    assert "OPERATON_BPM_DATABASE_TYPE" not in env  # H2: detected by the engine


def test_postgresql_is_passed_through_and_described_without_passwords(tmp_path: Path) -> None:
    env = {
        "REVIEWFLOW_ENGINE_JDBC_URL": "jdbc:postgresql://db:5432/operaton?password=hunter2&ssl=1",
        "REVIEWFLOW_ENGINE_DB_USER": "operaton",
        "REVIEWFLOW_ENGINE_DB_PASSWORD": "hunter2",
    }
    engine = LocalEngine(tmp_path, env=env)
    described = engine.database()
    assert described == (
        "PostgreSQL jdbc:postgresql://db:5432/operaton?password=***&ssl=1 (user operaton)"
    )
    assert "hunter2" not in described
    child = engine.engine_environment("pw")
    assert child["REVIEWFLOW_ENGINE_JDBC_URL"] == env["REVIEWFLOW_ENGINE_JDBC_URL"]
    assert child["REVIEWFLOW_ENGINE_DB_PASSWORD"] == "hunter2"
    assert child["OPERATON_BPM_DATABASE_TYPE"] == "postgres"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("jdbc:h2:file:/x/db", "jdbc:h2:file:/x/db"),
        ("jdbc:postgresql://h/db?user=u&password=p", "jdbc:postgresql://h/db?user=u&password=***"),
        ("jdbc:postgresql://u:p@h/db", "jdbc:postgresql://***@h/db"),
        ("jdbc:x://h/db;PASSWORD=p;a=b", "jdbc:x://h/db;PASSWORD=***;a=b"),
    ],
)
def test_redact_jdbc_url(url: str, expected: str) -> None:
    assert redact_jdbc_url(url) == expected


def test_the_pinned_operaton_version_is_the_modules() -> None:
    pom = (DEFAULT_MODULE_DIR / "pom.xml").read_text()
    assert f"<operaton.version>{OPERATON_VERSION}</operaton.version>" in pom
    assert f"<finalName>{JAR_NAME.removesuffix('.jar')}</finalName>" in pom


def test_tail_file(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_text("".join(f"line {i}\n" for i in range(1000)))
    assert tail_file(log, 3) == "line 997\nline 998\nline 999"
    assert tail_file(tmp_path / "missing", 3) == ""


# --- the admin password ----------------------------------------------------------------------


def test_admin_password_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    engine = LocalEngine(tmp_path / "state", env={})
    assert engine.known_admin_password() is None
    old_umask = os.umask(0o000)  # even with a permissive umask
    try:
        password = engine.admin_password()
    finally:
        os.umask(old_umask)
    assert len(password) >= 20 and re.fullmatch(r"[A-Za-z0-9_-]+", password)
    assert stat.S_IMODE(engine.password_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(engine.engine_dir.stat().st_mode) == 0o700
    assert engine.password_path.read_text() == password + "\n"
    assert engine.admin_password() == password  # stable
    assert engine.known_admin_password() == password
    other = LocalEngine(tmp_path / "other", env={})
    assert other.admin_password() != password  # random per state dir


def test_a_readable_password_file_is_tightened(tmp_path: Path) -> None:
    engine = LocalEngine(tmp_path / "state", env={})
    engine.engine_dir.mkdir(parents=True)
    engine.password_path.write_text("mine\n")
    engine.password_path.chmod(0o644)
    assert engine.admin_password() == "mine"
    assert stat.S_IMODE(engine.password_path.stat().st_mode) == 0o600


def test_an_empty_password_file_is_an_error(tmp_path: Path) -> None:
    engine = LocalEngine(tmp_path / "state", env={})
    engine.engine_dir.mkdir(parents=True)
    engine.password_path.write_text("\n")
    with pytest.raises(EngineError, match="is empty"):
        engine.admin_password()


def test_no_new_password_for_an_existing_h2_database(tmp_path: Path) -> None:
    engine = LocalEngine(tmp_path / "state", env={})
    engine.h2_dir.mkdir(parents=True)
    (engine.h2_dir / "operaton-h2.mv.db").write_bytes(b"db")
    with pytest.raises(EngineError, match="admin user of an earlier start"):
        engine.admin_password()
    assert not engine.password_path.exists()
    with_override = LocalEngine(
        tmp_path / "state", env={"REVIEWFLOW_ENGINE_ADMIN_PASSWORD": "the-old-one"}
    )
    assert with_override.admin_password() == "the-old-one"


def test_the_password_env_overrides_without_writing_a_file(tmp_path: Path) -> None:
    engine = LocalEngine(tmp_path / "state", env={"REVIEWFLOW_ENGINE_ADMIN_PASSWORD": "pw"})
    assert engine.admin_password() == "pw"
    assert engine.known_admin_password() == "pw"
    assert not engine.password_path.exists()


# --- building the jar ------------------------------------------------------------------------


def test_module_hash_covers_pom_and_src(module: Path) -> None:
    first = module_hash(module)
    assert re.fullmatch(r"[0-9a-f]{16}", first)
    assert module_hash(module) == first
    (module / "target").mkdir()
    (module / "target" / "junk").write_text("x")  # build output does not count
    assert module_hash(module) == first
    config = module / "src" / "main" / "resources" / "application.yaml"
    config.write_text("server: {port: 1}\n")
    second = module_hash(module)
    assert second != first
    (module / "src" / "main" / "resources" / "extra.txt").write_text("")
    assert module_hash(module) not in (first, second)
    (module / "src" / "main" / "resources" / "extra.txt").unlink()
    assert module_hash(module) == second
    (module / "pom.xml").write_text("<project>v2</project>\n")
    assert module_hash(module) not in (first, second)


def test_module_hash_needs_a_pom(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match=r"pom\.xml missing"):
        module_hash(tmp_path)


def test_build_runs_maven_once_per_module_version(
    tmp_path: Path, module: Path, fake_mvn: Path, fake_java: JavaRuntime
) -> None:
    engine = LocalEngine(
        tmp_path / "state",
        cache_dir=tmp_path / "cache",
        module_dir=module,
        env=os.environ,
        java_finder=lambda: fake_java,
    )
    jar = engine.build()
    assert jar == tmp_path / "cache" / "engine" / module_hash(module) / JAR_NAME
    assert jar == engine.jar_path()
    assert jar.read_text() == "<project>v1</project>"
    calls = fake_mvn.read_text().splitlines()
    assert len(calls) == 1
    # built from a copy of the module, with the Java found (never in the module itself)
    assert " package -DskipTests" in calls[0] and "-B" in calls[0]
    assert f"JAVA_HOME={fake_java.home}" in calls[0]
    assert str(module) not in calls[0]
    assert not (module / "target").exists()
    assert (jar.parent / "build.log").is_file()

    assert engine.build() == jar  # cached
    assert len(fake_mvn.read_text().splitlines()) == 1

    (module / "pom.xml").write_text("<project>v2</project>\n")
    rebuilt = engine.build()
    assert rebuilt != jar and rebuilt.read_text() == "<project>v2</project>"
    assert len(fake_mvn.read_text().splitlines()) == 2
    assert jar.is_file()  # the older build stays (switching back is free)

    engine.build(force=True)
    assert len(fake_mvn.read_text().splitlines()) == 3


def test_only_the_newest_builds_are_kept(
    tmp_path: Path,
    module: Path,
    fake_mvn: Path,
    fake_java: JavaRuntime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from reviewflow.engine import local as local_module

    monkeypatch.setattr(local_module, "KEEP_BUILDS", 2)
    engine = LocalEngine(
        tmp_path / "state",
        cache_dir=tmp_path / "cache",
        module_dir=module,
        env=os.environ,
        java_finder=lambda: fake_java,
    )
    jars = []
    for version in range(3):
        (module / "pom.xml").write_text(f"<project>v{version}</project>\n")
        jars.append(engine.build())
        os.utime(jars[-1], (1000 + version, 1000 + version))  # distinct build times
    assert [jar.is_file() for jar in jars] == [False, True, True]
    assert (tmp_path / "cache" / "engine" / ".build.lock").is_file()  # not a build: kept


def test_a_failed_build_says_why_and_leaves_no_jar(
    tmp_path: Path,
    module: Path,
    fake_mvn: Path,
    fake_java: JavaRuntime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_MVN_FAIL", "1")
    engine = LocalEngine(
        tmp_path / "state",
        cache_dir=tmp_path / "cache",
        module_dir=module,
        env=os.environ,
        java_finder=lambda: fake_java,
    )
    with pytest.raises(EngineError, match="exit 1") as info:
        engine.build()
    assert "COMPILATION ERROR on purpose" in str(info.value)
    assert not engine.jar_path().exists()
    leftovers = [p.name for p in (tmp_path / "cache" / "engine").iterdir()]
    assert not any(name.startswith(".build-") for name in leftovers)


def test_no_maven_is_a_clear_error(tmp_path: Path, module: Path, fake_java: JavaRuntime) -> None:
    engine = LocalEngine(
        tmp_path / "state",
        cache_dir=tmp_path / "cache",
        module_dir=module,
        env={"PATH": str(tmp_path / "empty")},
        java_finder=lambda: fake_java,
    )
    with pytest.raises(EngineError, match=r"Maven \('mvn'\) is needed.*REVIEWFLOW_ENGINE_JAR"):
        engine.build()


def test_a_prebuilt_jar_skips_maven(tmp_path: Path, module: Path) -> None:
    jar = tmp_path / "prebuilt.jar"
    jar.write_text("jar")
    engine = LocalEngine(
        tmp_path / "state",
        module_dir=module,
        env={"PATH": str(tmp_path / "empty"), "REVIEWFLOW_ENGINE_JAR": str(jar)},
    )
    assert engine.build() == jar
    missing = LocalEngine(
        tmp_path / "state", env={"REVIEWFLOW_ENGINE_JAR": str(tmp_path / "nope.jar")}
    )
    with pytest.raises(EngineError, match=r"REVIEWFLOW_ENGINE_JAR=.* is not a file"):
        missing.build()


# --- the lifecycle on the fake engine --------------------------------------------------------


def test_up_status_reuse_down(make_engine: MakeEngine, fake_mvn: Path) -> None:
    engine = make_engine()

    first = engine.up()
    assert first.started
    status = first.status
    assert status.healthy and status.process_alive and status.rest_ready
    assert status.rest_url == engine.rest_url and status.cockpit_url == engine.cockpit_url
    assert status.database.startswith("H2 (file ")
    assert not status.exposed
    record = PidRecord.from_text(engine.pid_path.read_text())
    assert record is not None and record.pid == status.pid
    assert record.start_time == process_start_time(record.pid)
    assert record.jar == str(engine.jar_path()) and record.port == engine.port
    # what the engine was given: bind, port, H2 dir, admin password in the environment only
    log = engine.logs(50)
    assert "fake-engine env REVIEWFLOW_ENGINE_BIND=127.0.0.1" in log
    assert f"fake-engine env REVIEWFLOW_ENGINE_PORT={engine.port}" in log
    assert f"fake-engine env REVIEWFLOW_ENGINE_STATE={engine.h2_dir}" in log
    password = engine.admin_password()
    assert f"fake-engine admin password length {len(password)}" in log
    assert password not in log
    cmdline = process_cmdline(record.pid)
    assert password not in cmdline
    assert cmdline.endswith(f"-Xms256m -Xmx1g -jar {engine.jar_path()}")
    assert stat.S_IMODE(engine.password_path.stat().st_mode) == 0o600
    # detached from our session
    assert os.getsid(record.pid) == record.pid

    second = engine.up()
    assert not second.started
    assert second.status.pid == status.pid
    assert len(fake_mvn.read_text().splitlines()) == 1  # built once

    down = engine.down()
    assert down.stopped and down.pid == status.pid
    assert not pid_alive(status.pid)
    assert not engine.pid_path.exists()
    after = engine.status()
    assert not after.healthy and not after.process_alive and not after.rest_ready
    assert engine.down().message == "no engine was started from this state dir"

    again = engine.up()  # a restart keeps the password and the built jar
    assert again.started and engine.admin_password() == password
    assert len(fake_mvn.read_text().splitlines()) == 1


def test_concurrent_ups_start_one_engine(make_engine: MakeEngine, fake_mvn: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    engines = [make_engine(), make_engine()]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda e: e.up(), engines))
    assert sorted(r.started for r in results) == [False, True]
    assert results[0].status.pid == results[1].status.pid
    assert len(fake_mvn.read_text().splitlines()) == 1


def test_java_opts_come_from_the_env(
    make_engine: MakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REVIEWFLOW_ENGINE_JAVA_OPTS", "-Xmx512m -Dx='a b'")
    engine = make_engine()
    pid = engine.up().status.pid
    assert pid is not None
    assert "fake-engine argv ['-Xmx512m', '-Dx=a b', '-jar'," in engine.logs(20)


def test_up_on_another_port_than_the_running_engine_is_refused(
    make_engine: MakeEngine, tmp_path: Path
) -> None:
    engine = make_engine()
    engine.up()
    moved = make_engine(port=engine.port + 1 if engine.port < 65535 else engine.port - 1)
    with pytest.raises(EngineError, match=f"already runs on port {engine.port}"):
        moved.up()


def test_an_engine_that_exits_fails_with_the_log_tail(make_engine: MakeEngine) -> None:
    engine = make_engine("crash")
    with pytest.raises(EngineStartError) as info:
        engine.up()
    assert "exited with code 3" in str(info.value)
    assert "APPLICATION FAILED TO START on purpose" in info.value.log_tail
    assert not engine.pid_path.exists()


def test_an_engine_that_never_gets_ready_is_stopped(make_engine: MakeEngine) -> None:
    engine = make_engine("hang")
    started = time.monotonic()
    with pytest.raises(EngineStartError, match="not ready after 2 s") as info:
        engine.up(timeout=1.5)
    assert time.monotonic() - started < 15
    assert "fake-engine env REVIEWFLOW_ENGINE_PORT" in info.value.log_tail
    assert not engine.pid_path.exists()
    pid = int(info.value.reason.split("(pid ")[1].split(")")[0])
    assert not pid_alive(pid)


def test_down_escalates_to_sigkill(make_engine: MakeEngine) -> None:
    engine = make_engine("stubborn", stop_timeout=1.0)
    pid = engine.up().status.pid
    assert pid is not None
    started = time.monotonic()
    assert engine.down().stopped
    assert 1.0 <= time.monotonic() - started < 10
    assert not pid_alive(pid)


def test_up_refuses_a_port_held_by_someone_else(make_engine: MakeEngine, port: int) -> None:
    engine = make_engine()
    with socket.socket() as other:
        other.bind(("127.0.0.1", port))
        other.listen()
        with pytest.raises(EngineError, match="REVIEWFLOW_ENGINE_PORT"):
            engine.up()
    assert not engine.pid_path.exists()
    assert not engine.log_path.exists(), "nothing may be spawned"


def test_missing_java_is_reported_before_anything_starts(make_engine: MakeEngine) -> None:
    from reviewflow.engine.java import JavaNotFoundError

    def no_java() -> JavaRuntime:
        raise JavaNotFoundError("needs Java 17 or newer")

    engine = make_engine(java_finder=no_java)
    with pytest.raises(JavaNotFoundError, match="Java 17"):
        engine.up()
    assert not engine.pid_path.exists()


# --- pid safety: down() only ever signals the engine it started ------------------------------


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    """An unrelated process that must survive."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield process
    process.kill()
    process.wait()


def _write_pid(engine: LocalEngine, pid: int, start_time: str | None, jar: str = "") -> None:
    engine.engine_dir.mkdir(parents=True, exist_ok=True)
    engine.pid_path.write_text(
        json.dumps({"pid": pid, "start_time": start_time, "started_at": "x", "jar": jar})
    )


def test_down_leaves_an_unrelated_process_alone(
    tmp_path: Path, bystander: subprocess.Popen[bytes]
) -> None:
    engine = LocalEngine(tmp_path / "state", env={})
    # even with the right start time: it is not the engine's jar
    _write_pid(engine, bystander.pid, process_start_time(bystander.pid), jar="/x/" + JAR_NAME)

    result = engine.down()

    assert not result.stopped
    assert "left it alone" in result.message
    time.sleep(0.2)
    assert bystander.poll() is None, "the unrelated process was signalled"
    assert not engine.pid_path.exists()


def test_down_leaves_a_reused_pid_alone(tmp_path: Path) -> None:
    # looks like our engine, but started at another time than the recorded one (pid reuse)
    jar = f"/cache/engine/abc/{JAR_NAME}"
    lookalike = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", "-jar", jar]
    )
    try:
        engine = LocalEngine(tmp_path / "state", env={})
        assert engine.owns_process(
            PidRecord(lookalike.pid, process_start_time(lookalike.pid), "x", jar=jar)
        ), "sanity: with the right start time it would count as ours"
        _write_pid(engine, lookalike.pid, "12345", jar=jar)

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
    tmp_path: Path, bystander: subprocess.Popen[bytes], port: int
) -> None:
    engine = LocalEngine(tmp_path / "state", port=port, env={})
    _write_pid(engine, bystander.pid, process_start_time(bystander.pid), jar="/x/" + JAR_NAME)
    status = engine.status()
    assert status.pid == bystander.pid
    assert not status.process_alive
    assert not status.healthy


def test_down_also_stops_a_zeebe_broker_an_older_reviewflow_started(tmp_path: Path) -> None:
    broker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; time.sleep(120)",
            "io.camunda.application.StandaloneBroker",
        ],
        start_new_session=True,
    )
    try:
        engine = LocalEngine(tmp_path / "state", env={}, stop_timeout=5.0)
        engine.engine_dir.mkdir(parents=True)
        legacy = engine.engine_dir / "broker.pid"
        legacy.write_text(
            json.dumps({"pid": broker.pid, "start_time": process_start_time(broker.pid)})
        )
        assert engine.legacy_broker() is not None
        result = engine.down()
        assert result.stopped
        assert f"older reviewflow had started (pid {broker.pid})" in result.message
        assert broker.wait(timeout=10) is not None
        assert not legacy.exists()
    finally:
        broker.kill()
        broker.wait()


def test_a_stale_legacy_pid_file_signals_nothing(
    tmp_path: Path, bystander: subprocess.Popen[bytes]
) -> None:
    engine = LocalEngine(tmp_path / "state", env={})
    engine.engine_dir.mkdir(parents=True)
    (engine.engine_dir / "broker.pid").write_text(
        json.dumps({"pid": bystander.pid, "start_time": process_start_time(bystander.pid)})
    )
    assert engine.legacy_broker() is None  # not a broker
    assert engine.down().message == "no engine was started from this state dir"
    time.sleep(0.2)
    assert bystander.poll() is None
    assert not (engine.engine_dir / "broker.pid").exists()


def test_a_jar_a_running_engine_uses_is_never_pruned(
    tmp_path: Path,
    module: Path,
    fake_mvn: Path,
    fake_java: JavaRuntime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from reviewflow.engine import local as local_module

    monkeypatch.setattr(local_module, "KEEP_BUILDS", 1)
    engine = LocalEngine(
        tmp_path / "state",
        cache_dir=tmp_path / "cache",
        module_dir=module,
        env=os.environ,
        java_finder=lambda: fake_java,
    )
    (module / "pom.xml").write_text("<project>old</project>\n")
    old = engine.build()
    os.utime(old, (1000, 1000))
    # another checkout's engine runs from the old jar
    monkeypatch.setattr(local_module, "jars_in_use", lambda: {str(old)})
    (module / "pom.xml").write_text("<project>new</project>\n")
    new = engine.build()
    assert old.is_file() and new.is_file()


def test_jars_in_use_reads_the_command_lines(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    (proc / "12").mkdir(parents=True)
    (proc / "12" / "cmdline").write_bytes(b"java\0-Xmx1g\0-jar\0/cache/a/reviewflow-engine.jar\0")
    (proc / "13").mkdir()
    (proc / "13" / "cmdline").write_bytes(b"python\0x.py\0")
    from reviewflow.engine.local import jars_in_use

    assert jars_in_use(proc) == {"/cache/a/reviewflow-engine.jar"}
