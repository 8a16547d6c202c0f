"""What a failure to reach or fill the store means for a client.

When the store cannot be reached or cannot take a write, ``as_store_error`` names
it: ``StoreUnavailable`` (the connection was lost, the server is restarting, a
lock timed out) or ``StoreFull`` (its disk is full). Requests answer 503; the group
committer fails a commit's requests promptly and tries again with backoff.
"""

import sqlite3
from collections.abc import Iterator

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError


class StoreUnavailable(Exception):
    """The store cannot take a write (or answer a read) now; worth retrying after
    ``retry_after_s``. Raised instead of hanging: a request answers 503."""

    retry_after_s = 1

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def fresh(self) -> "StoreUnavailable":
        """The same error as a new object, for one more caller to raise (raising one
        object in many threads would grow its traceback each time)."""
        return type(self)(self.detail)


class StoreFull(StoreUnavailable):
    """The store's disk is full: nothing can be written until space is freed."""

    retry_after_s = 30


_SQLITE_FULL = "database or disk is full"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and its explicit causes (eventsourcing raises its own errors
    ``from`` the driver's); not what it was raised while handling (a bug raised
    while handling an outage is still a bug)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__


def as_store_error(exc: BaseException) -> StoreUnavailable | None:
    """What an exception from the store means for a client, or None if it is not
    about reaching or filling the store (a conflict, a bug)."""
    if isinstance(exc, StoreUnavailable):
        return exc
    causes = list(_chain(exc))
    for cause in causes:
        if isinstance(cause, psycopg.errors.DiskFull) or (
            isinstance(cause, sqlite3.OperationalError) and _SQLITE_FULL in str(cause)
        ):
            return StoreFull(f"the store's disk is full: {cause}".strip())
    reaching = (
        OperationalError,
        InterfaceError,
        psycopg.OperationalError,
        psycopg.InterfaceError,
        sqlite3.OperationalError,
    )
    if any(isinstance(cause, reaching) for cause in causes):
        return StoreUnavailable(
            f"the store is unavailable: {str(exc).strip() or type(exc).__name__}"
        )
    return None
