"""The store: eventsourcing's recorders for SQLite and PostgreSQL, the group
committer and the event log that ties them to the projection.

``PERSISTENCE_MODULE=service.persistence:<Factory>`` names the factories here (the
eventsourcing environment the service builds), so they are exported by name."""

from service.persistence.postgresstore import PostgresStoreFactory
from service.persistence.sqlitestore import SQLiteStoreFactory

__all__ = ["PostgresStoreFactory", "SQLiteStoreFactory"]
