"""Reading from the index with read-your-writes on this replica."""

from collections.abc import Callable
from typing import TypeVar

from anyio import to_thread

from service.log import EventLog

T = TypeVar("T")


async def await_record(log: EventLog, lookup: Callable[[], T | None]) -> T | None:
    """``lookup()`` in the index; on a miss, wait (bounded) for the index to apply
    the store's current head and look again, so a 201 is always readable here."""
    found = lookup()
    if found is None and await to_thread.run_sync(
        log.catch_up, log.settings.read_your_writes_wait_s
    ):
        found = lookup()
    return found
