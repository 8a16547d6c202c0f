"""The writer applies its commits' world events from the events it holds, not from
their stored state decoded again (issue 19): the index it builds is the one a replica
builds by reading the same log from the store."""

from pathlib import Path
from uuid import UUID, uuid4

from domain.records import EventRecord, RequestRecord
from service.bootstrap import open_eventlog
from service.commands.events import creation_event
from service.persistence.committer import Build, NewRecords
from service.persistence.eventlog import EventLog
from service.settings import Settings

SLOW_POLL_S = 60.0


def body(n: int) -> str:
    day = 1 + n % 9
    return (
        f'{{"kind":"signal","occurred_at":"2025-01-0{day}T00:00:00Z","summary":"s{n}","label":"x"}}'
    )


def batch(ids: list[UUID]) -> Build:
    return lambda at: [NewRecords([creation_event(i, body(k), at) for k, i in enumerate(ids)])]


def mixed(ids: list[UUID]) -> Build:
    """World events around a request record, in one job."""
    return lambda at: [
        NewRecords([creation_event(ids[0], body(1), at)]),
        RequestRecord.record(uuid4().hex, "fingerprint", at),
        EventRecord.record(ids[1], body(2), at),
        NewRecords([creation_event(i, body(3), at) for i in ids[2:]]),
    ]


def everything(log: EventLog) -> list[tuple[str, ...]]:
    events, _ = log.index.list_events(0, 10_000)
    return [tuple(repr(v) for v in (e if isinstance(e, tuple) else (e,))) for e in events]


def test_the_handed_over_index_is_the_one_read_from_the_store(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", poll_interval_s=SLOW_POLL_S)
    with open_eventlog(settings) as log:
        assert log.catch_up(10)
        for build in (
            batch([uuid4() for _ in range(30)]),
            mixed([uuid4() for _ in range(6)]),
            batch([uuid4()]),
            mixed([uuid4() for _ in range(3)]),
        ):
            log.committer.submit(build).result(timeout=10)
        assert log.handed_over == 42  # 40 world events, 2 request records
        handed = everything(log)
        with log.index.reading():
            handed_tuples = log.index.event_tuples(["signal"])
    with open_eventlog(settings) as replica:
        assert replica.catch_up(10)
        assert replica.handed_over == 0
        assert len(handed) == 40
        assert everything(replica) == handed
        with replica.index.reading():
            assert replica.index.event_tuples(["signal"]) == handed_tuples
