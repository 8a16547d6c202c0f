"""The log's world events in memory, kept lean.

The index holds every world event of the log, by the million, and memory is
also time here: first-touch page faults on this kind of VM cost several
microseconds per kilobyte, so a replay is as fast as its index is small. An
event is kept as its stored JSON body plus a few numbers in flat arrays (about
600 bytes for a 400-byte body, where the decoded struct took 1,400); it is
decoded again when a reader asks for it (a page of a listing, one event, a
forecast's drivers) or when a new scenario version scans the events of its
kinds.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from domain.codecs import logged_event_decoder as _logged_decoder
from domain.events import KIND_TYPES, BaseEvent, RetractedInfo
from service.projection.duplicates import DuplicateIndex

KINDS: tuple[str, ...] = tuple(sorted(KIND_TYPES))
KIND_CODES: dict[str, int] = {kind: code for code, kind in enumerate(KINDS)}


class EventTable:
    """World events in position order: row ``i`` is the ``i``-th event applied.

    Appends come from the projection's single thread; readers index rows below
    a length they read first, which appends never move (``list`` and ``array``
    keep existing items where they are, as far as readers holding the GIL see).
    """

    def __init__(self) -> None:
        self.positions = array("q")
        self.recorded = array("d")
        self.occurred = array("d")
        self.bodies: list[str] = []
        self._ids: list[bytes] = []
        self._rows: dict[bytes, int] = {}
        self._rows_of_kind: dict[int, array[int]] = {
            code: array("i") for code in KIND_CODES.values()
        }
        self._retracted: dict[int, RetractedInfo] = {}
        self._retracted_by: dict[int, int] = {}
        self.duplicates = DuplicateIndex(self)

    def __len__(self) -> int:
        return len(self.bodies)

    def append(
        self, key: bytes, body: str, kind: str, occurred: float, position: int, recorded: float
    ) -> None:
        """Add the event whose id is ``key`` (the 16 bytes of its ``UUID``); times in
        seconds since the epoch (``datetime.timestamp()``, which ``fromtimestamp``
        turns back into the same microsecond)."""
        row = len(self.bodies)
        code = KIND_CODES[kind]
        self.positions.append(position)
        self.recorded.append(recorded)
        self.occurred.append(occurred)
        self.bodies.append(body)
        self._ids.append(key)
        self._rows[key] = row
        self._rows_of_kind[code].append(row)

    def retract(self, event_id: UUID, info: RetractedInfo, position: int = 0) -> None:
        """Mark the event retracted by the record at ``position`` of the log."""
        row = self._rows[event_id.bytes]
        self._retracted[row] = info
        self._retracted_by[row] = position

    def retracted_before(self, row: int, position: float) -> bool:
        """Whether the event at ``row`` was retracted by a record before ``position``."""
        return self._retracted_by.get(row, position) < position

    def row_of(self, event_id: UUID) -> int | None:
        return self._rows.get(event_id.bytes)

    def position(self, event_id: UUID) -> int:
        return self.positions[self._rows[event_id.bytes]]

    def event_id(self, row: int) -> UUID:
        return UUID(bytes=self._ids[row])

    def event(self, row: int) -> Any:
        """The event at ``row`` as the API shows it (a ``LoggedEvent``)."""
        event = _logged_decoder.decode(self.bodies[row])
        event.event_id = self.event_id(row)
        event.position = self.positions[row]
        event.recorded_at = datetime.fromtimestamp(self.recorded[row], UTC)
        event.retracted = self._retracted.get(row)
        return event

    def get(self, event_id: UUID) -> Any:
        """The event with this id as the API shows it, or None."""
        row = self.row_of(event_id)
        return None if row is None else self.event(row)

    def shown(self, row: int) -> Any:
        """The event at ``row`` as the events API shows it: with its possible
        duplicates as the log stands now (``service.projection.duplicates``)."""
        event = self.event(row)
        event.possible_duplicates = self.duplicates.look_alikes(event, event.position, now=True)
        return event

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
        page: list[Any] = []
        for row in self._rows_after(after, kind):
            occurred = self.occurred[row]
            if occurred_from is not None and occurred < occurred_from:
                continue
            if occurred_to is not None and occurred > occurred_to:
                continue
            if len(page) == limit:
                return page, page[-1].position
            page.append(self.shown(row))
        return page, None

    def _rows_after(self, position: int, kind: str | None) -> Iterator[int]:
        count = len(self.bodies)
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
        count = len(self.bodies)
        return sum(bisect.bisect_left(self._rows_of_kind[KIND_CODES[k]], count) for k in kinds)

    def of_kinds(self, kinds: frozenset[str]) -> Iterator[tuple[BaseEvent, UUID, int, float]]:
        """Every event of these kinds, decoded: (event, id, position, recorded_at in
        seconds), kind by kind (callers sort what they find)."""
        count = len(self.bodies)
        for kind in sorted(kinds):
            rows = self._rows_of_kind[KIND_CODES[kind]]
            for i in range(bisect.bisect_left(rows, count)):
                row = rows[i]
                yield (
                    _logged_decoder.decode(self.bodies[row]),
                    self.event_id(row),
                    self.positions[row],
                    self.recorded[row],
                )
