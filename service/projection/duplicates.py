"""Possible duplicates: the world events that look alike (``domain.duplicates``),
found without scanning the log.

Per event the index keeps its identity (kind and normalised identifying fields) as
canonical bytes (``identity_bytes``: a kind byte and the msgpack of the fields, about
40-60 bytes) in one arena with an end offset per row, and one small entry: the hash
of those bytes and the day it occurred on, mapped to its row in the event table (a
``KeyIndex``: 12 bytes per event; rows in log order). Look-alikes occurred at most a
day apart, so a lookup reads the rows of three days (the event's and either side)
from the newest back, checks the time window, and confirms the few it names by
comparing their identity bytes with the event's: exact, so a hash collision costs a
comparison, never a wrong answer, and no body is read or decoded. At most
``NAMED_AT_MOST`` are named, so a thousand identical events cost no more than ten.
Like the rest of the projection, it is rebuilt by replay.
"""

import bisect
import math
import sys
from array import array
from collections.abc import Callable, Hashable, Iterator, Sequence
from itertools import accumulate
from operator import attrgetter
from typing import TYPE_CHECKING, NamedTuple, cast, get_origin, get_type_hints
from uuid import UUID

import msgspec
import numpy as np
import numpy.typing as npt

from domain.duplicates import IDENTIFYING_FIELDS, WINDOW, Identity, normalised
from domain.events import KIND_TYPES, BaseEvent
from service.projection.eventdecoders import Identified
from service.projection.idtexts import id_texts
from service.projection.keyindex import KeyIndex

if TYPE_CHECKING:
    from service.projection.eventtable import EventTable

NAMED_AT_MOST = 10
"""How many look-alikes an event names at most: the latest ones."""

_DAY_S = 86_400
_WINDOW_S = WINDOW.total_seconds()


Indexed = BaseEvent | Identified
"""An event as the index decodes it (``eventdecoders``): its identity is the same."""

KeyOf = Callable[[bytes, int], int]
"""The ``KeyIndex`` key of an identity's bytes on a day (a signed 64-bit integer)."""


class Held(NamedTuple):
    """A ``DuplicateIndex``'s parts, for readers: the event table, the rows by key, the
    key function, the identities' arena and each row's end offset in it."""

    table: "EventTable"
    rows: KeyIndex
    key_of: KeyOf
    identities: bytearray
    ends: "array[int]"


class DuplicateIndex:
    def __init__(self, table: "EventTable", key_of: KeyOf | None = None) -> None:
        self._table = table
        self._rows = KeyIndex()
        self._key_of = key_of or _key
        self._identities = bytearray()
        """Every row's ``identity_bytes``, one after the other."""
        self._ends = array("q")
        """Where each row's identity bytes end in ``_identities``."""

    def add(self, row: int, event: Indexed) -> None:
        """Index the event at ``row`` of the table (called by the projection, in
        row order, each row once)."""
        (ident,), (key,) = self.planned([event], [event.occurred_at.timestamp()])
        self.add_planned(row, ident, key)

    def planned(
        self, events: Sequence[Indexed], occurred: Sequence[float]
    ) -> tuple[list[bytes], list[int]]:
        """The identity bytes and keys ``extend`` files ``events`` (which occurred at
        ``occurred``) under: computed before the index lock, changing nothing."""
        idents = [identity_bytes(event) for event in events]
        key_of = self._key_of
        keys = [key_of(i, _day(t)) for i, t in zip(idents, occurred, strict=True)]
        return idents, keys

    def add_planned(self, row: int, ident: bytes, key: int) -> None:
        """``add`` of one event, its identity bytes and key planned by ``planned``."""
        assert row == len(self._ends), f"row {row} added after {len(self._ends)} rows"
        self._identities += ident
        # a reader finds the row through ``_rows`` only once its bytes are in place
        self._ends.append(len(self._identities))
        self._rows.add(key, row)

    def extend(self, first: int, idents: list[bytes], keys: list[int]) -> None:
        """``add`` of a run of events at rows ``first``, ``first + 1``, ..., planned
        by ``planned``."""
        assert first == len(self._ends), f"row {first} added after {len(self._ends)} rows"
        base = len(self._identities)
        self._identities += b"".join(idents)
        self._ends.extend([base + end for end in accumulate(map(len, idents))])
        self._rows.add_many(keys, first)

    def look_alikes(self, event: BaseEvent, before: int, *, now: bool = False) -> list[UUID]:
        """The latest ``NAMED_AT_MOST`` events at positions below ``before`` that
        ``event`` looks like, in log order, leaving out those retracted before
        ``before`` (the log as it stood then: an append's answer, the same when the
        append is repeated) or, with ``now``, retracted at all. Safe without the
        index lock, like a listing: rows and buckets are only ever appended to."""
        found = self._candidates(event, before, now)
        return [self._table.event_id(row) for row in reversed(found[:NAMED_AT_MOST])]

    def look_alike_texts(self, event: BaseEvent, before: int) -> list[str]:
        """``look_alikes``, each id as its text (``str(UUID)``), as a receipt carries it."""
        found = self._candidates(event, before, False)
        return id_texts(self._table.id_bytes(found[:NAMED_AT_MOST][::-1]))

    def all_look_alike_texts(self, asked: Sequence[tuple[BaseEvent, int]]) -> list[list[str]]:
        """``look_alike_texts`` of each (event, before), found together."""
        from service.projection.lookalikes import all_look_alike_texts  # noqa: PLC0415 - it reads this index

        return all_look_alike_texts(self, asked)

    def all_look_alikes(
        self, asked: Sequence[tuple[BaseEvent, int]], *, now: bool = False
    ) -> list[list[UUID]]:
        """``look_alikes`` of each (event, before), found together
        (``service.projection.lookalikes``)."""
        from service.projection.lookalikes import all_look_alikes  # noqa: PLC0415 - it reads this index

        return all_look_alikes(self, asked, now=now)

    def held(self) -> "Held":
        """What the index holds, to be read (never changed) by the bulk lookup."""
        return Held(self._table, self._rows, self._key_of, self._identities, self._ends)

    def _candidates(self, event: BaseEvent, before: int, now: bool) -> list[int]:
        """The rows filed under the event's identity near its day that it looks like,
        the newest ``NAMED_AT_MOST`` of each day's key, newest first."""
        occurred = event.occurred_at.timestamp()
        ident = identity_bytes(event)
        day = _day(occurred)
        candidates: list[int] = []
        key_of = self._key_of
        # the three days' keys are distinct but for a collision, which must not
        # name a row twice
        keys = [
            *dict.fromkeys((key_of(ident, day - 1), key_of(ident, day), key_of(ident, day + 1)))
        ]
        retracted = math.inf if now else before
        for older, newer in self._rows.parts(keys):
            candidates += self._near(ident, older, newer, occurred, before, retracted)
        candidates.sort(reverse=True)
        return candidates

    def _confirmed(self, ident: bytes, row: int) -> bool:
        """Whether the row's identity is ``ident`` (a key's hash can collide)."""
        end = self._ends[row]
        start = end - len(ident)
        return start == (self._ends[row - 1] if row else 0) and (
            self._identities[start:end] == ident
        )

    def identity_bytes_held(self) -> int:
        """The bytes the identities take (arena and offsets)."""
        return len(self._identities) + self._ends.itemsize * len(self._ends)

    def _near(
        self,
        ident: bytes,
        older: "npt.NDArray[np.int32]",
        newer: list[int],
        occurred: float,
        before: int,
        retracted: float,
    ) -> list[int]:
        """The newest ``NAMED_AT_MOST`` of the rows ``older`` then ``newer`` (each
        ascending) below position ``before``, not retracted before position
        ``retracted``, that occurred within the window of ``occurred`` with the
        identity ``ident``. Confirmed here, before they are counted: rows of another
        identity filed under a colliding key must not crowd out the event's own."""
        table = self._table
        found: list[int] = []
        listed: npt.NDArray[np.int32] | list[int]
        for listed in (newer, older):
            end = bisect.bisect_left(listed, before, key=lambda row: table.positions[row])
            for row in _newest_first(listed, end):
                near = abs(table.occurred[row] - occurred) <= _WINDOW_S
                if (
                    near
                    and not table.retracted_before(row, retracted)
                    and self._confirmed(ident, row)
                ):
                    found.append(row)
                    if len(found) == NAMED_AT_MOST:
                        return found
        return found


def _newest_first(
    listed: "npt.NDArray[np.int32] | list[int]", end: int, chunk: int = 2 * NAMED_AT_MOST
) -> Iterator[int]:
    """``listed[:end]`` backwards as ``int``s, converted a chunk at a time (a numpy
    view of millions of rows is never copied whole)."""
    while end > 0:
        start = max(0, end - chunk)
        part = listed[start:end]
        yield from reversed(part.tolist() if isinstance(part, np.ndarray) else part)
        end = start
        chunk *= 4


def _getter(fields: tuple[str, ...]) -> Callable[[Indexed], tuple[Hashable, ...]]:
    get = attrgetter(*fields)
    return get if len(fields) > 1 else lambda event: (get(event),)


_FIELDS = {kind: _getter(fields) for kind, fields in IDENTIFYING_FIELDS.items()}


def key_identity(event: Indexed) -> Identity:
    """Equal to ``domain.duplicates.identity`` (a test holds them together), computed
    with one getter per kind: the generic one was a fifth of a replay's time."""
    kind = event.__struct_config__.tag
    return (kind, *map(normalised, _FIELDS[kind](event)))  # type: ignore[index]


def _is_list(kind: str, field: str) -> bool:
    return get_origin(get_type_hints(KIND_TYPES[kind])[field]) is list


_KIND_BYTE = {kind: bytes([code]) for code, kind in enumerate(sorted(IDENTIFYING_FIELDS))}
_encode = msgspec.msgpack.Encoder().encode


def identity_bytes(event: Indexed) -> bytes:
    """``key_identity`` as bytes, equal exactly when the identities are: a byte for the
    kind, then the msgpack array of the normalised fields (strings and arrays of
    strings, each self-delimiting, so no two identities share their bytes). Kinds
    without list fields are looked up first by their raw fields (``_SEEN``)."""
    kind = cast(str, event.__struct_config__.tag)
    raw = _FIELDS[kind](event)
    seen = _SEEN.get(kind)
    if seen is None:
        return _identity_bytes(kind, raw)
    found = seen.get(raw)
    if found is None:
        if len(seen) >= SEEN_AT_MOST:
            seen.clear()
        found = seen[raw] = _identity_bytes(kind, raw)
    return found


def _identity_bytes(kind: str, raw: tuple[Hashable, ...]) -> bytes:
    return _KIND_BYTE[kind] + _encode([*map(normalised, raw)])


SEEN_AT_MOST = 4096
"""Raw identifying fields remembered per kind with their identity bytes (reports of
one happening, and the same authorities, products and companies, recur)."""

_SEEN: dict[str, dict[tuple[Hashable, ...], bytes]] = {
    kind: {}
    for kind, fields in IDENTIFYING_FIELDS.items()
    if not any(_is_list(kind, name) for name in fields)
}


def _day(timestamp: float) -> int:
    return int(timestamp // _DAY_S)


def _key(ident: bytes, day: int) -> int:
    """A signed 64-bit key (``hash`` is one on 64-bit builds)."""
    return hash((ident, day))


assert sys.hash_info.width == 64, "KeyIndex keys are 64-bit"
