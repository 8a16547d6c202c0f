"""What an append prepares on the event loop before its commit, a batch at once: the
events' ids, their stored bodies, and the body decoded once."""

from typing import Any
from uuid import UUID

import msgspec
import pytest
from litestar import Controller, Litestar, Request, post
from litestar.params import JSONBody
from litestar.testing import TestClient

from domain.errors import InvalidInput
from domain.events import EventBatch, WorldEvent
from domain.records import idempotency_event_id
from service.commands.events import event_bodies, event_body
from service.commands.idempotency import assign_ids, random_ids
from service.web.bodies import strict_json_body
from tests.service.events_data import approval, signal

_decode = msgspec.json.Decoder(WorldEvent).decode


def _events(*bodies: dict[str, Any]) -> list[Any]:
    return [_decode(msgspec.json.encode(body)) for body in bodies]


@pytest.mark.parametrize("count", [0, 1, 16, 17, 1000])
def test_random_ids_are_distinct_version_4_uuids(count: int) -> None:
    made = random_ids(count)
    assert len(made) == count == len(set(made))
    for made_id in made:
        again = UUID(str(made_id))
        assert (again.version, again.variant) == (4, "specified in RFC 4122")
        assert (again, hash(again)) == (made_id, hash(made_id))


def test_a_batch_without_ids_gets_new_ones_and_keeps_the_given_ones() -> None:
    given = UUID("0b5e6f0a-7d9e-4c31-9a57-4c1f5b0d2e11")
    events = _events(*[signal(f"s{i}") for i in range(40)], signal(event_id=str(given)))
    ids = assign_ids(events, None, batch=True)
    assert ids[-1] == given
    assert len(set(ids)) == 41
    assert all(i.version == 4 for i in ids[:-1])


def test_an_id_given_twice_in_a_batch_is_refused_by_index() -> None:
    twice = "0b5e6f0a-7d9e-4c31-9a57-4c1f5b0d2e11"
    events = _events(signal(event_id=twice), *[signal() for _ in range(30)], signal(event_id=twice))
    with pytest.raises(InvalidInput) as refused:
        assign_ids(events, None, batch=True)
    assert [(e.field, e.message) for e in refused.value.errors] == [
        ("events[31].event_id", "repeats events[0]")
    ]


def test_a_given_id_equal_to_one_derived_from_the_key_is_refused() -> None:
    derived = idempotency_event_id("k", 1)
    events = _events(signal(event_id=str(derived)), signal())
    with pytest.raises(InvalidInput) as refused:
        assign_ids(events, "k", batch=True)
    assert [e.field for e in refused.value.errors] == ["events[1].event_id"]


def test_bodies_of_a_batch_are_each_events_stored_body() -> None:
    events = _events(
        approval(), signal("a", event_id="0b5e6f0a-7d9e-4c31-9a57-4c1f5b0d2e11"), signal("b")
    )
    assert event_bodies(events) == [event_body(event) for event in events]
    assert "event_id" not in event_bodies(events)[1]


class _Seen(Controller):
    path = "/seen"
    before_request = staticmethod(strict_json_body)

    @post("/")
    async def seen(self, data: JSONBody[EventBatch], request: Request[Any, Any, Any]) -> str:
        json = await request.json()
        return f"{type(json).__name__} {json is data}"


def test_the_body_is_decoded_once_and_handed_to_litestar_as_decoded() -> None:
    """litestar reads the request's JSON from what the strict check decoded, not from
    the body again (a second decode, lax, and a conversion)."""
    with TestClient(Litestar([_Seen])) as client:
        answer = client.post("/seen", json={"events": [signal()]})
    assert (answer.status_code, answer.text) == (201, "EventBatch True")
