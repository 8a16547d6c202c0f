"""A throwaway PostgreSQL cluster for the tests and benchmarks.

``initdb`` and ``pg_ctl`` from Debian's packages (``/usr/lib/postgresql/N/bin``)
make a cluster in a temporary directory, listening on loopback on its own port
and socket directory, run by the ``postgres`` user when we are root
(PostgreSQL refuses to run as root). The service connects over TCP as an
ordinary role with a password; each test gets a fresh database owned by that
role. Each test gets a fresh store: a schema of its own, owned by that role, in
one database (``CREATE SCHEMA`` takes a millisecond; ``CREATE DATABASE`` copies a
7 MB template and checkpoints, and a thousand of them filled the disk).

``start()`` creates the cluster (first time) and starts the server; ``stop()``,
``restart()`` and ``start()`` again stop and start the server on the same data
(a database outage, for the tests that need one); ``terminate_sessions()`` ends
the application's connections as an administrator would. ``close()`` removes
everything.
"""

import contextlib
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

from tests.support.server import free_port

APP_ROLE = "tradewinds"
APP_PASSWORD = "tradewinds-test"
TEST_DATABASE = "tradewinds_tests"


class PostgresUnavailable(RuntimeError):
    pass


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's binaries."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not found:
        msg = "no /usr/lib/postgresql/*/bin/initdb (install Debian's postgresql package)"
        raise PostgresUnavailable(msg)
    return found[-1].parent


class PostgresCluster:
    def __init__(self, *, durable: bool = False) -> None:
        """``durable=False`` (tests) turns fsync off; benchmarks keep it on."""
        self.bin = postgres_bin()
        self.root = Path(tempfile.mkdtemp(prefix="tradewinds-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "socket"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self.durable = durable
        self._user: str | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError as e:
                msg = "running as root needs the 'postgres' user (from Debian's package)"
                raise PostgresUnavailable(msg) from e
            self._user = "postgres"
        self._names = itertools.count(1)

    def _run(self, *args: str) -> None:
        command = list(args)
        if self._user is not None:
            command = ["runuser", "-u", self._user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> "PostgresCluster":
        """Create the cluster if it is new, then start the server (waits until it
        accepts connections)."""
        if self.data.exists():
            self._pg_ctl("start")
            return self
        self.socket_dir.mkdir(parents=True)
        self.root.chmod(0o755)
        if self._user is not None:
            shutil.chown(self.root, self._user)
            shutil.chown(self.socket_dir, self._user)
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--no-sync",
        )
        self._pg_ctl("start")
        with self._admin() as conn:
            conn.execute(f"CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{APP_PASSWORD}'")
            conn.execute(f"CREATE DATABASE {TEST_DATABASE} OWNER {APP_ROLE}")
        return self

    def _pg_ctl(self, action: str, *args: str) -> None:
        options = [
            "-c listen_addresses=127.0.0.1",
            f"-p {self.port}",
            f"-k {self.socket_dir}",
            "-c max_connections=300",
            "-c shared_buffers=64MB",
        ]
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            " ".join(options),
            "-w",
            "-t",
            "60",
            *args,
            action,
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: sessions are ended, as on a routine restart),
        keeping its data."""
        self._pg_ctl("stop", "-m", mode)

    def restart(self, mode: str = "fast") -> None:
        """``pg_ctl restart``: every session ends; the server is back when it returns."""
        self._pg_ctl("restart", "-m", mode)

    def terminate_sessions(self, user: str = APP_ROLE) -> int:
        """End every session of ``user`` (``pg_terminate_backend``); returns how many."""
        with self._admin() as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE usename = %s AND pid <> pg_backend_pid()",
                (user,),
            ).fetchall()
        return len(rows)

    def _admin(self, dbname: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user="postgres",
            dbname=dbname,
            autocommit=True,
        )

    def url(self, dbname: str) -> str:
        return f"postgresql://{APP_ROLE}:{APP_PASSWORD}@127.0.0.1:{self.port}/{dbname}"

    def new_database(self) -> str:
        """A new empty database owned by the application role; returns its URL."""
        name = f"d{next(self._names)}"
        with self._admin() as conn:
            conn.execute(f"CREATE DATABASE {name} OWNER {APP_ROLE}")
        return self.url(name)

    def new_store(self) -> str:
        """A new empty schema, owned by the application role, in the tests' database;
        returns the URL that selects it."""
        name = f"s{next(self._names)}"
        with self._admin(TEST_DATABASE) as conn:
            conn.execute(f"CREATE SCHEMA {name} AUTHORIZATION {APP_ROLE}")
        return f"{self.url(TEST_DATABASE)}?schema={name}"

    def close(self) -> None:
        """Stop the server (if running) and remove the cluster."""
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "PostgresCluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
