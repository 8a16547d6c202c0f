"""Issue 13: ``GET /v1/forecasts`` while scenarios of many matches change under heavy
batches. A poll with a read-only key (no ``min_position``) is answered from the last
evaluation of each scenario while the forecast stream evaluates the changed ones,
instead of evaluating them again itself; a writer's own writes and ``min_position``
stay strict. Also the pieces that kept such reads waiting: the arrays a read takes
under the index lock are merged after it lets go, and a matched event is one object
however many rules match it."""

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from domain.events import WorldEvent
from domain.scenarios import ScenarioDefinition
from service.access import ApiKeys
from service.projection.matcharrays import Match, Pending, built_of
from service.projection.matchindex import MatchIndex
from service.queries.evaluation import Page
from service.queries.snapshots import Query
from service.settings import Settings
from service.web.app import create_app
from service.web.routes.forecasts import CONTRIBUTIONS_LIMIT
from tests.service.events_data import signal
from tests.service.test_matchindex import version

READER = {"Authorization": "Bearer reader"}
WRITER = {"Authorization": "Bearer writer"}
ADMIN = {"Authorization": "Bearer admin"}
RULE = {"name": "a", "match": {"kind": "signal", "where": {"label": "a"}}, "bayes_factor": 3.0}
SCENARIO = {
    "title": "s", "question": "s?", "opens_at": "2025-01-01T00:00:00Z",
    "deadline": "2030-01-01T00:00:00Z", "prior": 0.3, "timing": "none", "rules": [RULE],
}  # fmt: skip


class Clock:
    def __call__(self) -> datetime:
        return datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC)


@pytest.fixture
def keyed(settings: Settings) -> Iterator[TestClient[Litestar]]:
    """A server with keys whose stream, once it has evaluated a change, waits a minute
    before it evaluates the next (``stream_min_interval_s``)."""
    slow_stream = msgspec.structs.replace(
        settings,
        api_keys=ApiKeys.parse("reader:read,writer:write,admin:admin"),
        stream_min_interval_s=60.0,
    )
    with TestClient(create_app(slow_stream, Clock())) as client:
        yield client


def _wait_for(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_a_read_only_poll_gets_the_last_evaluation_while_the_stream_has_the_change_to_do(
    keyed: TestClient[Litestar],
) -> None:
    """Under heavy batches every poll re-evaluated the scenarios that changed (millions
    of matches), competing with the stream doing the same: list polls took seconds.
    Now a read-only poll is answered from the stream's last evaluation, which states
    its position; the writer and ``min_position`` still get the newest state."""
    client = keyed
    created = client.put("/v1/scenarios/heavy", json=SCENARIO, headers=ADMIN)
    assert created.status_code == 201, created.text
    defined = client.get("/v1/forecasts/heavy", headers=ADMIN).json()["position"]
    stream = client.app.state.tradewinds.stream
    _wait_for(lambda: stream.head >= defined, "the stream evaluates the definition")
    before = client.get("/v1/forecasts", headers=READER).json()
    assert before["position"] == defined

    added = client.post("/v1/events", json=signal("a"), headers=WRITER)
    assert added.status_code == 201, added.text
    position = added.json()["position"]
    assert client.app.state.tradewinds.eventlog.index.reached(position, 10)

    earlier = client.get("/v1/forecasts", headers=READER)
    assert earlier.status_code == 200
    assert earlier.json() == before, "the stream has not evaluated the event yet"
    assert stream.head < position

    required = client.get("/v1/forecasts", params={"min_position": position}, headers=READER)
    own = client.get("/v1/forecasts", headers=WRITER)
    for fresh in (required.json(), own.json()):
        assert fresh["position"] == position
        assert fresh["forecasts"][0]["probability"] > before["forecasts"][0]["probability"]
    # once the newest state was evaluated, the read-only poll gets it too
    assert client.get("/v1/forecasts", headers=READER).json() == own.json()


def test_a_read_only_poll_evaluates_for_itself_when_the_stream_is_not_running(
    keyed: TestClient[Litestar],
) -> None:
    client = keyed
    client.put("/v1/scenarios/heavy", json=SCENARIO, headers=ADMIN)
    defined = client.get("/v1/forecasts/heavy", headers=ADMIN).json()["position"]
    stream = client.app.state.tradewinds.stream
    _wait_for(lambda: stream.head >= defined, "the stream evaluates the definition")
    stream.stop()
    assert not stream.progressing()
    position = client.post("/v1/events", json=signal("a"), headers=WRITER).json()["position"]
    assert client.app.state.tradewinds.eventlog.index.reached(position, 10)
    assert client.get("/v1/forecasts", headers=READER).json()["position"] == position


def _event() -> WorldEvent:
    event: WorldEvent = msgspec.convert(signal("a"), WorldEvent)
    return event


def test_an_event_matching_many_rules_is_held_as_one_object() -> None:
    """A Match per (event, rule) put hundreds of thousands of objects per batch in the
    collector's young generations; its passes held the interpreter for up to 400 ms."""
    matches = MatchIndex()
    definition = msgspec.convert(
        {**SCENARIO, "rules": [{**RULE, "name": f"r{i}"} for i in range(3)]},
        ScenarioDefinition,
    )
    matches.add_version("s", 1, 1, datetime(2025, 6, 1, tzinfo=UTC), definition, [[], [], []])
    matches.add_event(_event(), uuid4().bytes, 2, 1.0)
    held = [rule[0] for rule in matches.scenarios["s"].current.found]
    assert len(held) == 3
    assert held[0] is held[1] is held[2]


def test_arrays_taken_under_the_lock_hold_exactly_the_matches_added_until_then() -> None:
    """A read takes the arrays under the index lock without merging (``Pending``) and
    merges after letting go: matches added in between are not in them, and reads that
    merge in any order each get their own."""
    entry = version([[], []])
    first = Match(1.0, 1, 1.0, uuid4())
    entry.add(0, first)
    built_of(entry.taken({}))
    entry.add(0, Match(2.0, 2, 2.0, uuid4()))
    early = entry.taken({})
    entry.add(0, Match(3.0, 3, 3.0, uuid4()))
    entry.add(1, Match(3.0, 3, 3.0, uuid4()))
    late = entry.taken({})
    assert isinstance(early, Pending)
    assert isinstance(late, Pending)
    assert early.done is None, "nothing is merged under the lock"
    merged = []
    threads = [
        threading.Thread(target=lambda p=p: merged.append(built_of(p))) for p in (late, early)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert list(built_of(early)[0][0].position) == [1, 2]
    assert len(built_of(early)[0][1]) == 0
    assert list(built_of(late)[0][0].position) == [1, 2, 3]
    assert list(built_of(late)[0][1].position) == [3]
    assert entry.full_builds == 1


def test_a_detail_poll_of_an_unchanged_scenario_is_answered_from_its_last_body(
    keyed: TestClient[Litestar],
) -> None:
    """During heavy batches a poll of a small scenario that they do not touch waited for
    a worker thread and the index lock to evaluate the same answer again; now it is the
    body answered last, until the scenario changes."""
    client = keyed
    client.put("/v1/scenarios/heavy", json=SCENARIO, headers=ADMIN)
    forecaster = client.app.state.tradewinds.forecaster
    query = Query(as_of=forecaster.now())
    page = Page(limit=CONTRIBUTIONS_LIMIT)
    first = client.get("/v1/forecasts/heavy", headers=ADMIN)
    assert forecaster.cached_one("heavy", query, page) == (first.content, first.headers["etag"])
    assert forecaster.cached_one("heavy", query, Page(limit=1)) is None
    assert forecaster.cached_one("heavy", Query(as_of=query.as_of, known=1e9), page) is None

    client.post("/v1/events", json=signal("b"), headers=WRITER)
    assert forecaster.cached_one("heavy", query, page) == (
        first.content,
        first.headers["etag"],
    ), "b matches no rule"
    position = client.post("/v1/events", json=signal("a"), headers=WRITER).json()["position"]
    assert client.app.state.tradewinds.eventlog.index.reached(position, 10)
    assert forecaster.cached_one("heavy", query, page) is None
    changed = client.get("/v1/forecasts/heavy", headers=READER)
    assert changed.json()["position"] == position
    assert forecaster.cached_one("heavy", query, page) == (
        changed.content,
        changed.headers["etag"],
    )


class MovingClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_just_after_the_tick_moved_a_read_only_poll_gets_the_list_of_the_tick_before(
    settings: Settings,
) -> None:
    """Until the stream has evaluated every scenario at the new tick, the list of the
    tick before (it says so: ``as_of``); not one older than that."""
    clock = MovingClock()
    slow_stream = msgspec.structs.replace(
        settings, api_keys=ApiKeys.parse("reader:read,admin:admin"), stream_min_interval_s=60.0
    )
    with TestClient(create_app(slow_stream, clock)) as client:
        client.put("/v1/scenarios/heavy", json=SCENARIO, headers=ADMIN)
        defined = client.get("/v1/forecasts/heavy", headers=ADMIN).json()["position"]
        stream = client.app.state.tradewinds.stream
        _wait_for(lambda: stream.head >= defined, "the stream evaluates the definition")
        client.put("/v1/scenarios/heavy", json={**SCENARIO, "prior": 0.4}, headers=ADMIN)
        revised = client.get("/v1/forecasts", headers=ADMIN).json()
        assert revised["as_of"] == "2026-03-01T12:00:00Z"

        clock.now += timedelta(minutes=1)
        assert client.get("/v1/forecasts", headers=READER).json() == revised
        clock.now += timedelta(minutes=1)
        later = client.get("/v1/forecasts", headers=READER).json()
        assert later["as_of"] == "2026-03-01T12:02:00Z"
        assert later["forecasts"][0]["probability"] == revised["forecasts"][0]["probability"]
