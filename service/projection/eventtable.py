"""The log's world events in memory, kept lean.

The index holds every world event of the log, by the million, and memory is
also time here: first-touch page faults on this kind of VM cost several
microseconds per kilobyte, so a replay is as fast as its index is small. An
event is kept as a few numbers in flat arrays: its position, times, kind and
the 16 bytes of its id, found by id through a ``KeyIndex`` (12 bytes per event
where a ``dict`` took about 100). Its body is read back (``storedbodies``: the
latest few are cached, the others come from the store) and decoded when a
reader asks for it (a page of a listing, one event, a forecast's drivers) or
when a new scenario version scans the events of its kinds.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, SafeUUID

from domain.codecs import logged_event_decoder as _logged_decoder
from domain.events import KIND_TYPES, BaseEvent, RetractedInfo
from service.projection.duplicates import DuplicateIndex
from service.projection.eventdecoders import IDENTIFIED
from service.projection.keyindex import KeyIndex
from service.projection.packedbodies import PACK, PackedBodies
from service.projection.storedbodies import Bodies

KINDS: tuple[str, ...] = tuple(sorted(KIND_TYPES))
KIND_CODES: dict[str, int] = {kind: code for code, kind in enumerate(KINDS)}
KIND_CODE_OF: dict[type, int] = {
    **{KIND_TYPES[kind]: code for kind, code in KIND_CODES.items()},
    **{IDENTIFIED[kind]: code for kind, code in KIND_CODES.items()},
}
"""A decoded event's kind code by its type, full or ``Identified`` (``eventdecoders``)."""
SCAN_CHUNK = 1024
"""Bodies read from the store at once when scanning the events of some kinds (whole
packs of ``packedbodies``, as many as fit)."""


def id_key(key: bytes) -> int:
    """An id's key in the ``KeyIndex``: the hash of all 16 bytes (SipHash, keyed anew
    by each process). Not a slice of the id: clients may choose their ids, and ids
    that share a prefix (the demo's do) would file every event under one key and
    make each lookup a scan of them all."""
    return hash(key)


def uuid_of(key: bytes | bytearray) -> UUID:
    """``UUID(bytes=key)`` at half its cost (its ``__init__`` checks the arguments'
    combinations): what ``UUID.__init__`` sets, set directly (its slots ``int`` and
    ``is_safe``). Look-alikes and listings name ids by the thousand."""
    made = _new_object(UUID)
    _set_slot(made, "int", _from_bytes(key, "big"))
    _set_slot(made, "is_safe", _UNKNOWN)
    return made


_new_object = object.__new__
_set_slot = object.__setattr__
_from_bytes = int.from_bytes
_UNKNOWN = SafeUUID.unknown


class EventTable:
    """World events in position order: row ``i`` is the ``i``-th event applied.

    Appends come from the projection's single thread; readers index rows below
    a length they read first, which appends never move (``list`` and ``array``
    keep existing items where they are, as far as readers holding the GIL see).
    """

    def __init__(self, bodies: Bodies, pack: int = PACK) -> None:
        self.positions = array("q")
        self.recorded = array("d")
        self.occurred = array("d")
        self.bodies = bodies
        self._ids = bytearray()
        self._rows = KeyIndex()
        self._rows_of_kind: dict[int, array[int]] = {
            code: array("i") for code in KIND_CODES.values()
        }
        self._packed = {code: PackedBodies(pack) for code in KIND_CODES.values()}
        """Per kind, the bodies scans have read, compressed (``packedbodies``)."""
        self._retracted: dict[int, RetractedInfo] = {}
        self._retracted_by: dict[int, int] = {}
        self.duplicates = DuplicateIndex(self)

    def __len__(self) -> int:
        return len(self.occurred)

    def append(
        self, key: bytes, body: str, kind: str, occurred: float, position: int, recorded: float
    ) -> None:
        """Add the event whose id is ``key`` (the 16 bytes of its ``UUID``); times in
        seconds since the epoch (``datetime.timestamp()``, which ``fromtimestamp``
        turns back into the same microsecond)."""
        self.append_coded(key, body, KIND_CODES[kind], occurred, position, recorded)

    def append_coded(
        self, key: bytes, body: str, code: int, occurred: float, position: int, recorded: float
    ) -> None:
        """``append``, the kind given by its code (``KIND_CODES``)."""
        row = len(self.occurred)
        self.bodies.keep(position, body)
        self._ids += key
        self.positions.append(position)
        self.recorded.append(recorded)
        # a reader takes the length from ``occurred`` (``__len__``): the row is found
        # by id or kind only once it is complete
        self.occurred.append(occurred)
        self._rows.add(id_key(key), row)
        self._rows_of_kind[code].append(row)

    def extend(
        self,
        keys: Sequence[bytes],
        bodies: Sequence[str],
        codes: Sequence[int],
        occurred: Sequence[float],
        positions: Sequence[int],
        recorded: Sequence[float],
    ) -> None:
        """``append`` of each (``codes``: their kinds' ``KIND_CODES``), the run at once:
        the arrays extended in one call each. Readers see the rows together (the
        length is ``occurred``'s), found by id and kind just after, as with
        ``append``."""
        if not keys:
            return
        first = len(self.occurred)
        self.bodies.keep_many(positions, bodies)
        self._ids += b"".join(keys)
        self.positions.extend(positions)
        self.recorded.extend(recorded)
        self.occurred.extend(occurred)
        self._rows.add_many(list(map(hash, keys)), first)  # ``id_key`` of each
        rows_of_kind = self._rows_of_kind
        if codes.count(codes[0]) == len(codes):  # a run of one kind
            rows_of_kind[codes[0]].extend(range(first, first + len(codes)))
            return
        for row, code in enumerate(codes, first):
            rows_of_kind[code].append(row)

    def retract(self, event_id: UUID, info: RetractedInfo, position: int = 0) -> None:
        """Mark the event retracted by the record at ``position`` of the log."""
        row = self.row_of(event_id)
        assert row is not None, f"retracting {event_id}, not applied"
        self._retracted[row] = info
        self._retracted_by[row] = position

    def retracted_before(self, row: int, position: float) -> bool:
        """Whether the event at ``row`` was retracted by a record before ``position``."""
        return self._retracted_by.get(row, position) < position

    def row_of(self, event_id: UUID) -> int | None:
        key = event_id.bytes
        ids = self._ids
        for row in self._rows.rows(id_key(key)):
            if ids[16 * row : 16 * row + 16] == key:
                return row
        return None

    def position(self, event_id: UUID) -> int:
        row = self.row_of(event_id)
        if row is None:
            raise KeyError(event_id)
        return self.positions[row]

    def event_id(self, row: int) -> UUID:
        return uuid_of(self._ids[16 * row : 16 * row + 16])

    def id_bytes(self, rows: Sequence[int]) -> bytes:
        """The 16 bytes of each row's id (``UUID.bytes``), one after the other."""
        ids = self._ids
        return b"".join([ids[16 * row : 16 * row + 16] for row in rows])

    def body(self, row: int) -> str:
        """The stored JSON body of the event at ``row``."""
        return self.bodies.read([self.positions[row]])[0]

    def bodies_of(self, rows: Sequence[int]) -> list[str]:
        """The stored JSON bodies of the events at ``rows``, in that order (one read of
        the store for those not cached)."""
        positions = self.positions
        return self.bodies.read([positions[row] for row in rows])

    def event(self, row: int) -> Any:
        """The event at ``row`` as the API shows it (a ``LoggedEvent``)."""
        return self.events([row])[0]

    def events(self, rows: Sequence[int]) -> list[Any]:
        """The events at ``rows`` as the API shows them, in that order."""
        return [
            self._shown_as_logged(row, body)
            for row, body in zip(rows, self.bodies_of(rows), strict=True)
        ]

    def _shown_as_logged(self, row: int, body: str) -> Any:
        event = _logged_decoder.decode(body)
        event.event_id = self.event_id(row)
        event.position = self.positions[row]
        event.recorded_at = datetime.fromtimestamp(self.recorded[row], UTC)
        event.retracted = self._retracted.get(row)
        return event

    def get(self, event_id: UUID) -> Any:
        """The event with this id as the API shows it, or None."""
        row = self.row_of(event_id)
        return None if row is None else self.event(row)

    def get_all(self, event_ids: Sequence[UUID]) -> list[Any]:
        """``get`` of each, their bodies read at once (a forecast's contributions)."""
        rows = [self.row_of(event_id) for event_id in event_ids]
        found = iter(self.events([row for row in rows if row is not None]))
        return [None if row is None else next(found) for row in rows]

    def shown(self, row: int) -> Any:
        """The event at ``row`` as the events API shows it: with its possible
        duplicates as the log stands now (``service.projection.duplicates``)."""
        return self.all_shown([row])[0]

    def all_shown(self, rows: Sequence[int]) -> list[Any]:
        """``shown`` for each of ``rows``, their bodies and their look-alikes' read at
        once."""
        events = self.events(rows)
        asked = [(event, event.position) for event in events]
        found = self.duplicates.all_look_alikes(asked, now=True)
        for event, alikes in zip(events, found, strict=True):
            event.possible_duplicates = alikes
        return events

    def get_shown(self, event_id: UUID) -> Any:
        """``get`` with the possible duplicates, or None."""
        row = self.row_of(event_id)
        return None if row is None else self.shown(row)

    def page(
        self,
        after: int,
        limit: int,
        kind: str | None = None,
        occurred_from: float | None = None,
        occurred_to: float | None = None,
    ) -> tuple[list[Any], int | None]:
        """Events after a position (filtered by kind and occurrence time), at most
        ``limit``, and the cursor of the next page (None when nothing more matches).
        Each names its possible duplicates (``service.projection.duplicates``)."""
        rows: list[int] = []
        more = False
        for row in self._rows_after(after, kind):
            occurred = self.occurred[row]
            if occurred_from is not None and occurred < occurred_from:
                continue
            if occurred_to is not None and occurred > occurred_to:
                continue
            if len(rows) == limit:
                more = True
                break
            rows.append(row)
        page = self.all_shown(rows)
        return page, page[-1].position if more else None

    def _rows_after(self, position: int, kind: str | None) -> Iterator[int]:
        count = len(self)
        if kind is None:
            yield from range(bisect.bisect_right(self.positions, position, 0, count), count)
            return
        rows = self._rows_of_kind[KIND_CODES[kind]]
        positions = self.positions
        end = bisect.bisect_left(rows, count)
        start = bisect.bisect_right(rows, position, 0, end, key=lambda row: positions[row])
        for i in range(start, end):
            yield rows[i]

    def count_of_kinds(self, kinds: frozenset[str]) -> int:
        """How many events of these kinds, without decoding them."""
        count = len(self)
        return sum(bisect.bisect_left(self._rows_of_kind[KIND_CODES[k]], count) for k in kinds)

    def of_kinds(self, kinds: frozenset[str]) -> Iterator[tuple[BaseEvent, UUID, int, float]]:
        """Every event of these kinds, decoded: (event, id, position, recorded_at in
        seconds), kind by kind (callers sort what they find)."""
        count = len(self)
        for kind in sorted(kinds):
            for rows, bodies in self._bodies_of_kind(KIND_CODES[kind], count):
                for row, body in zip(rows, bodies, strict=True):
                    yield (
                        _logged_decoder.decode(body),
                        self.event_id(row),
                        self.positions[row],
                        self.recorded[row],
                    )

    def _bodies_of_kind(self, code: int, count: int) -> Iterator[tuple[Sequence[int], list[str]]]:
        """The rows of a kind below ``count`` and their bodies, a pack at a time: from
        the packs made by earlier scans, else read from the store (packs not made yet
        at once, up to ``SCAN_CHUNK`` bodies) and packed; the last events of the kind,
        short of a full pack, are read from the store."""
        rows = self._rows_of_kind[code]
        end = bisect.bisect_left(rows, count)
        packed = self._packed[code]
        size = packed.size
        full = end // size
        per_read = max(1, SCAN_CHUNK // size)
        for first in range(0, full, per_read):
            numbers = range(first, min(full, first + per_read))
            found = {n: packed.get(n) for n in numbers}
            missing = [n for n, bodies in found.items() if bodies is None]
            if missing:
                wanted = [row for n in missing for row in rows[n * size : (n + 1) * size]]
                read = self.bodies_of(wanted)
                for i, n in enumerate(missing):
                    found[n] = read[i * size : (i + 1) * size]
                    packed.put(n, read[i * size : (i + 1) * size])
            for n in numbers:
                bodies = found[n]
                assert bodies is not None
                yield rows[n * size : (n + 1) * size], bodies
        tail = rows[full * size : end]
        if tail:
            yield tail, self.bodies_of(tail)

    def packed_bytes(self) -> int:
        """The compressed bytes the packs of every kind hold."""
        return sum(p.held_bytes() for p in self._packed.values())
