"""What ships with the product to start from: the real history and the demo timeline.

``history.jsonl`` holds 37 real US-China questions of 2018-25, their events and
outcomes (built by ``build_history``), each record with a reconstructed
``recorded_at``. ``timeline.jsonl`` is the demo's current scenarios and events,
without ``recorded_at`` (they are recorded when loaded).

The history keeps its reconstructed times only where that keeps ``recorded_at``
non-decreasing along the log: in a store that holds nothing recorded after the
history's first record (a fresh store). Into a store with later records it is
recorded at the import time instead, so the answers the store served before,
"as known at" any past time, stay what they were; its backtests with hindsight
and calibration still learn from it, but its track record (as served) is empty,
which is the truth about that store.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

import msgspec

from domain.entries import LogEntry
from service.commands.exchange import ImportReport, import_entries, read_jsonl
from service.persistence.eventlog import EventLog


def history_lines() -> list[bytes]:
    """The shipped history, one log entry a line, in ``recorded_at`` order."""
    return resources.files(__name__).joinpath("history.jsonl").read_bytes().splitlines()


def timeline_lines() -> list[bytes]:
    """The demo's current scenarios and events (no ``recorded_at``)."""
    return resources.files(__name__).joinpath("timeline.jsonl").read_bytes().splitlines()


@dataclass(frozen=True)
class HistoryReport:
    report: ImportReport
    reconstructed: bool
    """True: the records carry their reconstructed ``recorded_at``; False: they were
    recorded at the import time (the store held later records)."""


def last_recorded_at(eventlog: EventLog) -> datetime | None:
    """The ``recorded_at`` of the store's last record (None for an empty store)."""
    app = eventlog.app
    head = app.recorder.max_notification_id()
    if not head:
        return None
    (notification,) = app.recorder.select_notifications(head, 1)
    event: Any = app.mapper.to_domain_event(notification)
    stamp: datetime = event.timestamp
    return stamp


def import_history(eventlog: EventLog, now: Callable[[], datetime]) -> HistoryReport:
    """Add the shipped history to a store (idempotent: a second time adds nothing)."""
    entries = list(read_jsonl(history_lines()))
    first = entries[0][1].recorded_at
    latest = last_recorded_at(eventlog)
    reconstructed = latest is None or (first is not None and latest <= first)
    loaded = entries if reconstructed else list(_stamped_now(entries))
    return HistoryReport(import_entries(eventlog, loaded, now), reconstructed)


def _stamped_now(entries: list[tuple[int, LogEntry]]) -> Iterator[tuple[int, LogEntry]]:
    for number, entry in entries:
        yield number, msgspec.structs.replace(entry, recorded_at=None)
