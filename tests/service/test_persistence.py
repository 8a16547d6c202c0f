"""TRADEWINDS_DATABASE_URL: the eventsourcing settings it stands for."""

from pathlib import Path

import pytest

from service.persistence import DatabaseUrlError, eventsourcing_env, postgres_env
from service.settings import Settings, settings_from_env


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
