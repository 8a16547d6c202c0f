"""How a command writes: its records go to the group committer, and the command is
answered only after the commit, or with ``StoreUnavailable`` (a 503) once the commit
timeout has passed, never a request that hangs.

Uniqueness is the store's: a record that moved on since it was read, or a colliding
id, raises ``IntegrityError``. ``define_or_revise`` is the one loop that reads a
record, decides what to append to it, and reads it again after such a collision.
Blocking reads run in worker threads, never on the event loop.
"""

import asyncio
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from anyio import to_thread
from eventsourcing.persistence import IntegrityError, Recording

from domain.errors import Conflict
from service.persistence.committer import Build
from service.persistence.eventlog import EventLog

ATTEMPTS = 5
"""How many times a command reads and writes again after a collision, before a 409."""
T = TypeVar("T")


async def commit(eventlog: EventLog, build: Build) -> list[Recording[UUID]]:
    """Submit ``build`` and wait for its commit, at most the commit timeout: then
    ``StoreUnavailable`` (a 503), never a request that hangs. A caller cancelled while
    waiting cancels the job (not committed unless the writer has taken it already)."""
    committer = eventlog.committer
    future = committer.submit(build)
    if not await _settled(future, committer.commit_timeout_s):
        raise committer.timed_out(future)
    return future.result()


async def _settled(future: "Future[Any]", timeout_s: float) -> bool:
    """Whether ``future`` (completed in another thread) is done within ``timeout_s``.

    One loop future woken by the writer and one timer: what ``asyncio.wait_for``
    around ``asyncio.wrap_future`` does with two futures, a callback each way and a
    timer (issue 19: the loop's side of a commit)."""
    loop = asyncio.get_running_loop()
    woken = loop.create_future()

    def wake(_: "Future[Any]") -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(_release, woken)

    timer = loop.call_later(timeout_s, _release, woken)
    future.add_done_callback(wake)
    try:
        await woken
    except asyncio.CancelledError:
        future.cancel()
        raise
    finally:
        timer.cancel()
    return future.done()


def _release(woken: "asyncio.Future[None]") -> None:
    if not woken.done():
        woken.set_result(None)


def recorded_at_of(recording: Recording[UUID]) -> datetime:
    """When a committed record was recorded (its commit's time)."""
    timestamp: datetime = recording.domain_event.timestamp  # type: ignore[attr-defined]
    return timestamp


@dataclass(frozen=True)
class Revision(Generic[T]):
    """What a command makes of a record as stored: what to append (None: nothing, the
    record already says it) and the command's answer once that is committed."""

    build: Build | None
    answer: T


async def define_or_revise(
    eventlog: EventLog,
    record_id: UUID,
    revise: Callable[[Any | None], Revision[T]],
    busy: str,
) -> T:
    """Read the record (None if there is none), let ``revise`` decide, and commit its
    change. When another writer appended to the record first (``IntegrityError``), read
    it again and decide again; after ``ATTEMPTS`` collisions, ``Conflict(busy)``."""
    for _ in range(ATTEMPTS):
        record = await to_thread.run_sync(eventlog.get, record_id)
        revision = revise(record)
        if revision.build is None:
            return revision.answer
        try:
            await commit(eventlog, revision.build)
        except IntegrityError:
            continue
        return revision.answer
    raise Conflict(busy)
