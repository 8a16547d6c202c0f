"""Possible duplicates: the world events that look alike (``domain.duplicates``),
found without scanning the log.

Per event the index keeps one small entry: the hash of its identity (kind and
identifying fields) and the day it occurred on, mapped to its row in the event
table (a ``KeyIndex``: 12 bytes per event; rows in log order). Look-alikes occurred
at most a day apart, so a lookup reads the rows of three days (the event's and
either side) from the newest back, checks the time window, and confirms the few it
names by the identity of the stored body: a hash collision costs a decode, never a
wrong answer. At most ``NAMED_AT_MOST`` are named, so a thousand identical events cost
no more than ten. Like the rest of the projection, it is rebuilt by replay.
"""

import bisect
import math
import sys
from collections.abc import Callable, Hashable, Sequence
from operator import attrgetter
from typing import TYPE_CHECKING
from uuid import UUID

from domain.codecs import world_event_decoder as _event_decoder
from domain.duplicates import IDENTIFYING_FIELDS, WINDOW, Identity, identity
from domain.events import BaseEvent
from service.projection.keyindex import KeyIndex

if TYPE_CHECKING:
    from service.projection.eventtable import EventTable

NAMED_AT_MOST = 10
"""How many look-alikes an event names at most: the latest ones."""

_DAY_S = 86_400
_WINDOW_S = WINDOW.total_seconds()


class DuplicateIndex:
    def __init__(self, table: "EventTable") -> None:
        self._table = table
        self._rows = KeyIndex()

    def add(self, row: int, event: BaseEvent) -> None:
        """Index the event at ``row`` of the table (called by the projection, in
        row order)."""
        self._rows.add(_key(key_identity(event), _day(event.occurred_at.timestamp())), row)

    def look_alikes(self, event: BaseEvent, before: int, *, now: bool = False) -> list[UUID]:
        """The latest ``NAMED_AT_MOST`` events at positions below ``before`` that
        ``event`` looks like, in log order, leaving out those retracted before
        ``before`` (the log as it stood then: an append's answer, the same when the
        append is repeated) or, with ``now``, retracted at all. Safe without the
        index lock, like a listing: rows and buckets are only ever appended to."""
        return self.all_look_alikes([(event, before)], now=now)[0]

    def all_look_alikes(
        self, asked: Sequence[tuple[BaseEvent, int]], *, now: bool = False
    ) -> list[list[UUID]]:
        """``look_alikes`` of each (event, before), the candidates' bodies read at once
        (a page of a listing: one read of the store, not one per event)."""
        plans = [self._candidates(event, before, now) for event, before in asked]
        rows = sorted({row for _, candidates in plans for row in candidates})
        bodies = dict(zip(rows, self._table.bodies_of(rows), strict=True))
        return [self._confirmed(ident, candidates, bodies) for ident, candidates in plans]

    def _candidates(self, event: BaseEvent, before: int, now: bool) -> tuple[Identity, list[int]]:
        """The event's identity and the rows filed under it near its day, newest first."""
        occurred = event.occurred_at.timestamp()
        ident = key_identity(event)
        day = _day(occurred)
        candidates: list[int] = []
        for near in (day - 1, day, day + 1):
            rows = self._rows.rows(_key(ident, near))
            candidates += self._near(rows, occurred, before, math.inf if now else before)
        candidates.sort(reverse=True)
        return ident, candidates

    def _confirmed(
        self, ident: Identity, candidates: list[int], bodies: dict[int, str]
    ) -> list[UUID]:
        """The candidates whose stored body has this identity (a key's hash can
        collide), the latest ``NAMED_AT_MOST``, in log order."""
        found: list[int] = []
        for row in candidates:
            if identity(_event_decoder.decode(bodies[row])) == ident:
                found.append(row)
                if len(found) == NAMED_AT_MOST:
                    break
        return [self._table.event_id(row) for row in reversed(found)]

    def _near(self, listed: list[int], occurred: float, before: int, retracted: float) -> list[int]:
        """The newest ``NAMED_AT_MOST`` of ``listed`` rows below position ``before``, not
        retracted before position ``retracted``, that occurred within the window of
        ``occurred``."""
        if not listed:
            return []
        table = self._table
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


def _getter(fields: tuple[str, ...]) -> Callable[[BaseEvent], tuple[Hashable, ...]]:
    get = attrgetter(*fields)
    return get if len(fields) > 1 else lambda event: (get(event),)


_FIELDS = {kind: _getter(fields) for kind, fields in IDENTIFYING_FIELDS.items()}


def _normal(value: Hashable | list[Hashable]) -> Hashable:
    if isinstance(value, str):
        return value.strip().casefold()
    if isinstance(value, list):
        return tuple(sorted(str(_normal(item)) for item in value))
    return value


def key_identity(event: BaseEvent) -> Identity:
    """Equal to ``domain.duplicates.identity`` (a test holds them together), computed
    with one getter per kind: the generic one was a fifth of a replay's time. Only
    the index's keys use it; look-alikes are confirmed with the domain's own."""
    kind = event.__struct_config__.tag
    return (kind, *map(_normal, _FIELDS[kind](event)))  # type: ignore[index]


def _day(timestamp: float) -> int:
    return int(timestamp // _DAY_S)


def _key(ident: tuple[Hashable, ...], day: int) -> int:
    """A signed 64-bit key (``hash`` is one on 64-bit builds)."""
    return hash((ident, day))


assert sys.hash_info.width == 64, "KeyIndex keys are 64-bit"
