"""A throwaway PostgreSQL server for tests: ``initdb`` in a temporary directory, ``pg_ctl`` on a
free loopback port, one database, trust authentication on 127.0.0.1 (test data only), and
everything removed at :meth:`PostgresServer.stop`.

PostgreSQL refuses to run as root: under root the server's commands run as the ``postgres``
user (Debian's package creates it) through ``runuser``, and the directory is handed to it.
The binaries come from ``/usr/lib/postgresql/<version>/bin`` (Debian's layout, newest version
first) or ``PATH``; ``scripts/setup`` installs Debian's ``postgresql`` when they are missing.
"""

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Self

DATABASE = "reviewflow"
USER = "reviewflow"
SERVICE_USER = "postgres"


class PostgresUnavailable(RuntimeError):
    """PostgreSQL's server binaries are missing or the server did not start."""


def pg_bindir() -> Path:
    """The directory with ``initdb`` and ``pg_ctl``."""
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for candidate in versions:
        if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            return candidate
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    raise PostgresUnavailable(
        "PostgreSQL's initdb/pg_ctl were not found (/usr/lib/postgresql/*/bin or PATH): run "
        "scripts/setup (it installs Debian's postgresql package) or install PostgreSQL 15+"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """``with PostgresServer() as pg:`` → ``pg.jdbc_url``, ``pg.psql(sql)``."""

    def __init__(self, prefix: str = "rf-cluster-pg-") -> None:
        self.bindir = pg_bindir()
        self.root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self.started = False
        self._as_service_user = os.geteuid() == 0

    @property
    def jdbc_url(self) -> str:
        return f"jdbc:postgresql://127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, *command: str, timeout: float = 60) -> str:
        argv = [*command]
        if self._as_service_user:
            argv = ["runuser", "-u", SERVICE_USER, "--", *argv]
        result = subprocess.run(
            argv, capture_output=True, text=True, check=False, timeout=timeout, cwd=self.root
        )
        if result.returncode != 0:
            raise PostgresUnavailable(
                f"{' '.join(command)} failed ({result.returncode}): "
                f"{(result.stderr or result.stdout)[-2000:]}\n{self.log_tail()}"
            )
        return result.stdout

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def start(self) -> None:
        if self._as_service_user:
            try:
                account = pwd.getpwnam(SERVICE_USER)
            except KeyError:
                raise PostgresUnavailable(
                    f"running as root, and there is no {SERVICE_USER!r} user to run PostgreSQL "
                    "as (initdb refuses root): install Debian's postgresql package"
                ) from None
            os.chown(self.root, account.pw_uid, account.pw_gid)
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            USER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        )
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        self.started = True
        self.psql(f"CREATE DATABASE {DATABASE}", database="postgres")

    def psql(self, sql: str, database: str = DATABASE, **params: str) -> list[list[str]]:
        """Rows of ``sql`` (fields as text), through ``psql`` over TCP as the test user.
        ``params`` are psql variables: write ``:'name'`` in ``sql`` for a quoted literal."""
        variables = [arg for name, value in params.items() for arg in ("-v", f"{name}={value}")]
        psql = self.bindir / "psql"
        result = subprocess.run(
            [
                str(psql if psql.is_file() else "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                USER,
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-AtX",
                "-F",
                "\t",
                *variables,
            ],
            input=sql,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
            env={**os.environ, "PGCONNECT_TIMEOUT": "10"},
        )
        if result.returncode != 0:
            raise PostgresUnavailable(f"psql {sql!r} failed: {result.stderr.strip()}")
        return [line.split("\t") for line in result.stdout.splitlines() if line]

    def stop(self) -> None:
        if self.started:
            with contextlib.suppress(PostgresUnavailable, subprocess.TimeoutExpired):
                self._run(
                    str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"
                )
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
