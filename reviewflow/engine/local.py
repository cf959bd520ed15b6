"""A local single-node Zeebe broker (embedded gateway) run from the official distribution.

Layout:

- downloads: ``<cache>/downloads/camunda-zeebe-<v>.tar.gz`` (fetched once with Maven, sha1-checked)
- distribution: ``<cache>/dist/camunda-zeebe-<v>/`` (extracted once)
- per state dir: ``<state>/engine/{application.yaml, log4j2-records.xml, broker.pid, broker.log,
  incidents.jsonl, data/}``

``<cache>`` is ``$REVIEWFLOW_CACHE_DIR`` or ``~/.cache/reviewflow``; ``<state>`` is
``$REVIEWFLOW_STATE_DIR`` or ``~/.local/state/reviewflow``.

The broker reads our ``application.yaml`` through ``SPRING_CONFIG_ADDITIONAL_LOCATION``. It must
be *additional*: ``SPRING_CONFIG_LOCATION`` would replace the distribution's built-in
``application.properties``, which excludes Spring Security's and LDAP's auto-configuration;
without it the REST API answers 401 and ``/actuator/health`` reports DOWN (LDAP probe).

Incidents: 8.6 without secondary storage has no incident search (no Operate, REST search off),
so the broker runs its built-in ``DebugLogExporter`` (exporter id ``reviewflowincidents``, so it
logs through the logger ``io.camunda.zeebe.broker.exporter.reviewflowincidents``) and a log4j2
override sends only the INCIDENT records it logs, one JSON record per line, to
``incidents.jsonl``; every other record is serialized by the exporter and dropped by the
logger's filter, never written. :func:`read_incidents` parses the file and
:func:`open_incidents` keeps the unresolved ones (``reviewflow engine incidents``).

The override is composed with Spring Boot's ``logging.log4j2.config.override``, which only
works when ``logging.config`` names the base configuration too: without it Spring Boot composes
the override onto the configuration log4j already started, whose XML is gone by then ("No
logging configuration"), and the broker's own log is lost. So ``logging.config`` names the
distribution's ``config/log4j2.xml``.

Disk and start-up cost: the debug exporter never acknowledges a position, so the broker never
compacts its log: ``<state>/engine/data`` keeps every record (a review of the sample repository
is some hundred records, about half a megabyte) and grows in 32 MB segments, and every start
re-exports the whole log. That is why ``incidents.jsonl`` is emptied on each start: the
re-export writes it again, exact, from the log. To start afresh, ``reviewflow engine down`` and
delete ``<state>/engine/data``.

Only a process this engine started is ever signalled: the pid file records the process start
time, and ``down()`` checks it (and that the process is a Zeebe broker) before sending anything.
"""

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args
from xml.sax.saxutils import quoteattr

import httpx
import yaml

from reviewflow.engine.endpoints import EngineEndpoints
from reviewflow.engine.java import JavaRuntime, find_java
from reviewflow.engine.versions import (
    MAVEN_DEPENDENCY_PLUGIN,
    ZEEBE_COORDINATES,
    ZEEBE_DIST_DIR_NAME,
    ZEEBE_TARBALL_NAME,
    ZEEBE_TARBALL_SHA1,
    ZEEBE_VERSION,
)

BROKER_MAIN_CLASS = "io.camunda.application.StandaloneBroker"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_JAVA_OPTS = "-Xms512m -Xmx1g"
DEFAULT_START_TIMEOUT = 180.0
DEFAULT_STOP_TIMEOUT = 30.0

# the exporter that writes incident records (see the module docstring)
INCIDENT_EXPORTER_ID = "reviewflowincidents"
INCIDENT_EXPORTER_CLASS = "io.camunda.zeebe.broker.exporter.debug.DebugLogExporter"
# the logger an exporter gets from its context: "io.camunda.zeebe.broker.exporter." + its id
INCIDENT_EXPORTER_LOGGER = f"io.camunda.zeebe.broker.exporter.{INCIDENT_EXPORTER_ID}"

ENV_STATE_DIR = "REVIEWFLOW_STATE_DIR"
ENV_CACHE_DIR = "REVIEWFLOW_CACHE_DIR"
ENV_HOST = "REVIEWFLOW_ENGINE_HOST"
ENV_JAVA_OPTS = "REVIEWFLOW_ENGINE_JAVA_OPTS"
PORT_ENV = {
    "grpc": "REVIEWFLOW_ENGINE_GRPC_PORT",
    "rest": "REVIEWFLOW_ENGINE_REST_PORT",
    "management": "REVIEWFLOW_ENGINE_MANAGEMENT_PORT",
    "command": "REVIEWFLOW_ENGINE_COMMAND_PORT",
    "internal": "REVIEWFLOW_ENGINE_INTERNAL_PORT",
}


class EngineError(RuntimeError):
    """The engine could not be fetched, configured, started or stopped."""


class EngineStartError(EngineError):
    """The broker did not become ready; carries the tail of its log."""

    def __init__(self, message: str, log_tail: str) -> None:
        super().__init__(f"{message}\n--- last lines of the engine log ---\n{log_tail}")
        self.reason = message
        self.log_tail = log_tail


def default_state_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    value = env.get(ENV_STATE_DIR, "").strip()
    return Path(value).expanduser() if value else Path.home() / ".local" / "state" / "reviewflow"


def default_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    value = env.get(ENV_CACHE_DIR, "").strip()
    if value:
        return Path(value).expanduser()
    xdg = env.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "reviewflow"


@dataclass(frozen=True)
class EnginePorts:
    grpc: int = 26500
    rest: int = 8080
    management: int = 9600
    command: int = 26501
    internal: int = 26502

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "EnginePorts":
        env = os.environ if env is None else env
        values: dict[str, int] = {}
        for field, var in PORT_ENV.items():
            raw = env.get(var, "").strip()
            if not raw:
                continue
            try:
                port = int(raw)
            except ValueError:
                raise EngineError(f"{var}={raw!r} is not a port number") from None
            if not 0 < port < 65536:
                raise EngineError(f"{var}={port} is outside 1..65535")
            values[field] = port
        ports = cls(**values)
        numbers = ports.as_dict()
        if len(set(numbers.values())) != len(numbers):
            raise EngineError(f"engine ports must be distinct, got {numbers}")
        return ports

    def as_dict(self) -> dict[str, int]:
        return {
            "grpc": self.grpc,
            "rest": self.rest,
            "management": self.management,
            "command": self.command,
            "internal": self.internal,
        }


@dataclass(frozen=True)
class EngineStatus:
    grpc_address: str
    rest_url: str
    management_url: str
    pid: int | None
    pid_alive: bool
    ready: bool
    grpc_open: bool
    topology: dict[str, Any] | None
    log_path: Path

    @property
    def healthy(self) -> bool:
        return self.pid_alive and self.ready and self.grpc_open and self.topology is not None


@dataclass(frozen=True)
class UpResult:
    started: bool  # False: an engine this state dir started earlier was reused
    status: EngineStatus


@dataclass(frozen=True)
class DownResult:
    stopped: bool
    pid: int | None
    message: str


@dataclass(frozen=True)
class PidRecord:
    pid: int
    start_time: str | None
    started_at: str

    def to_json(self) -> str:
        return json.dumps(
            {"pid": self.pid, "start_time": self.start_time, "started_at": self.started_at}
        )

    @classmethod
    def from_text(cls, text: str) -> "PidRecord | None":
        try:
            data = json.loads(text)
            pid = int(data["pid"])
        except (ValueError, KeyError, TypeError):
            return None
        if pid <= 1:
            return None
        start_time = data.get("start_time")
        return cls(
            pid=pid,
            start_time=str(start_time) if start_time is not None else None,
            started_at=str(data.get("started_at", "")),
        )


# --- incidents -------------------------------------------------------------------------------

IncidentIntent = Literal["CREATED", "RESOLVED"]
_INCIDENT_INTENTS: tuple[str, ...] = get_args(IncidentIntent)


@dataclass(frozen=True)
class IncidentRecord:
    """One INCIDENT event as the broker exported it (a line of ``incidents.jsonl``)."""

    incident_key: int
    intent: IncidentIntent
    process_instance_key: int
    bpmn_process_id: str
    element_id: str
    element_instance_key: int
    job_key: int | None  # None when the incident is not a job's (an expression, a mapping...)
    error_type: str  # JOB_NO_RETRIES, EXTRACT_VALUE_ERROR, CONDITION_ERROR...
    error_message: str
    partition_id: int
    position: int
    timestamp: dt.datetime


def _as_int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"not an integer: {value!r}")
    return value


def parse_incident_record(line: str) -> IncidentRecord | None:
    """The incident event on this line; None for anything else (other value types, commands,
    rejections, a line the broker is still writing)."""
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    intent = data.get("intent")
    if (
        data.get("valueType") != "INCIDENT"
        or data.get("recordType") != "EVENT"
        or intent not in _INCIDENT_INTENTS
    ):
        return None
    value = data.get("value")
    if not isinstance(value, dict):
        return None
    try:
        job_key = _as_int(value.get("jobKey", -1))
        return IncidentRecord(
            incident_key=_as_int(data["key"]),
            intent="CREATED" if intent == "CREATED" else "RESOLVED",
            process_instance_key=_as_int(value["processInstanceKey"]),
            bpmn_process_id=str(value.get("bpmnProcessId", "")),
            element_id=str(value.get("elementId", "")),
            element_instance_key=_as_int(value.get("elementInstanceKey", -1)),
            job_key=job_key if job_key > 0 else None,
            error_type=str(value.get("errorType", "")),
            error_message=str(value.get("errorMessage", "")),
            partition_id=_as_int(data.get("partitionId", 1)),
            position=_as_int(data["position"]),
            timestamp=dt.datetime.fromtimestamp(_as_int(data["timestamp"]) / 1000, dt.UTC),
        )
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return None


def read_incidents(path: Path) -> list[IncidentRecord]:
    """Every incident event in ``path``, in log order, each once. A missing file is no events."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return []
    seen: dict[tuple[int, int], IncidentRecord] = {}
    for line in text.splitlines():
        record = parse_incident_record(line)
        if record is not None:
            seen.setdefault((record.partition_id, record.position), record)
    return sorted(seen.values(), key=lambda r: (r.partition_id, r.position))


def open_incidents(records: Iterable[IncidentRecord]) -> list[IncidentRecord]:
    """The CREATED events whose incident has no RESOLVED event, oldest first."""
    created: dict[int, IncidentRecord] = {}
    resolved: set[int] = set()
    for record in records:
        if record.intent == "CREATED":
            created.setdefault(record.incident_key, record)
        else:
            resolved.add(record.incident_key)
    still_open = [r for key, r in created.items() if key not in resolved]
    return sorted(still_open, key=lambda r: r.timestamp)


# --- process helpers -------------------------------------------------------------------------


def _proc_stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (index 0 is the state)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rfind(")") + 2 :].split()


def process_start_time(pid: int) -> str | None:
    """An identity for the process with this pid that changes when the pid is reused."""
    fields = _proc_stat_fields(pid)
    if fields is not None:
        return fields[19]  # field 22 of stat: start time in clock ticks since boot
    if sys.platform.startswith("linux"):
        return None
    result = subprocess.run(
        ["ps", "-o", "lstart=", "-p", str(pid)], capture_output=True, text=True, check=False
    )
    value = result.stdout.strip()
    return value or None


def process_cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        return raw.replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        pass
    if sys.platform.startswith("linux"):
        return ""
    result = subprocess.run(
        ["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, check=False
    )
    return result.stdout.strip()


def _reap(pid: int) -> None:
    """Collect the exit status if ``pid`` is our child, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def pid_alive(pid: int) -> bool:
    _reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    fields = _proc_stat_fields(pid)
    return not (fields is not None and fields[0] in ("Z", "X"))


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail_file(path: Path, lines: int) -> str:
    if lines <= 0:
        return ""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            chunk = min(size, max(64 * 1024, lines * 400))
            handle.seek(size - chunk)
            data = handle.read()
    except OSError:
        return ""
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])


def sha1_of(path: Path) -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


# --- the engine ------------------------------------------------------------------------------


class LocalEngine(EngineEndpoints):
    """One local broker per state dir. See the module docstring for the layout."""

    ports: EnginePorts

    def __init__(
        self,
        state_dir: Path | None = None,
        *,
        cache_dir: Path | None = None,
        ports: EnginePorts | None = None,
        host: str | None = None,
        env: Mapping[str, str] | None = None,
        java_finder: Callable[[], JavaRuntime] = find_java,
        start_timeout: float = DEFAULT_START_TIMEOUT,
        stop_timeout: float = DEFAULT_STOP_TIMEOUT,
    ) -> None:
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.state_dir = (state_dir or default_state_dir(self.env)).expanduser().resolve()
        self.cache_dir = (cache_dir or default_cache_dir(self.env)).expanduser().resolve()
        self.ports = ports or EnginePorts.from_env(self.env)
        self.host = host or self.env.get(ENV_HOST, "").strip() or DEFAULT_HOST
        self.java_finder = java_finder
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout

    # paths and addresses

    @property
    def engine_dir(self) -> Path:
        return self.state_dir / "engine"

    @property
    def config_path(self) -> Path:
        return self.engine_dir / "application.yaml"

    @property
    def pid_path(self) -> Path:
        return self.engine_dir / "broker.pid"

    @property
    def log_path(self) -> Path:
        return self.engine_dir / "broker.log"

    @property
    def data_dir(self) -> Path:
        return self.engine_dir / "data"

    @property
    def dist_log4j_config_path(self) -> Path:
        """The distribution's own log4j2 configuration (console and ``logs/zeebe.log``)."""
        return self.dist_dir / "config" / "log4j2.xml"

    @property
    def log4j_override_path(self) -> Path:
        return self.engine_dir / "log4j2-records.xml"

    @property
    def incidents_path(self) -> Path:
        """INCIDENT records (created, resolved) as the broker exports them, one JSON a line."""
        return self.engine_dir / "incidents.jsonl"

    @property
    def tarball_path(self) -> Path:
        return self.cache_dir / "downloads" / ZEEBE_TARBALL_NAME

    @property
    def dist_dir(self) -> Path:
        return self.cache_dir / "dist" / ZEEBE_DIST_DIR_NAME

    # fetch

    def fetch(self) -> Path:
        """Download (once, with Maven), check the sha1, and extract (once). Returns the dist dir."""
        with _locked(self.cache_dir / ".fetch.lock"):
            marker = self.dist_dir / ".reviewflow-installed"
            if (
                marker.is_file()
                and marker.read_text().strip() == ZEEBE_TARBALL_SHA1
                and (self.dist_dir / "bin" / "broker").is_file()
            ):
                return self.dist_dir
            if not self.tarball_path.is_file():
                self._download()
            actual = sha1_of(self.tarball_path)
            if actual != ZEEBE_TARBALL_SHA1:
                self.tarball_path.unlink()
                raise EngineError(
                    f"checksum mismatch for {ZEEBE_TARBALL_NAME}: sha1 {actual}, expected "
                    f"{ZEEBE_TARBALL_SHA1}. The file was deleted; run the command again to "
                    "download it anew."
                )
            self._extract()
            marker.write_text(ZEEBE_TARBALL_SHA1 + "\n")
            return self.dist_dir

    def _download(self) -> None:
        mvn = shutil.which("mvn", path=self.env.get("PATH"))
        if mvn is None:
            raise EngineError(
                f"Maven ('mvn') is needed to download {ZEEBE_COORDINATES} from Maven Central "
                f"and was not found on PATH. Install Maven, or put the file at "
                f"{self.tarball_path} yourself (sha1 {ZEEBE_TARBALL_SHA1})."
            )
        downloads = self.tarball_path.parent
        downloads.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=downloads, prefix=".mvn-") as tmp:
            command = [
                mvn,
                "-B",
                "-q",
                f"{MAVEN_DEPENDENCY_PLUGIN}:copy",
                f"-Dartifact={ZEEBE_COORDINATES}",
                f"-DoutputDirectory={tmp}",
            ]
            result = subprocess.run(
                command, capture_output=True, text=True, check=False, cwd=tmp, env=dict(self.env)
            )
            fetched = Path(tmp) / ZEEBE_TARBALL_NAME
            if result.returncode != 0 or not fetched.is_file():
                output = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
                raise EngineError(
                    f"downloading {ZEEBE_COORDINATES} with Maven failed "
                    f"(exit {result.returncode}):\n{output}"
                )
            fetched.replace(self.tarball_path)

    def _extract(self) -> None:
        target_root = self.dist_dir.parent
        target_root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target_root, prefix=".extract-") as tmp:
            with tarfile.open(self.tarball_path, "r:gz") as archive:
                archive.extractall(tmp, filter="data")
            extracted = Path(tmp) / ZEEBE_DIST_DIR_NAME
            if not (extracted / "bin" / "broker").is_file():
                raise EngineError(f"{self.tarball_path} has no {ZEEBE_DIST_DIR_NAME}/bin/broker")
            if self.dist_dir.exists():
                shutil.rmtree(self.dist_dir)
            extracted.rename(self.dist_dir)

    # configuration

    def config(self) -> dict[str, Any]:
        data_dir = str(self.data_dir.resolve())
        return {
            "zeebe": {
                "broker": {
                    "gateway": {
                        "enable": True,
                        "network": {"host": self.host, "port": self.ports.grpc},
                        "security": {"enabled": False, "authentication": {"mode": "none"}},
                    },
                    "network": {
                        "host": self.host,
                        "commandApi": {"port": self.ports.command},
                        "internalApi": {"port": self.ports.internal},
                    },
                    "data": {"directory": data_dir, "logSegmentSize": "32MB"},
                    "cluster": {
                        "nodeId": 0,
                        "clusterSize": 1,
                        "replicationFactor": 1,
                        "partitionsCount": 1,
                    },
                    "threads": {"cpuThreadCount": 2, "ioThreadCount": 2},
                    "exporters": {
                        INCIDENT_EXPORTER_ID: {
                            "className": INCIDENT_EXPORTER_CLASS,
                            "args": {"logLevel": "info", "prettyPrint": False},
                        }
                    },
                }
            },
            # the distribution's log4j2.xml named explicitly, with ours composed onto it (see
            # the module docstring for why both are needed)
            "logging": {
                "config": f"file:{self.dist_log4j_config_path}",
                "log4j2": {"config": {"override": f"file:{self.log4j_override_path.resolve()}"}},
            },
            # the REST search endpoints need secondary storage (Elasticsearch in 8.6): off
            "camunda": {"rest": {"query": {"enabled": False}}},
            "server": {"address": self.host, "port": self.ports.rest},
            "management": {"server": {"address": self.host, "port": self.ports.management}},
        }

    def write_config(self) -> Path:
        self.engine_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        header = (
            f"# Written by reviewflow for Zeebe {ZEEBE_VERSION}; rewritten on every start.\n"
            "# Loaded through SPRING_CONFIG_ADDITIONAL_LOCATION (on top of the distribution's).\n"
        )
        text = header + yaml.safe_dump(self.config(), sort_keys=False)
        _write_atomically(self.log4j_override_path, self.log4j_override())
        _write_atomically(self.config_path, text)
        return self.config_path

    def log4j_override(self) -> str:
        """Only the incident exporter's INCIDENT lines, bare, to ``incidents.jsonl``. The filter
        sits on the logger, so the other records are dropped before any appender sees them."""
        incidents = quoteattr(str(self.incidents_path.resolve()))
        return f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by reviewflow; rewritten on every start. Composed onto the distribution's
     log4j2.xml through Spring Boot's logging.log4j2.config.override. -->
<Configuration status="WARN">
  <Appenders>
    <File name="ReviewflowIncidents" fileName={incidents} append="true" immediateFlush="true">
      <PatternLayout pattern="%msg%n"/>
    </File>
  </Appenders>
  <Loggers>
    <Logger name="{INCIDENT_EXPORTER_LOGGER}" level="info" additivity="false">
      <StringMatchFilter text='"valueType":"INCIDENT"' onMatch="ACCEPT" onMismatch="DENY"/>
      <AppenderRef ref="ReviewflowIncidents"/>
    </Logger>
  </Loggers>
</Configuration>
"""

    # pid file

    def read_pid_record(self) -> PidRecord | None:
        try:
            text = self.pid_path.read_text()
        except OSError:
            return None
        return PidRecord.from_text(text)

    def owns_process(self, record: PidRecord) -> bool:
        """True only if ``record.pid`` is still the broker this engine started."""
        if not pid_alive(record.pid):
            return False
        if record.start_time is None or process_start_time(record.pid) != record.start_time:
            return False
        return BROKER_MAIN_CLASS in process_cmdline(record.pid)

    # probes

    def _topology(self) -> dict[str, Any] | None:
        try:
            response = httpx.get(f"{self.rest_url}/v2/topology", timeout=2.0)
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        try:
            data = response.json()
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def status(self) -> EngineStatus:
        record = self.read_pid_record()
        alive = record is not None and self.owns_process(record)
        return EngineStatus(
            grpc_address=self.grpc_address,
            rest_url=self.rest_url,
            management_url=self.management_url,
            pid=record.pid if record is not None else None,
            pid_alive=alive,
            ready=self._ready(),
            grpc_open=port_open(self.host, self.ports.grpc),
            topology=self._topology(),
            log_path=self.log_path,
        )

    def logs(self, lines: int = 100) -> str:
        return tail_file(self.log_path, lines)

    def incidents(self) -> list[IncidentRecord]:
        """Every incident event in the broker's log: each start re-exports the whole log, so
        this is the history of ``data/`` (see the module docstring)."""
        return read_incidents(self.incidents_path)

    def open_incidents(self) -> list[IncidentRecord]:
        return open_incidents(self.incidents())

    # lifecycle

    def up(self) -> UpResult:
        """Start the broker, or reuse the one this state dir already runs. Idempotent; two
        concurrent calls for one state dir start one broker."""
        with _locked(self.engine_dir / ".up.lock"):
            return self._up()

    def _up(self) -> UpResult:
        record = self.read_pid_record()
        if record is not None:
            if self.owns_process(record):
                self._wait_ready(record.pid, process=None)
                return UpResult(started=False, status=self.status())
            self.pid_path.unlink(missing_ok=True)  # stale: that process is gone or not ours

        busy = {
            name: port for name, port in self.ports.as_dict().items() if port_open(self.host, port)
        }
        if busy:
            names = ", ".join(f"{name} {port} ({PORT_ENV[name]})" for name, port in busy.items())
            raise EngineError(
                f"ports already in use on {self.host}: {names}. Another engine (or another "
                "program) is listening there and it was not started from this state dir "
                f"({self.state_dir}). Stop it, or choose other ports with the variables shown."
            )

        dist = self.fetch()
        java = self.java_finder()
        self.write_config()
        # the broker re-exports its whole log on start (see the module docstring)
        self.incidents_path.write_text("")
        process = self._spawn(dist, java)
        self.pid_path.write_text(
            PidRecord(
                pid=process.pid,
                start_time=process_start_time(process.pid),
                started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            ).to_json()
        )
        try:
            self._wait_ready(process.pid, process=process)
        except EngineStartError:
            self._terminate(process.pid)
            self.pid_path.unlink(missing_ok=True)
            raise
        return UpResult(started=True, status=self.status())

    def _spawn(self, dist: Path, java: JavaRuntime) -> "subprocess.Popen[bytes]":
        env = dict(self.env)
        # SPRING_CONFIG_LOCATION would drop the distribution's application.properties
        env.pop("SPRING_CONFIG_LOCATION", None)
        env["JAVA_HOME"] = str(java.home)
        env["JAVA_OPTS"] = self.env.get(ENV_JAVA_OPTS, "").strip() or DEFAULT_JAVA_OPTS
        env["SPRING_CONFIG_ADDITIONAL_LOCATION"] = f"file:{self.config_path}"
        self.engine_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            log.write(
                f"\n=== reviewflow: starting Zeebe {ZEEBE_VERSION} at {stamp} with Java "
                f"{java.version} ({java.home}) ===\n".encode()
            )
            log.flush()
            return subprocess.Popen(
                [str(dist / "bin" / "broker")],
                cwd=dist,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )

    def _wait_ready(self, pid: int, process: "subprocess.Popen[bytes] | None") -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            if process is not None and process.poll() is not None:
                raise EngineStartError(
                    f"the Zeebe broker exited with code {process.returncode} during start-up "
                    f"(log: {self.log_path})",
                    self.logs(40),
                )
            if process is None and not pid_alive(pid):
                raise EngineStartError(
                    f"the Zeebe broker (pid {pid}) died while starting (log: {self.log_path})",
                    self.logs(40),
                )
            if self._ready():
                return
            if time.monotonic() >= deadline:
                raise EngineStartError(
                    f"the Zeebe broker (pid {pid}) was not ready after {self.start_timeout:.0f} s "
                    f"({self.readiness_url}; log: {self.log_path})",
                    self.logs(40),
                )
            time.sleep(0.5)

    def _terminate(self, pid: int) -> None:
        """SIGTERM, then SIGKILL after the grace period. Only called for a pid we own."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10.0
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
        if pid_alive(pid):
            raise EngineError(f"the Zeebe broker (pid {pid}) did not stop even after SIGKILL")

    def down(self) -> DownResult:
        """Stop the broker this state dir started. Never signals any other process."""
        record = self.read_pid_record()
        if record is None:
            if self.pid_path.exists():
                self.pid_path.unlink()
                return DownResult(False, None, f"removed an unreadable pid file {self.pid_path}")
            return DownResult(False, None, "no engine was started from this state dir")
        if not self.owns_process(record):
            self.pid_path.unlink(missing_ok=True)
            if pid_alive(record.pid):
                message = (
                    f"pid {record.pid} from the pid file is not the broker this state dir "
                    "started (the pid was reused); left it alone and removed the stale pid file"
                )
            else:
                message = f"the engine (pid {record.pid}) was not running; removed its pid file"
            return DownResult(False, record.pid, message)
        self._terminate(record.pid)
        self.pid_path.unlink(missing_ok=True)
        return DownResult(True, record.pid, f"stopped the engine (pid {record.pid})")
