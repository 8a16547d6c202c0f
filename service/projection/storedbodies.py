"""The world events' bodies, read back from the store when a reader needs them.

The body is most of what an event weighs in memory (about 470 of 780 bytes per
event at 1M events), and readers need few of them at a time: a page of a
listing, one event, a forecast's drivers, the look-alikes of an event, the
events of a new scenario version's kinds. So the index keeps none but the latest
``CACHE`` (those a listing, a stream or a duplicate check asks for most) and
reads the others from the store by position (``StateReader.states_at``), decoding
the stored state as the catch-up does.

``KeptBodies`` keeps every body instead, for an index without a store (the
write-path benchmarks that drive the index directly).
"""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

import msgspec

CACHE = 4096
"""How many of the latest bodies are kept in memory (about 2 MB)."""

RANGE_DENSITY = 3
"""Positions are read as a range when it holds at most this many records per
position wanted: on SQLite a row of a range read costs about a quarter of a lookup
by position (1.2 against 4.4 us)."""


class _Stamp(msgspec.Struct):
    value: datetime = msgspec.field(name="_data_")


class RecordedState(msgspec.Struct):
    """The stored state of ``EventRecord.Recorded`` (eventsourcing's JSON layout)."""

    timestamp: _Stamp
    body: str


recorded_decoder = msgspec.json.Decoder(RecordedState)


@runtime_checkable
class StateReader(Protocol):
    def states_at(self, positions: Sequence[int]) -> dict[int, bytes]:
        """The stored states of the records at these positions."""

    def states_between(self, first: int, last: int) -> list[tuple[int, bytes]]:
        """The stored states of every record from ``first`` to ``last``."""


class Bodies(Protocol):
    def keep(self, position: int, body: str) -> None:
        """The body of the event applied at ``position`` (in position order)."""

    def keep_many(self, positions: Sequence[int], bodies: Sequence[str]) -> None:
        """``keep`` of each, in position order."""

    def read(self, positions: Sequence[int]) -> list[str]:
        """The bodies of the events at these positions, in that order."""


class KeptBodies:
    """Every body in memory."""

    def __init__(self) -> None:
        self._bodies: dict[int, str] = {}

    def keep(self, position: int, body: str) -> None:
        self._bodies[position] = body

    def keep_many(self, positions: Sequence[int], bodies: Sequence[str]) -> None:
        self._bodies.update(zip(positions, bodies, strict=True))

    def read(self, positions: Sequence[int]) -> list[str]:
        return [self._bodies[p] for p in positions]


class StoredBodies:
    """The latest bodies in memory (a ring of ``size`` slots, by position), the
    others read from the store.

    A ring rather than an LRU: keeping a body is one list store (an ``OrderedDict``'s
    insert and eviction cost a twentieth of a replay), and a reader checks the
    position in the slot it reads, so a body overwritten meanwhile is read from the
    store instead, never mistaken."""

    def __init__(self, store: StateReader, size: int = CACHE) -> None:
        self._store = store
        self._size = size
        self._latest: list[tuple[int, str] | None] = [None] * size

    def keep(self, position: int, body: str) -> None:
        self._latest[position % self._size] = (position, body)

    def keep_many(self, positions: Sequence[int], bodies: Sequence[str]) -> None:
        """Only the last ``size`` can stay in the ring. Consecutive positions (a run
        of the log) fill consecutive slots: stored as a slice or two."""
        latest, size = self._latest, self._size
        count = len(positions)
        if count == 1:
            latest[positions[0] % size] = (positions[0], bodies[0])
            return
        if count > size:
            positions, bodies, count = positions[-size:], bodies[-size:], size
        if not count:
            return
        first = positions[0]
        if positions[-1] - first != count - 1:
            for position, body in zip(positions, bodies, strict=True):
                latest[position % size] = (position, body)
            return
        slots = list(zip(positions, bodies, strict=True))
        start = first % size
        head = min(count, size - start)
        latest[start : start + head] = slots[:head]
        latest[: count - head] = slots[head:]

    def __len__(self) -> int:
        return sum(slot is not None for slot in self._latest)

    def read(self, positions: Sequence[int]) -> list[str]:
        latest, size = self._latest, self._size
        found: dict[int, str] = {}
        for position in positions:
            slot = latest[position % size]
            if slot is not None and slot[0] == position:
                found[position] = slot[1]
        missing = sorted({p for p in positions if p not in found})
        if missing:
            found.update(_decoded(self._states(missing)))
        return [found[p] for p in positions]

    def _states(self, missing: list[int]) -> Iterable[tuple[int, bytes]]:
        """By range when the positions are dense enough that reading the records
        between them costs less than looking each up (``RANGE_DENSITY``)."""
        first, last = missing[0], missing[-1]
        if last - first + 1 > RANGE_DENSITY * len(missing):
            return self._store.states_at(missing).items()
        wanted = set(missing)
        return [row for row in self._store.states_between(first, last) if row[0] in wanted]


def _decoded(states: Iterable[tuple[int, bytes]]) -> dict[int, str]:
    return {position: recorded_decoder.decode(state).body for position, state in states}
