"""The local engine: Operaton (Apache-2.0, the successor of Camunda 7) in the repository's Spring
Boot module ``engine/``, built with the machine's Maven on first use and run with ``java -jar``.

Layout:

- the jar: ``<cache>/engine/<hash>/reviewflow-engine.jar`` (+ ``build.log``), where ``<hash>``
  is a SHA-256 over ``engine/pom.xml`` and every file under ``engine/src/`` (paths and
  contents), so a change to the module builds a new jar and an unchanged one is never rebuilt.
  ``$REVIEWFLOW_ENGINE_JAR`` names a prebuilt jar instead (no Maven needed then).
- per state dir (mode 0700): ``<state>/engine/{engine.pid, engine.log, admin-password, h2/}``.
  ``admin-password`` is created with mode 0600 on the first start; ``h2/`` holds the H2
  database (unless ``$REVIEWFLOW_ENGINE_JDBC_URL`` names another one, e.g. PostgreSQL).

``<cache>`` is ``$REVIEWFLOW_CACHE_DIR`` or ``~/.cache/reviewflow``; ``<state>`` is
``$REVIEWFLOW_STATE_DIR`` or ``~/.local/state/reviewflow``.

Everything reaches the engine through its environment (read by the module's
``application.yaml``), never its command line: ``ps`` shows command lines to every user. The
REST API (``/engine-rest``) has no authentication unless ``$REVIEWFLOW_ENGINE_REST_AUTH`` is
true (HTTP Basic with engine users), so the engine binds to 127.0.0.1 unless
``$REVIEWFLOW_ENGINE_HOST`` says otherwise, and binding elsewhere turns REST authentication on
by default. The web apps (Cockpit) always need the admin login.

The admin user is created by the engine on its first start against an empty database, with the
password of that moment: changing the password file (or ``$REVIEWFLOW_ENGINE_ADMIN_PASSWORD``)
later does not change it in an existing database.

Only a process this engine started is ever signalled: the pid file records the process start
time and the jar, and :meth:`LocalEngine.down` checks both (and that the process is alive)
before sending anything.
"""

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from reviewflow.engine.errors import EngineError as EngineError
from reviewflow.engine.errors import EngineStartError as EngineStartError
from reviewflow.engine.java import JavaRuntime, find_java

OPERATON_VERSION = "1.0.3"  # keep in step with engine/pom.xml (a unit test checks it)
JAR_NAME = "reviewflow-engine.jar"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_ADMIN_USER = "admin"
DEFAULT_JAVA_OPTS = "-Xms256m -Xmx1g"
DEFAULT_START_TIMEOUT = 180.0
DEFAULT_STOP_TIMEOUT = 30.0
DEFAULT_BUILD_TIMEOUT = 900.0
KEEP_BUILDS = 5  # jars (74 MB each) kept in the cache: the newest ones, by build time

# the engine module of this checkout (an editable install: the repository root)
DEFAULT_MODULE_DIR = Path(__file__).resolve().parents[2] / "engine"

# what the user may set
ENV_STATE_DIR = "REVIEWFLOW_STATE_DIR"
ENV_CACHE_DIR = "REVIEWFLOW_CACHE_DIR"
ENV_HOST = "REVIEWFLOW_ENGINE_HOST"
ENV_PORT = "REVIEWFLOW_ENGINE_PORT"
ENV_JAVA_OPTS = "REVIEWFLOW_ENGINE_JAVA_OPTS"
ENV_JAR = "REVIEWFLOW_ENGINE_JAR"
ENV_ADMIN_USER = "REVIEWFLOW_ENGINE_ADMIN_USER"
ENV_ADMIN_PASSWORD = "REVIEWFLOW_ENGINE_ADMIN_PASSWORD"  # noqa: S105 (a variable name)
ENV_REST_AUTH = "REVIEWFLOW_ENGINE_REST_AUTH"
ENV_JDBC_URL = "REVIEWFLOW_ENGINE_JDBC_URL"
ENV_DB_USER = "REVIEWFLOW_ENGINE_DB_USER"
ENV_DB_PASSWORD = "REVIEWFLOW_ENGINE_DB_PASSWORD"  # noqa: S105 (a variable name)
# what only reviewflow sets for the engine process (engine/src/main/resources/application.yaml)
ENV_BIND = "REVIEWFLOW_ENGINE_BIND"
ENV_H2_DIR = "REVIEWFLOW_ENGINE_STATE"
ENV_DATABASE_TYPE = "OPERATON_BPM_DATABASE_TYPE"  # Spring's name for operaton.bpm.database.type

# what an older reviewflow left in <state>/engine: a Zeebe broker's pid file (same JSON layout)
LEGACY_BROKER_PID = "broker.pid"
LEGACY_BROKER_MAIN_CLASS = "io.camunda.application.StandaloneBroker"

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_WILDCARD = {"0.0.0.0", "::", ""}  # noqa: S104 (recognised, not bound)


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


def port_from_env(env: Mapping[str, str]) -> int:
    raw = env.get(ENV_PORT, "").strip()
    if not raw:
        return DEFAULT_PORT
    try:
        port = int(raw)
    except ValueError:
        raise EngineError(f"{ENV_PORT}={raw!r} is not a port number") from None
    if not 0 < port < 65536:
        raise EngineError(f"{ENV_PORT}={port} is outside 1..65535")
    return port


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def rest_auth_from_env(env: Mapping[str, str], host: str) -> bool:
    """``$REVIEWFLOW_ENGINE_REST_AUTH`` (true/false); unset: on exactly when ``host`` is not a
    loopback address, because without it anyone who reaches the port runs the engine."""
    raw = env.get(ENV_REST_AUTH, "").strip().lower()
    if not raw:
        return not is_loopback(host)
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise EngineError(f"{ENV_REST_AUTH}={raw!r}: use true or false")


def is_loopback(host: str) -> bool:
    return host in _LOOPBACK or host.startswith("127.")


_JDBC_SECRET = re.compile(r"(?i)(password|passwd|pwd|sslpassword|sslkey)=[^&;]*")
_JDBC_USERINFO = re.compile(r"//[^/@]*@")


def redact_jdbc_url(url: str) -> str:
    """A JDBC URL without the passwords it may carry (``password=...``, ``user:pw@``)."""
    url = _JDBC_SECRET.sub(lambda m: f"{m.group(1)}=***", url)
    return _JDBC_USERINFO.sub("//***@", url)


def module_hash(module_dir: Path) -> str:
    """SHA-256 (first 16 hex digits) over ``pom.xml`` and ``src/``: paths and contents."""
    pom = module_dir / "pom.xml"
    if not pom.is_file():
        raise EngineError(
            f"no engine module at {module_dir} (pom.xml missing): run reviewflow from a checkout "
            f"of its repository, or set {ENV_JAR} to a built {JAR_NAME}"
        )
    files = [pom]
    src = module_dir / "src"
    if src.is_dir():
        files += sorted(p for p in src.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(module_dir).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class EngineStatus:
    healthy: bool  # our process runs and the REST API answers
    pid: int | None  # from the pid file (None: this state dir started nothing)
    rest_url: str
    cockpit_url: str
    database: str  # a description without passwords
    process_alive: bool  # the pid file's process runs and is the engine we started
    rest_ready: bool  # GET <rest_url>/engine answers 200 with the default engine
    bind_host: str
    rest_auth: bool  # HTTP Basic on the REST API (engine users, e.g. the admin)
    admin_user: str
    log_path: Path

    @property
    def exposed(self) -> bool:
        """The REST API listens beyond the loopback interface without authentication."""
        return not self.rest_auth and not is_loopback(self.bind_host)


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
    jar: str = ""
    port: int | None = None
    database: str = ""

    def to_json(self) -> str:
        return json.dumps(
            {
                "pid": self.pid,
                "start_time": self.start_time,
                "started_at": self.started_at,
                "jar": self.jar,
                "port": self.port,
                "database": self.database,
            }
        )

    @classmethod
    def from_text(cls, text: str) -> "PidRecord | None":
        try:
            data = json.loads(text)
            pid = int(data["pid"])
            port = data.get("port")
            port = int(port) if port is not None else None
        except (ValueError, KeyError, TypeError):
            return None
        if pid <= 1:
            return None
        start_time = data.get("start_time")
        return cls(
            pid=pid,
            start_time=str(start_time) if start_time is not None else None,
            started_at=str(data.get("started_at", "")),
            jar=str(data.get("jar", "")),
            port=port,
            database=str(data.get("database", "")),
        )


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


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- the engine ------------------------------------------------------------------------------


def jars_in_use(proc: Path = Path("/proc")) -> set[str]:
    """The jar paths on the command lines of the processes running now (``java -jar X``)."""
    found: set[str] = set()
    for entry in proc.glob("[0-9]*/cmdline"):
        try:
            args = entry.read_bytes().split(b"\0")
        except OSError:
            continue
        for arg in args:
            if arg.endswith(b".jar"):
                found.add(os.fsdecode(arg))
    return found


class LocalEngine:
    """One local Operaton engine per state dir. See the module docstring for the layout.

    Stable API for other code: :attr:`base_url`, :attr:`rest_url`, :attr:`cockpit_url`,
    :attr:`admin_user`, :meth:`admin_password`, :meth:`status`, :meth:`logs`, :meth:`up`,
    :meth:`down`, :meth:`build`.
    """

    def __init__(
        self,
        state_dir: Path | None = None,
        *,
        cache_dir: Path | None = None,
        module_dir: Path | None = None,
        port: int | None = None,
        host: str | None = None,
        env: Mapping[str, str] | None = None,
        java_finder: Callable[[], JavaRuntime] | None = None,
        start_timeout: float = DEFAULT_START_TIMEOUT,
        stop_timeout: float = DEFAULT_STOP_TIMEOUT,
    ) -> None:
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.state_dir = (state_dir or default_state_dir(self.env)).expanduser().resolve()
        self.cache_dir = (cache_dir or default_cache_dir(self.env)).expanduser().resolve()
        self.module_dir = (module_dir or DEFAULT_MODULE_DIR).expanduser().resolve()
        self.port = port if port is not None else port_from_env(self.env)
        self.host = host or self.env.get(ENV_HOST, "").strip() or DEFAULT_HOST
        self.rest_auth = rest_auth_from_env(self.env, self.host)
        self.java_finder: Callable[[], JavaRuntime] = java_finder or (
            lambda: find_java(env=self.env)
        )
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout

    # addresses

    @property
    def connect_host(self) -> str:
        """Where clients on this machine reach the engine (loopback for a wildcard bind)."""
        return "127.0.0.1" if self.host in _WILDCARD else self.host

    @property
    def base_url(self) -> str:
        host = self.connect_host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    @property
    def rest_url(self) -> str:
        return f"{self.base_url}/engine-rest"

    @property
    def cockpit_url(self) -> str:
        return f"{self.base_url}/operaton/app/cockpit/default/"

    @property
    def readiness_url(self) -> str:
        return f"{self.rest_url}/engine"

    @property
    def admin_user(self) -> str:
        return self.env.get(ENV_ADMIN_USER, "").strip() or DEFAULT_ADMIN_USER

    # paths

    @property
    def engine_dir(self) -> Path:
        return self.state_dir / "engine"

    @property
    def pid_path(self) -> Path:
        return self.engine_dir / "engine.pid"

    @property
    def log_path(self) -> Path:
        return self.engine_dir / "engine.log"

    @property
    def password_path(self) -> Path:
        return self.engine_dir / "admin-password"

    @property
    def h2_dir(self) -> Path:
        return self.engine_dir / "h2"

    @property
    def jdbc_url(self) -> str | None:
        """The external database (e.g. PostgreSQL), or None for H2 in the state dir."""
        return self.env.get(ENV_JDBC_URL, "").strip() or None

    def database(self) -> str:
        """Which database the engine (as configured now) uses; never a password."""
        url = self.jdbc_url
        if url is None:
            return f"H2 (file {self.h2_dir / 'operaton-h2'})"
        kind = "PostgreSQL" if url.startswith("jdbc:postgresql:") else "external"
        user = self.env.get(ENV_DB_USER, "").strip()
        return f"{kind} {redact_jdbc_url(url)}" + (f" (user {user})" if user else "")

    def _ensure_engine_dir(self) -> None:
        self.engine_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with contextlib.suppress(OSError):
            self.engine_dir.chmod(0o700)

    # admin password

    def admin_password(self) -> str:
        """``$REVIEWFLOW_ENGINE_ADMIN_PASSWORD``, else the state dir's password file, created
        (mode 0600, a fresh ``secrets.token_urlsafe``) when missing."""
        override = self.env.get(ENV_ADMIN_PASSWORD, "")
        if override.strip():
            return override.strip()
        self._ensure_engine_dir()
        h2_file = self.h2_dir / "operaton-h2.mv.db"
        if not self.password_path.exists() and self.jdbc_url is None and h2_file.exists():
            # the engine created the admin user in that database with an earlier password;
            # a new one here would never match it
            raise EngineError(
                f"{self.password_path} is missing but the database {h2_file} exists, with the "
                "admin user of an earlier start: set REVIEWFLOW_ENGINE_ADMIN_PASSWORD to that "
                f"password, or delete {self.h2_dir} to start afresh (all engine data is lost)"
            )
        try:
            fd = os.open(self.password_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            mode = stat.S_IMODE(self.password_path.stat().st_mode)
            if mode & 0o077:
                self.password_path.chmod(0o600)  # never left readable by others
            password = self.password_path.read_text().strip()
            if not password:
                raise EngineError(
                    f"{self.password_path} is empty; delete it to have a new password "
                    "generated (an existing H2 database keeps the old one: delete "
                    f"{self.h2_dir} too, or set {ENV_ADMIN_PASSWORD})"
                ) from None
            return password
        password = secrets.token_urlsafe(18)
        with os.fdopen(fd, "w") as handle:
            handle.write(password + "\n")
        return password

    def known_admin_password(self) -> str | None:
        """The admin password if one is set or stored; never creates one."""
        override = self.env.get(ENV_ADMIN_PASSWORD, "").strip()
        if override:
            return override
        try:
            return self.password_path.read_text().strip() or None
        except OSError:
            return None

    # the jar

    def jar_path(self) -> Path:
        """Where the jar for the module's current sources is (built or not)."""
        prebuilt = self.env.get(ENV_JAR, "").strip()
        if prebuilt:
            return Path(prebuilt).expanduser().resolve()
        return self.cache_dir / "engine" / module_hash(self.module_dir) / JAR_NAME

    def build(self, force: bool = False) -> Path:
        """The engine jar for the module's current sources, built with Maven when missing."""
        prebuilt = self.env.get(ENV_JAR, "").strip()
        if prebuilt:
            jar = Path(prebuilt).expanduser().resolve()
            if not jar.is_file():
                raise EngineError(f"{ENV_JAR}={prebuilt} is not a file")
            return jar
        jar = self.jar_path()
        with _locked(self.cache_dir / "engine" / ".build.lock"):
            if jar.is_file() and not force:
                return jar
            self._maven_build(jar)
        return jar

    def _maven_build(self, jar: Path) -> None:
        mvn = shutil.which("mvn", path=self.env.get("PATH"))
        if mvn is None:
            raise EngineError(
                "Maven ('mvn') is needed to build the engine (the Spring Boot module "
                f"{self.module_dir}) and was not found on PATH. Install Maven 3.8+ "
                f"(e.g. apt-get install maven), or set {ENV_JAR} to a prebuilt "
                f"{JAR_NAME}."
            )
        java = self.java_finder()
        target = jar.parent
        target.mkdir(parents=True, exist_ok=True)
        build_log = target / "build.log"
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as tmp:
            work = Path(tmp)
            shutil.copy2(self.module_dir / "pom.xml", work / "pom.xml")
            if (self.module_dir / "src").is_dir():
                shutil.copytree(self.module_dir / "src", work / "src")
            env = dict(self.env)
            env["JAVA_HOME"] = str(java.home)
            command = [mvn, "-B", "-q", "-f", str(work / "pom.xml"), "package", "-DskipTests"]
            started = time.monotonic()
            try:
                result = subprocess.run(
                    command,
                    cwd=work,
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                    timeout=DEFAULT_BUILD_TIMEOUT,
                )
            except subprocess.TimeoutExpired as exc:
                raise EngineError(
                    f"building the engine with Maven took over {DEFAULT_BUILD_TIMEOUT:.0f} s"
                ) from exc
            output = result.stdout + result.stderr
            build_log.write_text(
                f"$ {shlex.join(command)}  (JAVA_HOME={java.home}, Java {java.version})\n"
                f"exit {result.returncode} after {time.monotonic() - started:.1f} s\n{output}"
            )
            built = work / "target" / JAR_NAME
            if result.returncode != 0 or not built.is_file():
                tail = "\n".join(output.splitlines()[-30:])
                raise EngineError(
                    f"building the engine with Maven failed (exit {result.returncode}; "
                    f"full output in {build_log}):\n{tail}"
                )
            partial = jar.with_name(jar.name + ".part")
            shutil.move(str(built), partial)
            partial.replace(jar)
        self._prune_builds(keep=jar.parent)

    def _prune_builds(self, keep: Path) -> None:
        """Delete all but the newest ``KEEP_BUILDS`` builds: never ``keep`` (the one just
        made), and never a jar a running engine uses (Spring Boot reads its nested jars by
        path while it runs: another checkout's build must not pull it away)."""
        builds = sorted(
            (d for d in keep.parent.iterdir() if d.is_dir() and (d / JAR_NAME).is_file()),
            key=lambda d: (d / JAR_NAME).stat().st_mtime,
            reverse=True,
        )
        in_use = jars_in_use()
        for old in builds[KEEP_BUILDS:]:
            if old != keep and str(old / JAR_NAME) not in in_use:
                shutil.rmtree(old, ignore_errors=True)

    # pid file

    def read_pid_record(self) -> PidRecord | None:
        try:
            text = self.pid_path.read_text()
        except OSError:
            return None
        return PidRecord.from_text(text)

    def owns_process(self, record: PidRecord) -> bool:
        """True only if ``record.pid`` is still the engine this state dir started."""
        if not pid_alive(record.pid):
            return False
        if record.start_time is None or process_start_time(record.pid) != record.start_time:
            return False
        cmdline = process_cmdline(record.pid)
        return bool(record.jar) and record.jar in cmdline and JAR_NAME in cmdline

    # probes

    def _ready(self) -> bool:
        """The REST API answers with the default process engine."""
        try:
            # a local probe: never through an HTTP(S)_PROXY from the environment
            response = httpx.get(self.readiness_url, timeout=2.0, trust_env=False)
        except httpx.HTTPError:
            return False
        if response.status_code != 200:
            return False
        try:
            engines: Any = response.json()
        except ValueError:
            return False
        return isinstance(engines, list) and any(
            isinstance(e, dict) and e.get("name") == "default" for e in engines
        )

    def status(self) -> EngineStatus:
        record = self.read_pid_record()
        alive = record is not None and self.owns_process(record)
        ready = self._ready()
        database = record.database if alive and record is not None and record.database else ""
        return EngineStatus(
            healthy=alive and ready,
            pid=record.pid if record is not None else None,
            rest_url=self.rest_url,
            cockpit_url=self.cockpit_url,
            database=database or self.database(),
            process_alive=alive,
            rest_ready=ready,
            bind_host=self.host,
            rest_auth=self.rest_auth,
            admin_user=self.admin_user,
            log_path=self.log_path,
        )

    def logs(self, lines: int = 100) -> str:
        return tail_file(self.log_path, lines)

    # lifecycle

    def up(self, timeout: float | None = None) -> UpResult:
        """Start the engine (building its jar first if needed), or reuse the one this state dir
        already runs. Idempotent; two concurrent calls for one state dir start one engine.
        ``timeout`` bounds the wait for the REST API (not the build)."""
        self._ensure_engine_dir()
        with _locked(self.engine_dir / ".up.lock"):
            return self._up(self.start_timeout if timeout is None else timeout)

    def _up(self, timeout: float) -> UpResult:
        record = self.read_pid_record()
        if record is not None:
            if self.owns_process(record):
                if record.port is not None and record.port != self.port:
                    raise EngineError(
                        f"the engine of this state dir already runs on port {record.port} "
                        f"(pid {record.pid}), not {self.port}: set {ENV_PORT}={record.port}, "
                        "or `reviewflow engine down` first"
                    )
                self._wait_ready(record.pid, None, timeout)
                return UpResult(started=False, status=self.status())
            self.pid_path.unlink(missing_ok=True)  # stale: that process is gone or not ours

        if port_open(self.connect_host, self.port):
            legacy = self.legacy_broker()
            hint = (
                " A Zeebe broker started by an older reviewflow still runs from this state dir "
                f"(pid {legacy.pid}): `reviewflow engine down` stops it."
                if legacy is not None
                else ""
            )
            raise EngineError(
                f"port {self.port} on {self.connect_host} is already in use, by a program not "
                f"started from this state dir ({self.state_dir}): another engine, or something "
                f"else. Stop it, or choose another port with {ENV_PORT}.{hint}"
            )
        java = self.java_finder()
        jar = self.build()
        password = self.admin_password()
        database = self.database()
        process = self._spawn(java, jar, password)
        self.pid_path.write_text(
            PidRecord(
                pid=process.pid,
                start_time=process_start_time(process.pid),
                started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                jar=str(jar),
                port=self.port,
                database=database,
            ).to_json()
        )
        try:
            self._wait_ready(process.pid, process, timeout)
        except EngineStartError:
            self._terminate(process.pid)
            self.pid_path.unlink(missing_ok=True)
            raise
        return UpResult(started=True, status=self.status())

    def engine_environment(self, password: str) -> dict[str, str]:
        """The engine process's environment: ours plus what ``application.yaml`` reads."""
        env = dict(self.env)
        env[ENV_BIND] = self.host
        env[ENV_PORT] = str(self.port)
        env[ENV_H2_DIR] = str(self.h2_dir)
        env[ENV_ADMIN_USER] = self.admin_user
        env[ENV_ADMIN_PASSWORD] = password
        env[ENV_REST_AUTH] = "true" if self.rest_auth else "false"
        url = self.jdbc_url
        if url is not None and url.startswith("jdbc:postgresql:"):
            env.setdefault(ENV_DATABASE_TYPE, "postgres")
        return env

    def _spawn(self, java: JavaRuntime, jar: Path, password: str) -> "subprocess.Popen[bytes]":
        opts = shlex.split(self.env.get(ENV_JAVA_OPTS, "").strip() or DEFAULT_JAVA_OPTS)
        command = [str(java.executable), *opts, "-jar", str(jar)]
        env = self.engine_environment(password)
        env["JAVA_HOME"] = str(java.home)
        self._ensure_engine_dir()
        if self.jdbc_url is None:
            self.h2_dir.mkdir(exist_ok=True, mode=0o700)
        with self.log_path.open("ab") as log:
            stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            log.write(
                f"\n=== reviewflow: starting Operaton {OPERATON_VERSION} at {stamp} on "
                f"{self.host}:{self.port} with Java {java.version} ({java.home}), "
                f"{self.database()} ===\n".encode()
            )
            log.flush()
            return subprocess.Popen(
                command,
                cwd=self.engine_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )

    def _wait_ready(
        self, pid: int, process: "subprocess.Popen[bytes] | None", timeout: float
    ) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if process is not None and process.poll() is not None:
                raise EngineStartError(
                    f"the engine exited with code {process.returncode} during start-up "
                    f"(log: {self.log_path})",
                    self.logs(40),
                )
            if process is None and not pid_alive(pid):
                raise EngineStartError(
                    f"the engine (pid {pid}) died while starting (log: {self.log_path})",
                    self.logs(40),
                )
            if self._ready():
                return
            if time.monotonic() >= deadline:
                raise EngineStartError(
                    f"the engine (pid {pid}) was not ready after {timeout:.0f} s "
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
            raise EngineError(f"the engine (pid {pid}) did not stop even after SIGKILL")

    def legacy_broker(self) -> PidRecord | None:
        """The Zeebe broker an older reviewflow started from this state dir, if it still runs
        (same checks as for our engine: start time and command line)."""
        try:
            record = PidRecord.from_text((self.engine_dir / LEGACY_BROKER_PID).read_text())
        except OSError:
            return None
        if record is None or not pid_alive(record.pid):
            return None
        if record.start_time is None or process_start_time(record.pid) != record.start_time:
            return None
        return record if LEGACY_BROKER_MAIN_CLASS in process_cmdline(record.pid) else None

    def _stop_legacy_broker(self) -> str | None:
        legacy_path = self.engine_dir / LEGACY_BROKER_PID
        if not legacy_path.exists():
            return None
        legacy = self.legacy_broker()
        if legacy is not None:
            self._terminate(legacy.pid)
        legacy_path.unlink(missing_ok=True)
        if legacy is None:
            return None
        return f"stopped the Zeebe broker an older reviewflow had started (pid {legacy.pid})"

    def down(self) -> DownResult:
        """Stop the engine this state dir started (and a Zeebe broker an older reviewflow
        started from it). Never signals any other process."""
        legacy = self._stop_legacy_broker()
        result = self._down()
        if legacy is None:
            return result
        return DownResult(True, result.pid, f"{legacy}; {result.message}")

    def _down(self) -> DownResult:
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
                    f"pid {record.pid} from the pid file is not the engine this state dir "
                    "started (the pid was reused); left it alone and removed the stale pid file"
                )
            else:
                message = f"the engine (pid {record.pid}) was not running; removed its pid file"
            return DownResult(False, record.pid, message)
        self._terminate(record.pid)
        self.pid_path.unlink(missing_ok=True)
        return DownResult(True, record.pid, f"stopped the engine (pid {record.pid})")
