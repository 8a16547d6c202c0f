"""Possible duplicates: the world events that look alike (``domain.duplicates``),
found without scanning the log.

Per event the index keeps one small entry: the hash of its identity (kind and
identifying fields) and the day it occurred on, mapped to its row in the event
table (a list of rows, in log order, once several share it). Look-alikes occurred
at most a day apart, so a lookup reads the rows of three days (the event's and
either side) from the newest back, checks the time window, and confirms the few it
names by the identity of the stored body: a hash collision costs a decode, never a
wrong answer. At most ``NAMED_AT_MOST`` are named, so a thousand identical events cost
no more than ten. Like the rest of the projection, it is rebuilt by replay.
"""

import bisect
import math
from collections.abc import Hashable
from typing import TYPE_CHECKING
from uuid import UUID

from domain.codecs import world_event_decoder as _event_decoder
from domain.duplicates import WINDOW, identity
from domain.events import BaseEvent

if TYPE_CHECKING:
    from service.projection.eventtable import EventTable

NAMED_AT_MOST = 10
"""How many look-alikes an event names at most: the latest ones."""

_DAY_S = 86_400
_WINDOW_S = WINDOW.total_seconds()


class DuplicateIndex:
    def __init__(self, table: "EventTable") -> None:
        self._table = table
        self._rows: dict[int, int | list[int]] = {}

    def add(self, row: int, event: BaseEvent) -> None:
        """Index the event at ``row`` of the table (called by the projection, in
        row order)."""
        key = _key(identity(event), _day(event.occurred_at.timestamp()))
        rows = self._rows.get(key)
        if rows is None:
            self._rows[key] = row
        elif isinstance(rows, int):
            self._rows[key] = [rows, row]
        else:
            rows.append(row)

    def look_alikes(self, event: BaseEvent, before: int, *, now: bool = False) -> list[UUID]:
        """The latest ``NAMED_AT_MOST`` events at positions below ``before`` that
        ``event`` looks like, in log order, leaving out those retracted before
        ``before`` (the log as it stood then: an append's answer, the same when the
        append is repeated) or, with ``now``, retracted at all. Safe without the
        index lock, like a listing: rows and buckets are only ever appended to."""
        occurred = event.occurred_at.timestamp()
        ident = identity(event)
        day = _day(occurred)
        candidates: list[int] = []
        for near in (day - 1, day, day + 1):
            rows = self._rows.get(_key(ident, near))
            candidates += self._near(rows, occurred, before, math.inf if now else before)
        table = self._table
        found: list[int] = []
        for row in sorted(candidates, reverse=True):
            if identity(_event_decoder.decode(table.bodies[row])) == ident:
                found.append(row)
                if len(found) == NAMED_AT_MOST:
                    break
        return [table.event_id(row) for row in reversed(found)]

    def _near(
        self, rows: int | list[int] | None, occurred: float, before: int, retracted: float
    ) -> list[int]:
        """The newest ``NAMED_AT_MOST`` of ``rows`` below position ``before``, not
        retracted before position ``retracted``, that occurred within the window of
        ``occurred``."""
        if rows is None:
            return []
        table = self._table
        listed = [rows] if isinstance(rows, int) else rows
        end = bisect.bisect_left(listed, before, key=lambda row: table.positions[row])
        found: list[int] = []
        for i in range(end - 1, -1, -1):
            row = listed[i]
            near = abs(table.occurred[row] - occurred) <= _WINDOW_S
            if near and not table.retracted_before(row, retracted):
                found.append(row)
                if len(found) == NAMED_AT_MOST:
                    break
        return found


def _day(timestamp: float) -> int:
    return int(timestamp // _DAY_S)


def _key(ident: tuple[Hashable, ...], day: int) -> int:
    return hash((ident, day))
