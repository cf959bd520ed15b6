"""LocalEngine without Java or Zeebe: config, fetch, lifecycle on a fake broker, pid safety."""

import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from reviewflow.cli import app
from reviewflow.engine import local as local_module
from reviewflow.engine.local import (
    INCIDENT_EXPORTER_CLASS,
    INCIDENT_EXPORTER_ID,
    PORT_ENV,
    EngineError,
    EnginePorts,
    EngineStartError,
    LocalEngine,
    PidRecord,
    default_cache_dir,
    default_state_dir,
    open_incidents,
    parse_incident_record,
    pid_alive,
    process_start_time,
    read_incidents,
    tail_file,
)
from reviewflow.engine.versions import (
    ZEEBE_COORDINATES,
    ZEEBE_DIST_DIR_NAME,
    ZEEBE_TARBALL_NAME,
    ZEEBE_TARBALL_SHA1,
)

# --- settings and paths ----------------------------------------------------------------------


def test_ports_default_and_env_overrides() -> None:
    assert EnginePorts.from_env({}) == EnginePorts(26500, 8080, 9600, 26501, 26502)
    ports = EnginePorts.from_env(
        {"REVIEWFLOW_ENGINE_GRPC_PORT": "36500", "REVIEWFLOW_ENGINE_MANAGEMENT_PORT": " 39600 "}
    )
    assert (ports.grpc, ports.rest, ports.management) == (36500, 8080, 39600)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REVIEWFLOW_ENGINE_REST_PORT": "http"}, "REVIEWFLOW_ENGINE_REST_PORT='http'"),
        ({"REVIEWFLOW_ENGINE_GRPC_PORT": "70000"}, "REVIEWFLOW_ENGINE_GRPC_PORT=70000"),
        ({"REVIEWFLOW_ENGINE_REST_PORT": "9600"}, "distinct"),
    ],
)
def test_bad_ports_are_rejected_naming_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(EngineError, match=message):
        EnginePorts.from_env(env)


def test_default_dirs(tmp_path: Path) -> None:
    assert default_state_dir({"REVIEWFLOW_STATE_DIR": str(tmp_path)}) == tmp_path
    assert default_state_dir({}) == Path.home() / ".local" / "state" / "reviewflow"
    assert default_cache_dir({"REVIEWFLOW_CACHE_DIR": str(tmp_path)}) == tmp_path
    assert default_cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "reviewflow"
    assert default_cache_dir({}) == Path.home() / ".cache" / "reviewflow"


def test_state_dir_comes_from_env(tmp_path: Path) -> None:
    engine = LocalEngine(env={"REVIEWFLOW_STATE_DIR": str(tmp_path / "s")})
    assert engine.pid_path == tmp_path / "s" / "engine" / "broker.pid"


def test_write_config(tmp_path: Path) -> None:
    ports = EnginePorts(grpc=1111, rest=2222, management=3333, command=4444, internal=5555)
    engine = LocalEngine(tmp_path / "relative" / ".." / "state", ports=ports, env={})
    path = engine.write_config()

    assert path == tmp_path / "state" / "engine" / "application.yaml"
    config = yaml.safe_load(path.read_text())
    broker = config["zeebe"]["broker"]
    assert broker["data"]["directory"] == str(tmp_path / "state" / "engine" / "data")
    assert Path(broker["data"]["directory"]).is_absolute()
    assert Path(broker["data"]["directory"]).is_dir()
    assert broker["gateway"]["network"] == {"host": "127.0.0.1", "port": 1111}
    assert broker["gateway"]["security"]["authentication"]["mode"] == "none"
    assert broker["network"]["host"] == "127.0.0.1"
    assert broker["network"]["commandApi"]["port"] == 4444
    assert broker["network"]["internalApi"]["port"] == 5555
    assert broker["cluster"]["clusterSize"] == 1
    assert config["server"] == {"address": "127.0.0.1", "port": 2222}
    assert config["management"]["server"] == {"address": "127.0.0.1", "port": 3333}
    assert engine.grpc_address == "127.0.0.1:1111"
    assert engine.rest_url == "http://127.0.0.1:2222"
    assert engine.readiness_url == "http://127.0.0.1:3333/actuator/health/readiness"


def test_config_runs_the_incident_exporter_with_our_log4j_override(tmp_path: Path) -> None:
    engine = LocalEngine(tmp_path / "state", cache_dir=tmp_path / "cache", env={})
    config = yaml.safe_load(engine.write_config().read_text())

    exporters = config["zeebe"]["broker"]["exporters"]
    assert exporters == {
        "reviewflowincidents": {
            "className": "io.camunda.zeebe.broker.exporter.debug.DebugLogExporter",
            "args": {"logLevel": "info", "prettyPrint": False},
        }
    }
    assert (INCIDENT_EXPORTER_ID, INCIDENT_EXPORTER_CLASS) == (
        "reviewflowincidents",
        "io.camunda.zeebe.broker.exporter.debug.DebugLogExporter",
    )
    # both are needed: an override without an explicit base config loses the broker's log
    logging = config["logging"]
    dist_config = tmp_path / "cache" / "dist" / ZEEBE_DIST_DIR_NAME / "config" / "log4j2.xml"
    assert logging["config"] == f"file:{dist_config}"
    assert logging["log4j2"]["config"]["override"] == f"file:{engine.log4j_override_path}"
    assert engine.log4j_override_path == tmp_path / "state" / "engine" / "log4j2-records.xml"
    assert engine.log4j_override_path.is_file()
    # the REST search (no secondary storage in 8.6) stays off
    assert config["camunda"]["rest"]["query"]["enabled"] is False


def test_log4j_override_routes_only_incident_records_to_the_file(tmp_path: Path) -> None:
    # a state dir whose path needs XML quoting
    engine = LocalEngine(tmp_path / 'st"ate & <x>', env={})
    engine.write_config()
    root = ET.fromstring(engine.log4j_override_path.read_text())  # noqa: S314 - our own file

    (appender,) = root.findall("./Appenders/File")
    assert appender.get("fileName") == str(engine.incidents_path)
    assert appender.get("append") == "true"
    (layout,) = appender.findall("PatternLayout")
    assert layout.get("pattern") == "%msg%n"  # the bare JSON record, one a line
    (logger,) = root.findall("./Loggers/Logger")
    # the logger the broker gives an exporter: io.camunda.zeebe.broker.Loggers#getExporterLogger
    assert logger.get("name") == "io.camunda.zeebe.broker.exporter.reviewflowincidents"
    assert logger.get("additivity") == "false"  # not also into the broker's own log
    (matcher,) = logger.findall("StringMatchFilter")
    assert matcher.get("onMatch") == "ACCEPT" and matcher.get("onMismatch") == "DENY"
    text = matcher.get("text")
    assert text == '"valueType":"INCIDENT"'
    # what the filter sees: the exporter's compact JSON (prettyPrint false)
    assert text in INCIDENT_CREATED and text in INCIDENT_RESOLVED
    assert text not in JOB_FAILED
    assert [r.get("ref") for r in logger.findall("AppenderRef")] == [appender.get("name")]
    assert root.findall("./Loggers/Root") == []  # composed onto the distribution's Root


# --- incident records ------------------------------------------------------------------------

# lines written by the Zeebe 8.6.0 broker's DebugLogExporter through the override above
INCIDENT_CREATED = (
    '{"partitionId":1,"value":{"jobKey":2251799813685257,"variableScopeKey":2251799813685256,'
    '"elementInstancePath":[[2251799813685251,2251799813685256]],"processDefinitionPath":'
    '[2251799813685250],"callingElementPath":[],"errorType":"JOB_NO_RETRIES","tenantId":'
    '"<default>","elementInstanceKey":2251799813685256,"bpmnProcessId":"rf-inc-mini",'
    '"processInstanceKey":2251799813685251,"errorMessage":"boom: broken on purpose",'
    '"processDefinitionKey":2251799813685250,"elementId":"task"},"key":2251799813685259,'
    '"position":25,"timestamp":1795692015514,"recordVersion":1,"sourceRecordPosition":23,'
    '"valueType":"INCIDENT","brokerVersion":"8.6.0","authorizations":{"authorized_tenants":'
    '["<default>"]},"intent":"CREATED","rejectionType":"NULL_VAL","rejectionReason":"",'
    '"recordType":"EVENT","operationReference":-1}'
)
INCIDENT_RESOLVE_COMMAND = (
    '{"partitionId":1,"value":{"jobKey":-1,"variableScopeKey":-1,"elementInstancePath":[],'
    '"processDefinitionPath":[],"callingElementPath":[],"errorType":"UNKNOWN","tenantId":'
    '"<default>","elementInstanceKey":-1,"bpmnProcessId":"","processInstanceKey":-1,'
    '"errorMessage":"","processDefinitionKey":-1,"elementId":""},"key":2251799813685259,'
    '"position":28,"timestamp":1795692021512,"recordVersion":1,"sourceRecordPosition":-1,'
    '"valueType":"INCIDENT","brokerVersion":"8.6.0","authorizations":{"authorized_tenants":'
    '["<default>"]},"intent":"RESOLVE","rejectionType":"NULL_VAL","rejectionReason":"",'
    '"recordType":"COMMAND","operationReference":-1}'
)
INCIDENT_RESOLVED = INCIDENT_CREATED.replace('"position":25', '"position":29').replace(
    '"intent":"CREATED"', '"intent":"RESOLVED"'
)
JOB_FAILED = (
    '{"partitionId":1,"value":{"type":"rf-inc-fail","errorMessage":"boom","retries":0},'
    '"key":2251799813685257,"position":23,"timestamp":1795692015500,"valueType":"JOB",'
    '"intent":"FAILED","recordType":"EVENT"}'
)


def test_parse_incident_record_reads_the_fields() -> None:
    record = parse_incident_record(INCIDENT_CREATED)
    assert record is not None
    assert record.incident_key == 2251799813685259
    assert record.intent == "CREATED"
    assert record.process_instance_key == 2251799813685251
    assert record.bpmn_process_id == "rf-inc-mini"
    assert record.element_id == "task"
    assert record.element_instance_key == 2251799813685256
    assert record.job_key == 2251799813685257
    assert record.error_type == "JOB_NO_RETRIES"
    assert record.error_message == "boom: broken on purpose"
    assert (record.partition_id, record.position) == (1, 25)
    assert record.timestamp.isoformat() == "2026-11-26T11:20:15.514000+00:00"
    resolved = parse_incident_record(INCIDENT_RESOLVED)
    assert resolved is not None and resolved.intent == "RESOLVED"


def test_an_incident_without_a_job_has_no_job_key() -> None:
    line = INCIDENT_CREATED.replace('"jobKey":2251799813685257', '"jobKey":-1').replace(
        "JOB_NO_RETRIES", "EXTRACT_VALUE_ERROR"
    )
    record = parse_incident_record(line)
    assert record is not None and record.job_key is None
    assert record.error_type == "EXTRACT_VALUE_ERROR"


@pytest.mark.parametrize(
    "line",
    [
        INCIDENT_RESOLVE_COMMAND,  # a command, not an event
        INCIDENT_CREATED.replace('"recordType":"EVENT"', '"recordType":"COMMAND_REJECTION"'),
        JOB_FAILED,
        INCIDENT_CREATED[:120],  # the line the broker is still writing
        "",
        "Debug exporter opened",
        "[1, 2]",
        INCIDENT_CREATED.replace('"key":2251799813685259', '"key":"x"'),
        INCIDENT_CREATED.replace('"intent":"CREATED"', '"intent":"MIGRATED"'),
    ],
)
def test_parse_incident_record_ignores_everything_else(line: str) -> None:
    assert parse_incident_record(line) is None


def test_read_incidents_dedupes_the_re_export_and_finds_the_open_ones(tmp_path: Path) -> None:
    path = tmp_path / "incidents.jsonl"
    assert read_incidents(path) == []  # no file yet: no incidents
    second = INCIDENT_CREATED.replace('"position":25', '"position":40').replace(
        '"key":2251799813685259', '"key":2251799813685300'
    )
    # a restart re-exports the log (here: twice the same records), then a torn last line
    lines = [INCIDENT_CREATED, INCIDENT_RESOLVE_COMMAND, INCIDENT_RESOLVED, second]
    path.write_text("\n".join(lines + lines) + "\n" + INCIDENT_CREATED[:50])

    records = read_incidents(path)
    assert [(r.incident_key, r.intent, r.position) for r in records] == [
        (2251799813685259, "CREATED", 25),
        (2251799813685259, "RESOLVED", 29),
        (2251799813685300, "CREATED", 40),
    ]
    assert [r.incident_key for r in open_incidents(records)] == [2251799813685300]
    assert open_incidents([]) == []


def test_up_empties_the_incident_file_the_broker_rewrites(
    make_engine: Callable[..., LocalEngine],
) -> None:
    engine = make_engine()
    engine.engine_dir.mkdir(parents=True)
    engine.incidents_path.write_text(INCIDENT_CREATED + "\n")
    engine.up()
    assert engine.incidents_path.read_text() == ""
    assert engine.open_incidents() == []
    engine.incidents_path.write_text(INCIDENT_CREATED + "\n")
    engine.up()  # reused, not restarted: the file stays
    assert [r.incident_key for r in engine.open_incidents()] == [2251799813685259]


def test_engine_incidents_command(
    tmp_path: Path, ports: EnginePorts, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    for name in ("ZEEBE_ADDRESS", "ZEEBE_CLIENT_ID", "ZEEBE_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REVIEWFLOW_STATE_DIR", str(tmp_path / "state"))
    for field, port in ports.as_dict().items():
        monkeypatch.setenv(PORT_ENV[field], str(port))
    engine = LocalEngine()

    missing = runner.invoke(app, ["engine", "incidents"])
    assert missing.exit_code == 1 and "reviewflow engine down" in missing.output

    engine.engine_dir.mkdir(parents=True)
    engine.incidents_path.write_text("")
    none = runner.invoke(app, ["engine", "incidents"])
    assert none.exit_code == 0 and "no open incidents" in none.output

    second = INCIDENT_CREATED.replace('"position":25', '"position":40').replace(
        '"key":2251799813685259', '"key":2251799813685300'
    )
    lines = [INCIDENT_CREATED, INCIDENT_RESOLVED, second]
    engine.incidents_path.write_text("\n".join(lines) + "\n")
    listed = runner.invoke(app, ["engine", "incidents"])
    assert listed.exit_code == 0, listed.output
    assert "the engine is not running" in listed.output  # records of its last run
    assert "incident 2251799813685300" in listed.output
    assert "2251799813685259" not in listed.output
    assert "element task  job 2251799813685257" in listed.output
    assert "JOB_NO_RETRIES: boom: broken on purpose" in listed.output
    assert f"http://127.0.0.1:{ports.rest}/v2/incidents/<incident>/resolution" in listed.output

    every = runner.invoke(app, ["engine", "incidents", "--all"])
    assert "incident 2251799813685259 (resolved)" in every.output
    assert "incident 2251799813685300 " in every.output

    monkeypatch.setenv("ZEEBE_ADDRESS", "zeebe.example.com:26500")
    external = runner.invoke(app, ["engine", "incidents"])
    assert external.exit_code == 1 and "Operate" in external.output


def test_tail_file(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_text("".join(f"line {i}\n" for i in range(1000)))
    assert tail_file(log, 3) == "line 997\nline 998\nline 999"
    assert tail_file(tmp_path / "missing", 3) == ""


# --- fetch -----------------------------------------------------------------------------------


def _fake_tarball() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in (("bin/broker", "#!/bin/sh\necho broker\n"), ("lib/x.jar", "jar")):
            data = text.encode()
            info = tarfile.TarInfo(f"{ZEEBE_DIST_DIR_NAME}/{name}")
            info.size = len(data)
            info.mode = 0o755
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def fake_mvn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_script: Callable[[Path, str], Path]
) -> Iterator[Path]:
    """`mvn` on PATH that 'downloads' a fake tarball and logs its arguments."""
    tarball = tmp_path / "artifact.tar.gz"
    tarball.write_bytes(_fake_tarball())
    calls = tmp_path / "mvn-calls.log"
    bin_dir = tmp_path / "bin"
    write_script(
        bin_dir / "mvn",
        "#!/bin/sh\n"
        f'echo "$@" >> "{calls}"\n'
        'for a in "$@"; do case "$a" in -DoutputDirectory=*) out="${a#-DoutputDirectory=}";; '
        "esac; done\n"
        f'cp "{tarball}" "$out/{ZEEBE_TARBALL_NAME}"\n',
    )
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(
        local_module,
        "ZEEBE_TARBALL_SHA1",
        hashlib.sha1(tarball.read_bytes(), usedforsecurity=False).hexdigest(),
    )
    yield calls


def test_fetch_downloads_once_checks_and_extracts(tmp_path: Path, fake_mvn: Path) -> None:
    engine = LocalEngine(tmp_path / "state", cache_dir=tmp_path / "cache")

    dist = engine.fetch()

    assert dist == tmp_path / "cache" / "dist" / ZEEBE_DIST_DIR_NAME
    assert (dist / "bin" / "broker").read_text().startswith("#!/bin/sh")
    assert os.access(dist / "bin" / "broker", os.X_OK)
    assert (tmp_path / "cache" / "downloads" / ZEEBE_TARBALL_NAME).is_file()
    (call,) = fake_mvn.read_text().splitlines()
    assert "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy" in call
    assert f"-Dartifact={ZEEBE_COORDINATES}" in call
    assert ZEEBE_COORDINATES == "io.camunda:camunda-zeebe:8.6.0:tar.gz"

    assert engine.fetch() == dist
    assert len(fake_mvn.read_text().splitlines()) == 1, "second fetch must not download again"


def test_fetch_rejects_a_bad_checksum_and_deletes_the_file(tmp_path: Path) -> None:
    engine = LocalEngine(tmp_path / "state", cache_dir=tmp_path / "cache")
    engine.tarball_path.parent.mkdir(parents=True)
    engine.tarball_path.write_bytes(b"not the real thing")

    with pytest.raises(EngineError, match=f"checksum mismatch.*expected {ZEEBE_TARBALL_SHA1}"):
        engine.fetch()
    assert not engine.tarball_path.exists()
    assert not engine.dist_dir.exists()


def test_fetch_without_maven_says_what_to_do(tmp_path: Path) -> None:
    engine = LocalEngine(
        tmp_path / "state", cache_dir=tmp_path / "cache", env={"PATH": str(tmp_path)}
    )
    with pytest.raises(EngineError, match=r"Maven \('mvn'\) is needed") as info:
        engine.fetch()
    assert str(engine.tarball_path) in str(info.value)


def test_maven_failure_is_reported_with_its_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_script: Callable[[Path, str], Path]
) -> None:
    write_script(tmp_path / "bin" / "mvn", "#!/bin/sh\necho 'ERROR 404 Not Found' >&2\nexit 1\n")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    engine = LocalEngine(tmp_path / "state", cache_dir=tmp_path / "cache")
    with pytest.raises(EngineError, match=r"(?s)with Maven failed \(exit 1\).*404 Not Found"):
        engine.fetch()


# --- lifecycle on the fake broker ------------------------------------------------------------


def test_up_status_reuse_down(make_engine: Callable[..., LocalEngine]) -> None:
    engine = make_engine()

    first = engine.up()
    assert first.started
    status = first.status
    assert status.healthy and status.pid_alive and status.ready and status.grpc_open
    assert status.topology is not None and status.topology["clusterSize"] == 1
    record = PidRecord.from_text(engine.pid_path.read_text())
    assert record is not None and record.pid == status.pid
    assert record.start_time == process_start_time(record.pid)
    # environment of the broker: chosen JAVA_HOME, heap, our config file as *additional* config
    log = engine.logs(50)
    assert "fake-broker env JAVA_HOME=/opt/fake-jdk-21" in log
    assert "fake-broker env JAVA_OPTS=-Xms512m -Xmx1g" in log
    assert f"SPRING_CONFIG_ADDITIONAL_LOCATION=file:{engine.config_path}" in log
    # detached from our session
    assert os.getsid(record.pid) == record.pid

    second = engine.up()
    assert not second.started
    assert second.status.pid == status.pid

    down = engine.down()
    assert down.stopped and down.pid == status.pid
    assert not pid_alive(status.pid)
    assert not engine.pid_path.exists()
    assert not engine.status().healthy
    assert engine.down().message == "no engine was started from this state dir"


def test_a_broker_that_exits_fails_with_the_log_tail(
    make_engine: Callable[..., LocalEngine],
) -> None:
    engine = make_engine("crash")
    with pytest.raises(EngineStartError) as info:
        engine.up()
    assert "exited with code 3" in str(info.value)
    assert "FATAL something went wrong on purpose" in info.value.log_tail
    assert not engine.pid_path.exists()


def test_a_broker_that_never_gets_ready_is_stopped(
    make_engine: Callable[..., LocalEngine],
) -> None:
    engine = make_engine("hang", start_timeout=1.5)
    started = time.monotonic()
    with pytest.raises(EngineStartError, match="not ready after 2 s") as info:
        engine.up()
    assert time.monotonic() - started < 15
    assert "fake-broker env JAVA_HOME" in info.value.log_tail
    assert not engine.pid_path.exists()
    pid = int(info.value.reason.split("(pid ")[1].split(")")[0])
    assert not pid_alive(pid)


def test_down_escalates_to_sigkill(make_engine: Callable[..., LocalEngine]) -> None:
    engine = make_engine("stubborn", stop_timeout=1.0)
    pid = engine.up().status.pid
    assert pid is not None
    started = time.monotonic()
    assert engine.down().stopped
    assert 1.0 <= time.monotonic() - started < 10
    assert not pid_alive(pid)


def test_up_refuses_ports_held_by_someone_else(
    make_engine: Callable[..., LocalEngine], ports: EnginePorts
) -> None:
    engine = make_engine()
    with socket.socket() as other:
        other.bind(("127.0.0.1", ports.grpc))
        other.listen()
        with pytest.raises(EngineError, match="REVIEWFLOW_ENGINE_GRPC_PORT"):
            engine.up()
    assert not engine.pid_path.exists()
    assert not engine.log_path.exists(), "nothing may be spawned"


# --- pid safety: down() only ever signals the broker it started ------------------------------


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    """An unrelated process that must survive."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield process
    process.kill()
    process.wait()


def _write_pid(engine: LocalEngine, pid: int, start_time: str | None) -> None:
    engine.engine_dir.mkdir(parents=True, exist_ok=True)
    engine.pid_path.write_text(
        json.dumps({"pid": pid, "start_time": start_time, "started_at": "x"})
    )


def test_down_leaves_an_unrelated_process_alone(
    tmp_path: Path, bystander: subprocess.Popen[bytes]
) -> None:
    engine = LocalEngine(tmp_path / "state", env={})
    # even with the right start time: it is not a Zeebe broker
    _write_pid(engine, bystander.pid, process_start_time(bystander.pid))

    result = engine.down()

    assert not result.stopped
    assert "left it alone" in result.message
    time.sleep(0.2)
    assert bystander.poll() is None, "the unrelated process was signalled"
    assert not engine.pid_path.exists()


def test_down_leaves_a_reused_pid_alone(tmp_path: Path) -> None:
    # looks like a broker, but started at another time than the recorded one (pid reuse)
    lookalike = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; time.sleep(120)",
            "io.camunda.application.StandaloneBroker",
        ]
    )
    try:
        engine = LocalEngine(tmp_path / "state", env={})
        assert engine.owns_process(
            PidRecord(lookalike.pid, process_start_time(lookalike.pid), "x")
        ), "sanity: with the right start time it would count as ours"
        _write_pid(engine, lookalike.pid, "12345")

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
    tmp_path: Path, bystander: subprocess.Popen[bytes], ports: EnginePorts
) -> None:
    engine = LocalEngine(tmp_path / "state", ports=ports, env={})
    _write_pid(engine, bystander.pid, process_start_time(bystander.pid))
    status = engine.status()
    assert status.pid == bystander.pid
    assert not status.pid_alive
    assert not status.healthy
