"""Reading from the index with read-your-writes on this replica."""

from collections.abc import Callable
from typing import TypeVar

from anyio import to_thread

from domain.errors import NotFound
from service.access import CALLER_WRITES
from service.persistence.eventlog import EventLog

T = TypeVar("T")


async def own_writes_visible(log: EventLog) -> None:
    """Wait (bounded) until the index shows every commit this replica has acknowledged,
    so a client reading right after a 201 sees its write. Free when nothing is pending,
    and for a caller with a read-only key: it has no writes to see, and a dashboard
    polling with one must not queue behind other clients' heavy batches while the
    projection applies them (``min_position`` still waits for a given position)."""
    if not CALLER_WRITES.get():
        return
    written = log.committer.last_position
    if log.index.position < written:
        await to_thread.run_sync(log.index.reached, written, log.settings.read_your_writes_wait_s)


async def await_record(log: EventLog, lookup: Callable[[], T | None], missing: str) -> T:
    """``lookup()`` in the index once it shows this replica's own writes; on a miss,
    wait (bounded) for it to apply the store's head (writes from elsewhere) and
    look again; still missing: ``NotFound(missing)``."""
    await own_writes_visible(log)
    found = lookup()
    if found is None and await to_thread.run_sync(
        log.catch_up, log.settings.read_your_writes_wait_s
    ):
        found = lookup()
    if found is None:
        raise NotFound(missing)
    return found
