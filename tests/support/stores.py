"""The two stores the service runs on, as the tests see them: a fresh log per
test, on SQLite (a file in the test's directory) or PostgreSQL (a new schema on
the session's throwaway cluster)."""

from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from service.settings import Settings

STORES = ("sqlite", "postgresql")

sqlite_only = pytest.mark.parametrize("store", ["sqlite"], indirect=True)
"""For a test of what the service computes over its index (scores, checks of a
request before anything is stored), where the store only holds the input: run on
SQLite alone, as the PostgreSQL run repeats the same computation. Store behaviour
(writing, reading back, listing, claims, outages) stays on both stores."""


class Store:
    def __init__(self, kind: str, new_database: Callable[[], str] | None) -> None:
        self.kind = kind
        self._new_database = new_database
        self.url = self.new_url()

    def new_url(self) -> str | None:
        """A new empty PostgreSQL store (None on SQLite, where the directory is the store)."""
        return self._new_database() if self._new_database is not None else None

    def settings(self, data_dir: Path, **values: object) -> Settings:
        """Settings on this test's store."""
        return msgspec.structs.replace(Settings(data_dir=data_dir, database_url=self.url), **values)

    def new_settings(self, data_dir: Path, **values: object) -> Settings:
        """Settings on another, empty store of the same kind."""
        return Settings(data_dir=data_dir, database_url=self.new_url(), **values)  # type: ignore[arg-type]

    @property
    def server_env(self) -> dict[str, str]:
        """The environment that points ``tradewinds serve`` at this test's store."""
        return {} if self.url is None else {"TRADEWINDS_DATABASE_URL": self.url}


def make_store(request: pytest.FixtureRequest) -> Store:
    """An empty store of the kind a fixture is parametrised with (``STORES``); the
    PostgreSQL ones come from the session's cluster (fixture ``postgres_cluster``)."""
    if request.param == "postgresql":
        cluster = request.getfixturevalue("postgres_cluster")
        return Store("postgresql", cluster.new_store)
    return Store("sqlite", None)
