"""Possible duplicates: the world events that look alike (``domain.duplicates``),
found without scanning the log.

Per event the index keeps one small entry: the hash of its identity (kind and
identifying fields) mapped to its row in the event table (a list of rows once
several share it). A lookup takes the rows under the event's hash and confirms
each with ``looks_alike`` on the stored body, so a hash collision costs a decode,
never a wrong answer. Like the rest of the projection, it is rebuilt by replay.
"""

from typing import TYPE_CHECKING
from uuid import UUID

from domain.codecs import world_event_decoder as _event_decoder
from domain.duplicates import identity, looks_alike
from domain.events import BaseEvent

if TYPE_CHECKING:
    from service.projection.eventtable import EventTable


class DuplicateIndex:
    def __init__(self, table: "EventTable") -> None:
        self._table = table
        self._rows: dict[int, int | list[int]] = {}

    def add(self, row: int, event: BaseEvent) -> None:
        """Index the event at ``row`` of the table (called by the projection)."""
        key = hash(identity(event))
        rows = self._rows.get(key)
        if rows is None:
            self._rows[key] = row
        elif isinstance(rows, int):
            self._rows[key] = [rows, row]
        else:
            rows.append(row)

    def look_alikes(self, event: BaseEvent, before: int) -> list[UUID]:
        """The events at positions below ``before``, not retracted, that ``event``
        looks like, in position order. Callers hold the index's ``reading()``."""
        rows = self._rows.get(hash(identity(event)))
        if rows is None:
            return []
        table = self._table
        found: list[UUID] = []
        for row in [rows] if isinstance(rows, int) else rows:
            if table.positions[row] >= before or table.is_retracted(row):
                continue
            if looks_alike(_event_decoder.decode(table.bodies[row]), event):
                found.append(table.event_id(row))
        return found
