"""Idempotent appends: the ids of a request's events, and what an Idempotency-Key
stands for (the endpoint and every event, in order), so that a request made again
is answered as the first time and a key used for another request is a conflict."""

import hashlib
from collections.abc import Sequence
from uuid import UUID, uuid4

from anyio import to_thread

from domain.errors import EventConflict, FieldError, InvalidInput
from domain.events import BaseEvent
from domain.records import idempotency_event_id, request_record_id
from service.persistence.eventlog import EventLog


def assign_ids(events: Sequence[BaseEvent], key: str | None, *, batch: bool) -> list[UUID]:
    """Each event's id: its own, else one derived from the Idempotency-Key, else a new one."""
    ids: list[UUID] = []
    first_index: dict[UUID, int] = {}
    errors: list[FieldError] = []
    for i, event in enumerate(events):
        if event.event_id is not None:
            event_id = event.event_id
        elif key is not None:
            event_id = idempotency_event_id(key, i if batch else None)
        else:
            event_id = uuid4()
        if event_id in first_index:
            errors.append(
                FieldError(f"events[{i}].event_id", f"repeats events[{first_index[event_id]}]")
            )
        first_index.setdefault(event_id, i)
        ids.append(event_id)
    if errors:
        raise InvalidInput(errors)
    return ids


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
