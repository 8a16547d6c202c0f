"""The writer's own commits applied from what it holds (``catchup.apply_recordings``):
the index is the one a catch-up from the store builds, on both stores, and a world
event is taken from its domain event, not decoded again from its stored state."""

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec
import pytest
from eventsourcing.persistence import IntegrityError, Recording

from domain.records import EventRecord, ScenarioRecord
from domain.scenarios import ScenarioDefinition
from service.persistence.environment import eventsourcing_env
from service.persistence.eventlog import TradewindsStore
from service.projection.catchup import apply_recordings, catch_up
from service.projection.index import RUN, LogIndex
from service.projection.logprojection import LogProjection
from tests.service.events_data import approval, scenario, signal
from tests.support.stores import Store

START = datetime(2026, 1, 1, tzinfo=UTC)
EVENTS = 3 * RUN + 5
"""World events of a few runs of the index, with look-alikes and kinds mixed."""


@pytest.fixture
def app(store: Store, tmp_path: Path) -> Iterator[TradewindsStore]:
    app = TradewindsStore(env=eventsourcing_env(store.settings(tmp_path / "data")))
    try:
        yield app
    finally:
        app.close()


def _commits() -> list[list[Any]]:
    """Commits as the writer makes them: a scenario, then world events sharing their
    commit's recorded_at (every third an approval, look-alikes of one another), a
    retraction among them, a single event."""
    definition = msgspec.convert(scenario(), ScenarioDefinition)
    defined = ScenarioRecord.define("deal", msgspec.json.encode(definition).decode(), START)
    at = START + timedelta(seconds=1, microseconds=7)
    events = []
    for i in range(EVENTS):
        body = approval(summary=f"approval {i}") if i % 3 == 0 else signal(f"s{i}")
        body["occurred_at"] = (START - timedelta(days=2) + timedelta(minutes=i)).isoformat()
        events.append(EventRecord.record(UUID(int=i + 1), msgspec.json.encode(body).decode(), at))
    batch = [e for r in events for e in r.collect_events()]
    events[3].retract("wrong", at + timedelta(seconds=1))
    later = START + timedelta(seconds=3)
    single = EventRecord.record(UUID(int=10**6), msgspec.json.encode(signal("x")).decode(), later)
    return [
        defined.collect_events(),
        batch[: 2 * RUN],
        [*batch[2 * RUN :], *events[3].collect_events()],
        single.collect_events(),
    ]


def _snapshot(index: LogIndex) -> dict[str, Any]:
    table = index.table
    page, _ = index.list_events(after=0, limit=10 * EVENTS)
    return {
        "position": index.position,
        "events": [msgspec.to_builtins(table.event(row)) for row in range(len(table))],
        "page": [msgspec.to_builtins(e) for e in page],
        "signals": [msgspec.to_builtins(e) for e in index.list_events(0, 10**4, "signal")[0]],
        "matches": [
            [[(m.occurred, m.position, m.recorded, m.event_id) for m in rule] for rule in v.found]
            for v in index.matches.scenarios["deal"].versions
        ],
    }


def test_a_hand_over_builds_the_index_a_catch_up_builds(app: TradewindsStore) -> None:
    handed = LogIndex(app.recorder, cache=16)
    for commit in _commits():
        apply_recordings(app, LogProjection(handed), handed, app.events.put(commit))
    caught = LogIndex(app.recorder, cache=16)
    catch_up(app, LogProjection(caught), caught)
    found = _snapshot(handed)
    assert len(found["events"]) == EVENTS + 1
    assert found["events"][3]["retracted"]["reason"] == "wrong"
    assert str(UUID(int=1)) in found["page"][6]["possible_duplicates"]
    assert any(found["matches"][0]), "the scenario matched events"
    assert found == _snapshot(caught)


def test_a_world_event_is_applied_from_its_domain_event(app: TradewindsStore) -> None:
    """Its stored state is not decoded again: a recording whose state were unreadable
    still applies its event (the old hand-over decoded every state anew)."""
    index = LogIndex()
    commits = _commits()
    apply_recordings(app, LogProjection(index), index, app.events.put(commits[0]))
    recordings = app.events.put(commits[1])
    blanked = [Recording(r.domain_event, replace(r.notification, state=b"?")) for r in recordings]
    apply_recordings(app, LogProjection(index), index, blanked)
    assert index.position == recordings[-1].notification.id
    shown = [index.table.event(row) for row in range(len(index.table))]
    assert [e.event_id for e in shown] == [r.domain_event.originator_id for r in recordings]
    assert [e.summary for e in shown] == [
        msgspec.json.decode(r.domain_event.body)["summary"]  # type: ignore[attr-defined]
        for r in recordings
    ]
    assert {e.recorded_at for e in shown} == {recordings[0].domain_event.timestamp}


def test_commits_of_one_event_each_build_the_index_a_catch_up_builds(
    app: TradewindsStore,
) -> None:
    """Single appends (a commit of one event, applied row by row) give the same index
    as the runs, and a position handed over twice is refused, the index unchanged."""
    handed = LogIndex(app.recorder, cache=16)
    recordings = [r for commit in _commits() for r in app.events.put(commit)]
    for recording in recordings:
        apply_recordings(app, LogProjection(handed), handed, [recording])
    caught = LogIndex(app.recorder, cache=16)
    catch_up(app, LogProjection(caught), caught)
    assert _snapshot(handed) == _snapshot(caught)
    again = next(r for r in recordings if isinstance(r.domain_event, EventRecord.Recorded))
    with pytest.raises(IntegrityError):
        apply_recordings(app, LogProjection(handed), handed, [again])
    assert _snapshot(handed) == _snapshot(caught)
