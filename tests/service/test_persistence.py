"""TRADEWINDS_DATABASE_URL: the eventsourcing settings it stands for."""

import os
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError

from domain.records import EventRecord
from service.bootstrap import open_eventlog
from service.persistence.environment import DatabaseUrlError, eventsourcing_env, postgres_env
from service.persistence.errors import StoreFull, as_store_error
from service.persistence.eventlog import EventLog
from service.persistence.postgresstore import SharedPostgresRecorder
from service.persistence.sqlitestore import NotifyingSQLiteRecorder
from service.settings import Settings, settings_from_env
from tests.support.postgres import PostgresCluster

BODY = '{"kind":"signal","occurred_at":"2025-01-01T00:00:00Z","summary":"s","label":"x"}'


def test_the_url_gives_every_connection_setting() -> None:
    env = postgres_env("postgresql://app:p%40ss@db.example:6543/tradewinds")
    assert env["PERSISTENCE_MODULE"] == "service.persistence:PostgresStoreFactory"
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"]) == ("db.example", "6543")
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]) == ("app", "p@ss")
    assert env["POSTGRES_DBNAME"] == "tradewinds"
    assert env["POSTGRES_CONNECT_TIMEOUT"] == "5"  # a missing server fails start, not hangs it
    assert "POSTGRES_ENABLE_DB_FUNCTIONS" not in env


def test_query_parameters_set_the_pool_and_timeouts() -> None:
    url = (
        "postgres://app:pw@localhost/db?pool_size=3&max_overflow=7&connect_timeout=2"
        "&lock_timeout=9&idle_in_transaction_session_timeout=11&max_waiting=4&schema=tw"
    )
    env = postgres_env(url)
    assert env["POSTGRES_PORT"] == "5432"
    assert {k: env[k] for k in env if k.startswith("POSTGRES_") and "TIMEOUT" in k} == {
        "POSTGRES_CONNECT_TIMEOUT": "2",
        "POSTGRES_LOCK_TIMEOUT": "9",
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "11",
    }
    assert (env["POSTGRES_POOL_SIZE"], env["POSTGRES_MAX_OVERFLOW"]) == ("3", "7")
    assert (env["POSTGRES_MAX_WAITING"], env["POSTGRES_SCHEMA"]) == ("4", "tw")


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("mysql://app:pw@localhost/db", "postgresql://"),
        ("postgresql://localhost/db", "user and a database"),
        ("postgresql://app:pw@localhost/", "user and a database"),
        ("postgresql://app:pw@localhost/db?poolsize=3", "poolsize"),
    ],
)
def test_a_bad_url_is_refused_with_the_reason(url: str, complaint: str) -> None:
    with pytest.raises(DatabaseUrlError, match=complaint):
        postgres_env(url)


def test_the_setting_selects_postgresql_and_unset_keeps_sqlite(tmp_path: Path) -> None:
    url = "postgresql://app:pw@localhost/db"
    settings = settings_from_env({"TRADEWINDS_DATABASE_URL": url})
    assert settings.database_url == url
    assert eventsourcing_env(settings)["POSTGRES_DBNAME"] == "db"
    sqlite = eventsourcing_env(Settings(data_dir=tmp_path))
    assert sqlite["PERSISTENCE_MODULE"] == "service.persistence:SQLiteStoreFactory"


# --- the store's outages, as the service names them ------------------------------------


@pytest.fixture
def pg_log(postgres_cluster: PostgresCluster, tmp_path: Path) -> Iterator[EventLog]:
    settings = Settings(data_dir=tmp_path / "data", database_url=postgres_cluster.new_store())
    with open_eventlog(settings) as event_log:
        yield event_log


def test_the_commit_lock_survives_the_server_ending_its_session(
    pg_log: EventLog, postgres_cluster: PostgresCluster
) -> None:
    """The advisory unlock on a connection the server ended raised AdminShutdown out of
    the lock, and killed the writer that held it."""
    recorder = pg_log.app.recorder
    assert isinstance(recorder, SharedPostgresRecorder)
    with recorder.commit_lock():
        assert postgres_cluster.terminate_sessions() >= 1
    # the lock was released with the session: once the pool has dropped the dead
    # connections (as the writer has it do before trying again), it is taken at once
    assert recorder.probe() == 0
    with recorder.commit_lock() as head:
        assert head == 0


def test_a_lost_connection_is_store_unavailable(
    pg_log: EventLog, postgres_cluster: PostgresCluster
) -> None:
    recorder = pg_log.app.recorder
    assert isinstance(recorder, SharedPostgresRecorder)
    with recorder.datastore.get_connection() as conn:
        postgres_cluster.terminate_sessions()
        with pytest.raises(psycopg.Error) as raised:
            conn.execute("SELECT 1")
    problem = as_store_error(raised.value)
    assert problem is not None
    assert not isinstance(problem, StoreFull)
    assert recorder.probe() == 0  # the pool replaced the dead connections


def test_a_full_sqlite_database_is_store_full(tmp_path: Path) -> None:
    """SQLite at its page limit raises the same error as on a full disk."""
    connection = sqlite3.connect(tmp_path / "small.sqlite3")
    connection.execute("CREATE TABLE t (x BLOB)")
    connection.execute("PRAGMA max_page_count = 3")
    with pytest.raises(sqlite3.OperationalError) as raised:
        connection.execute("INSERT INTO t VALUES (?)", (b"x" * 100_000,))
    connection.close()
    problem = as_store_error(raised.value)
    assert isinstance(problem, StoreFull)
    assert "full" in problem.detail


def test_a_conflict_or_a_bug_is_not_an_outage() -> None:
    assert as_store_error(IntegrityError("duplicate")) is None
    assert as_store_error(ValueError("bug")) is None


# --- the SQLite commit lock ---------------------------------------------------------------


def _open_lock_files(lock_path: Path) -> list[str]:
    """This process's file descriptors open on ``lock_path``."""
    fds = Path("/proc/self/fd")
    found = []
    for fd in fds.iterdir():
        try:
            if Path(os.readlink(fd)) == lock_path:
                found.append(fd.name)
        except OSError:
            continue
    return found


@pytest.fixture
def sqlite_logs(tmp_path: Path) -> Iterator[tuple[EventLog, EventLog]]:
    settings = Settings(data_dir=tmp_path / "data")
    with open_eventlog(settings) as first, open_eventlog(settings) as second:
        yield first, second


def test_the_sqlite_commit_lock_keeps_its_file_open_between_commits(
    sqlite_logs: tuple[EventLog, EventLog],
) -> None:
    """Opening the lock file for every commit cost CPU on each append (issue 19): the
    file stays open, the ``flock`` on it is still taken per commit."""
    recorder = sqlite_logs[0].app.recorder
    assert isinstance(recorder, NotifyingSQLiteRecorder)
    lock_path = Path(recorder.datastore.pool.db_name + ".lock").resolve()
    with recorder.commit_lock():
        pass
    held_open = _open_lock_files(lock_path)
    with recorder.commit_lock():
        pass
    assert len(held_open) == 1
    assert _open_lock_files(lock_path) == held_open


def test_two_sqlite_recorders_take_the_lock_in_turn_and_see_each_other_s_head(
    sqlite_logs: tuple[EventLog, EventLog],
) -> None:
    """Each replica holds its own lock file open: they still exclude each other, and the
    head read under the lock is the other's last commit."""
    first, second = (log.app.recorder for log in sqlite_logs)
    assert isinstance(first, NotifyingSQLiteRecorder)
    assert isinstance(second, NotifyingSQLiteRecorder)
    heads: list[int] = []
    taken = threading.Event()

    def take_second() -> None:
        with second.commit_lock() as head:
            heads.append(head)
            taken.set()

    with first.commit_lock() as head:
        assert head == 0
        waiting = threading.Thread(target=take_second)
        waiting.start()
        assert not taken.wait(0.3)
        sqlite_logs[0].app.save(EventRecord.record(uuid4(), BODY, datetime.now(UTC)))
    assert taken.wait(10)
    waiting.join(10)
    assert heads == [1]
