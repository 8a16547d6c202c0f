"""Reading the index with read-your-writes on this replica: a client reading right
after its 201 sees its write, and a ``min_position`` is waited for (bounded)."""

from collections.abc import Callable
from typing import TypeVar

from anyio import to_thread

from domain.errors import NotFound
from service.access import CALLER_WRITES
from service.persistence.eventlog import EventLog

T = TypeVar("T")


class ProjectionBehind(Exception):
    """``min_position`` was not applied in time (HTTP 503 with Retry-After)."""

    def __init__(self, position: int, applied: int) -> None:
        super().__init__(f"position {position} is not applied yet here (at {applied}); retry")
        self.detail = str(self)


async def own_writes_visible(eventlog: EventLog) -> None:
    """Wait (bounded) until the index shows every commit this replica has acknowledged,
    so a client reading right after a 201 sees its write. Free when nothing is pending,
    and for a caller with a read-only key: it has no writes to see, and a dashboard
    polling with one must not queue behind other clients' heavy batches while the
    projection applies them (``min_position`` still waits for a given position)."""
    if not CALLER_WRITES.get():
        return
    written = eventlog.committer.last_position
    if eventlog.index.position < written:
        await to_thread.run_sync(
            eventlog.index.reached, written, eventlog.settings.read_your_writes_wait_s
        )


async def position_reached(eventlog: EventLog, position: int) -> bool:
    """Wait (bounded: ``min_position_wait_s``) until the index has applied ``position``."""
    if eventlog.index.position >= position:
        return True
    wait = eventlog.settings.min_position_wait_s
    return await to_thread.run_sync(eventlog.index.reached, position, wait)


async def position_applied(eventlog: EventLog, position: int | None) -> None:
    """Own writes visible, and ``position`` applied (``ProjectionBehind`` if not in time)."""
    await own_writes_visible(eventlog)
    if position is None:
        return
    if not await position_reached(eventlog, position):
        raise ProjectionBehind(position, eventlog.index.position)


async def await_record(eventlog: EventLog, lookup: Callable[[], T | None], missing: str) -> T:
    """``lookup()`` in the index once it shows this replica's own writes; on a miss,
    wait (bounded) for it to apply the store's head (writes from elsewhere) and
    look again; still missing: ``NotFound(missing)``."""
    await own_writes_visible(eventlog)
    found = lookup()
    if found is None and await to_thread.run_sync(
        eventlog.catch_up, eventlog.settings.read_your_writes_wait_s
    ):
        found = lookup()
    if found is None:
        raise NotFound(missing)
    return found
