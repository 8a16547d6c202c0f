"""Idempotent appends: the ids of a request's events, and what an Idempotency-Key
stands for (the endpoint and every event, in order), so that a request made again
is answered as the first time and a key used for another request is a conflict."""

import hashlib
import os
from collections.abc import Sequence
from uuid import UUID, uuid4

import numpy as np
from anyio import to_thread

from domain.errors import EventConflict, FieldError, InvalidInput
from domain.events import BaseEvent
from domain.records import idempotency_event_id, request_record_id
from service.persistence.eventlog import EventLog
from service.projection.eventtable import uuid_of

_ONE_BY_ONE = 16
"""Up to this many random ids are made by ``uuid4`` (numpy's few calls cost more)."""


def assign_ids(events: Sequence[BaseEvent], key: str | None, *, batch: bool) -> list[UUID]:
    """Each event's id: its own, else one derived from the Idempotency-Key, else a new
    one (random, version 4). An id given twice in one request is refused; ids made
    here are distinct (by index, or random)."""
    given = [event.event_id for event in events]
    if key is not None:
        ids = [
            idempotency_event_id(key, i if batch else None) if event_id is None else event_id
            for i, event_id in enumerate(given)
        ]
    else:
        fresh = iter(random_ids(given.count(None)))
        ids = [next(fresh) if event_id is None else event_id for event_id in given]
    _refuse_repeated(ids, given, key)
    return ids


def _refuse_repeated(ids: list[UUID], given: list[UUID | None], key: str | None) -> None:
    """``InvalidInput`` naming each event whose id an earlier one of the request has.
    Only ids a client gave can repeat, and those derived from a key (which a client
    may give too)."""
    first_index: dict[UUID, int] = {}
    errors: list[FieldError] = []
    for i, event_id in enumerate(ids):
        if given[i] is None and key is None:
            continue
        if event_id in first_index:
            errors.append(
                FieldError(f"events[{i}].event_id", f"repeats events[{first_index[event_id]}]")
            )
        first_index.setdefault(event_id, i)
    if errors:
        raise InvalidInput(errors)


def random_ids(count: int) -> list[UUID]:
    """``count`` random (version 4) UUIDs, as ``uuid4`` makes them; more than a few
    from one read of the system's random source (``uuid4`` reads it, and checks its
    arguments, once per id: 1.2 ms for a batch of 1000)."""
    if count <= _ONE_BY_ONE:
        return [uuid4() for _ in range(count)]
    made = np.frombuffer(os.urandom(16 * count), np.uint8).reshape(count, 16).copy()
    made[:, 6] = (made[:, 6] & 0x0F) | 0x40
    made[:, 8] = (made[:, 8] & 0x3F) | 0x80
    raw = made.tobytes()
    return [uuid_of(raw[i : i + 16]) for i in range(0, len(raw), 16)]


def request_fingerprint(endpoint: str, ids: Sequence[UUID], bodies: Sequence[str]) -> str:
    """What an Idempotency-Key stands for: the endpoint and every event, in order."""
    digest = hashlib.sha256(endpoint.encode())
    for event_id, body in zip(ids, bodies, strict=True):
        digest.update(b"\n" + event_id.bytes + body.encode())
    return digest.hexdigest()


async def replay_of(eventlog: EventLog, key: str, fingerprint: str) -> bool:
    """True if this key was used for this very request; a conflict if for another."""
    request = await to_thread.run_sync(eventlog.get, request_record_id(key))
    if request is None:
        return False
    if request.fingerprint != fingerprint:
        msg = f"Idempotency-Key {key!r} was used for another request"
        raise EventConflict(msg)
    return True
