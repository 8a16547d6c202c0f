"""The catch-up at start reads the log as tuples on both stores, and builds the
same index from the same records whichever store holds them."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec
import pytest

from domain.records import EventRecord, ScenarioRecord
from domain.scenarios import ScenarioDefinition
from service.persistence.environment import eventsourcing_env
from service.persistence.eventlog import TradewindsStore
from service.persistence.stores import RowReader
from service.projection.catchup import PAGE, catch_up
from service.projection.index import LogIndex
from service.projection.logprojection import LogProjection
from service.settings import Settings
from tests.service.events_data import approval, scenario, signal
from tests.support.postgres import PostgresCluster

START = datetime(2026, 1, 1, tzinfo=UTC)
EVENTS = PAGE + 300
"""More than one page of the catch-up's reads."""


def _records() -> list[Any]:
    """A log's records: world events (a page boundary crossed), a scenario matching
    some of them, a retraction, a revision."""
    definition = msgspec.convert(scenario(), ScenarioDefinition)
    records: list[Any] = []
    for i in range(EVENTS):
        body = approval(summary=f"approval {i}") if i % 3 == 0 else signal(f"s{i}")
        body["occurred_at"] = (START - timedelta(days=30) + timedelta(minutes=i)).isoformat()
        at = START + timedelta(seconds=i, microseconds=i)
        records.append(EventRecord.record(UUID(int=i + 1), msgspec.json.encode(body).decode(), at))
        if i == 100:
            records.append(
                ScenarioRecord.define("deal", msgspec.json.encode(definition).decode(), at)
            )
    records[3].retract("wrong", START + timedelta(days=1))
    revised = msgspec.structs.replace(definition, prior=0.2)
    records[101].revise(msgspec.json.encode(revised).decode(), START + timedelta(days=1))
    return records


def _store(settings: Settings) -> TradewindsStore:
    return TradewindsStore(env=eventsourcing_env(settings))


def _events(records: list[Any]) -> list[Any]:
    return [e for r in records for e in r.collect_events()]


def _fill(app: TradewindsStore, pending: list[Any]) -> None:
    for start in range(0, len(pending), 500):
        app.events.put(pending[start : start + 500])


def _caught_up(app: TradewindsStore) -> LogIndex:
    index = LogIndex(app.recorder, cache=16)
    catch_up(app, LogProjection(index), index)
    return index


def _snapshot(index: LogIndex) -> dict[str, Any]:
    """What the index serves: the listing, every event, the scenario's matches."""
    table = index.table
    events = [msgspec.to_builtins(table.event(row)) for row in range(len(table))]
    page, _ = index.list_events(after=0, limit=EVENTS)
    versions = index.matches.scenarios["deal"].versions
    return {
        "position": index.position,
        "events": events,
        "page": [msgspec.to_builtins(e) for e in page],
        "matches": [
            [[(m.occurred, m.position, m.recorded, m.event_id) for m in rule] for rule in v.found]
            for v in versions
        ],
        "retracted": dict(index.matches.retracted),
    }


@pytest.fixture
def both(postgres_cluster: PostgresCluster, tmp_path: Path) -> Iterator[list[TradewindsStore]]:
    sqlite = _store(Settings(data_dir=tmp_path / "sqlite"))
    postgres = _store(Settings(data_dir=tmp_path / "pg", database_url=postgres_cluster.new_store()))
    try:
        yield [sqlite, postgres]
    finally:
        sqlite.close()
        postgres.close()


def test_both_stores_read_pages_as_tuples(both: list[TradewindsStore]) -> None:
    pending = _events(_records())[:5]
    for app in both:
        _fill(app, pending)
        assert isinstance(app.recorder, RowReader)
        rows = app.recorder.read_rows(1, 3)
        assert [type(row) for row in rows] == [tuple] * 3
        notifications = app.recorder.select_notifications(2, 3)
        assert [(r[0], r[2], r[3], bytes(r[4])) for r in rows] == [
            (n.id, n.originator_version, n.topic, n.state) for n in notifications
        ]


def test_postgresql_and_sqlite_give_the_same_index(both: list[TradewindsStore]) -> None:
    pending = _events(_records())
    for app in both:
        _fill(app, pending)
    sqlite, postgres = (_snapshot(_caught_up(app)) for app in both)
    assert len(sqlite["events"]) == EVENTS
    assert sqlite["events"][3]["retracted"]["reason"] == "wrong"
    assert any(sqlite["matches"][0]), "the scenario matched events"
    assert postgres == sqlite


def test_a_catch_up_resumes_from_the_index_position(both: list[TradewindsStore]) -> None:
    pending = _events(_records())
    for app in both:
        _fill(app, pending[:50])
        index = _caught_up(app)
        _fill(app, pending[50:60])
        assert catch_up(app, LogProjection(index), index) == 10
        recorded = [e.originator_id for e in pending[:60] if isinstance(e, EventRecord.Recorded)]
        assert [index.table.event_id(row) for row in range(len(index.table))] == recorded
