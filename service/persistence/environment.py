"""eventsourcing's environment for the store the settings name: a SQLite file in the
data directory, or the PostgreSQL database of ``TRADEWINDS_DATABASE_URL``."""

from urllib.parse import parse_qsl, unquote, urlsplit

from eventsourcing.postgres import PostgresFactory

from service.persistence.postgresstore import PostgresStoreFactory
from service.persistence.sqlitestore import SQLiteStoreFactory
from service.settings import Settings

# Query parameters of TRADEWINDS_DATABASE_URL, and the eventsourcing settings they set.
URL_PARAMETERS = {
    "pool_size": PostgresFactory.POSTGRES_POOL_SIZE,
    "max_overflow": PostgresFactory.POSTGRES_MAX_OVERFLOW,
    "max_waiting": PostgresFactory.POSTGRES_MAX_WAITING,
    "connect_timeout": PostgresFactory.POSTGRES_CONNECT_TIMEOUT,
    "lock_timeout": PostgresFactory.POSTGRES_LOCK_TIMEOUT,
    "idle_in_transaction_session_timeout": (
        PostgresFactory.POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT
    ),
    "conn_max_age": PostgresFactory.POSTGRES_CONN_MAX_AGE,
    "pre_ping": PostgresFactory.POSTGRES_PRE_PING,
    "schema": PostgresFactory.POSTGRES_SCHEMA,
}
URL_DEFAULTS = {"connect_timeout": "5", "pre_ping": "yes"}
"""``pre_ping``: the pool checks a connection before handing it out (psycopg_pool's
``check_connection``), so after a database restart the dead ones are replaced
instead of failing one request each."""


class DatabaseUrlError(ValueError):
    pass


def postgres_env(url: str) -> dict[str, str]:
    """eventsourcing's POSTGRES_* settings from a ``postgresql://`` URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        msg = f"TRADEWINDS_DATABASE_URL must start with postgresql://, not {parts.scheme}://"
        raise DatabaseUrlError(msg)
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname or parts.username is None:
        msg = "TRADEWINDS_DATABASE_URL needs a user and a database: postgresql://user:pw@host/db"
        raise DatabaseUrlError(msg)
    env = {
        "PERSISTENCE_MODULE": "service.persistence:PostgresStoreFactory",
        PostgresFactory.POSTGRES_DBNAME: dbname,
        PostgresFactory.POSTGRES_HOST: parts.hostname or "localhost",
        PostgresFactory.POSTGRES_PORT: str(parts.port or 5432),
        PostgresFactory.POSTGRES_USER: unquote(parts.username),
        PostgresFactory.POSTGRES_PASSWORD: unquote(parts.password or ""),
    }
    options = {**URL_DEFAULTS, **dict(parse_qsl(parts.query, keep_blank_values=True))}
    unknown = sorted(set(options) - set(URL_PARAMETERS))
    if unknown:
        msg = (
            f"unknown TRADEWINDS_DATABASE_URL parameters: {', '.join(unknown)} (known: "
            f"{', '.join(URL_PARAMETERS)}; TLS is set with libpq's PGSSLMODE, PGSSLROOTCERT)"
        )
        raise DatabaseUrlError(msg)
    for name, value in options.items():
        env[URL_PARAMETERS[name]] = value
    return env


def eventsourcing_env(settings: Settings) -> dict[str, str]:
    """The eventsourcing environment for the store these settings name."""
    if settings.database_url is not None:
        return {
            **postgres_env(settings.database_url),
            PostgresStoreFactory.POLL_INTERVAL: str(settings.poll_interval_s),
            **settings.extra_env,
        }
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return {
        "PERSISTENCE_MODULE": "service.persistence:SQLiteStoreFactory",
        "SQLITE_DBNAME": str(settings.sqlite_path),
        "SQLITE_LOCK_TIMEOUT": "30",
        SQLiteStoreFactory.POLL_INTERVAL: str(settings.poll_interval_s),
        **settings.extra_env,
    }
