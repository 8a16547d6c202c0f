import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from service.settings import Settings
from service.web.app import create_app
from tests.support.postgres import PostgresCluster, PostgresUnavailable
from tests.support.stores import STORES, Store, make_store


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One throwaway PostgreSQL cluster for the session, started on first use. With
    ``CI=true`` a missing PostgreSQL fails the tests; elsewhere they are skipped."""
    try:
        cluster = PostgresCluster().start()
    except PostgresUnavailable as e:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI: {e}")
        pytest.skip(f"PostgreSQL tests skipped: {e}")
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest) -> Store:
    """The test's own empty store: SQLite, or a new PostgreSQL schema."""
    return make_store(request)


@pytest.fixture
def settings(store: Store, tmp_path: Path) -> Settings:
    return store.settings(tmp_path / "data")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:  # type: ignore[type-arg]
    with TestClient(create_app(settings)) as test_client:
        yield test_client
