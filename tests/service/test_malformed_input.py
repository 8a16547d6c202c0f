"""A corpus of malformed requests against every write endpoint: each gets a clear 4xx
problem (RFC 9457: status, title, detail) and the store holds nothing new.

Each endpoint is a body template with two slots, ``@S@`` (a bounded text field)
and ``@N@`` (a number field, where the body has one; else the text slot takes the
number too, a wrong type). The templates as given are valid (a test checks it), so
every rejection below is due to the one thing each case breaks.

The answers chosen (``service.web.bodies`` and ``service.web.problems``):
- 400: the body is not JSON (truncated, invalid UTF-8, a raw control character,
  NaN/Infinity, a byte order mark, nesting too deep to read, empty) or it repeats
  a key (which value would count is ambiguous, so neither does);
- 415: the body is not declared as JSON (text/plain, forms, no Content-Type);
- 422: JSON of the wrong shape (an array for an object, a number out of range, a
  string too long or of the wrong type), naming the field.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient

from domain.alerts import AlertDefinition, check_condition
from tests.service.events_data import scenario

Client = TestClient  # type: ignore[type-arg]
JSON = "application/json"
SCENARIO = "malformed-corpus"
EVENT_ID = "0d15ea5e-0000-4000-8000-000000000001"

_SIGNAL = (
    '{"kind":"signal","occurred_at":"2025-01-01T00:00:00Z","summary":@S@,"label":"corpus",'
    '"attributes":{"n":@N@}}'
)


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    template: str
    text: str = '"fine"'
    number: str = "1"

    def body(self, text: str | None = None, number: str | None = None) -> str:
        filled = self.template.replace("@S@", text or self.text)
        return filled.replace("@N@", number or self.number)

    def with_number(self, value: str) -> str:
        if "@N@" in self.template:
            return self.body(number=value)
        return self.body(text=value)


def _scenario_template() -> str:
    definition = scenario(title="@S@", prior="@N@")
    text = _dumps(definition)
    return text.replace('"@S@"', "@S@").replace('"@N@"', "@N@")


def _dumps(value: Any) -> str:
    return json.dumps(value)


def _repeat_first_key(body: str) -> str:
    """The body with its first key repeated (same value) at the start of the object."""
    key, value = next(iter(json.loads(body).items()))
    return "{" + json.dumps(key) + ":" + json.dumps(value) + "," + body[1:]


ENDPOINTS = {
    "append": Endpoint("POST", "/v1/events", _SIGNAL),
    "batch": Endpoint("POST", "/v1/events/batch", '{"events":[' + _SIGNAL + "]}"),
    "retraction": Endpoint("POST", f"/v1/events/{EVENT_ID}/retraction", '{"reason":@S@}'),
    "define": Endpoint("PUT", f"/v1/scenarios/{SCENARIO}-2", _scenario_template(), number="0.2"),
    "resolution": Endpoint(
        "POST",
        f"/v1/scenarios/{SCENARIO}/resolution",
        '{"outcome":"yes","resolved_at":"2026-01-01T00:00:00Z","note":@S@}',
    ),
    "alert": Endpoint(
        "PUT",
        "/v1/alerts/malformed-corpus",
        '{"condition":{"crosses":@N@},"url":"https://192.0.2.1/hook","secret":@S@}',
        number="0.5",
    ),
    "backtest": Endpoint(
        "POST",
        "/v1/backtests",
        '{"from":"2025-09-01T00:00:00Z","to":"2025-10-01T00:00:00Z","step":"P1D",'
        '"scenario_ids":[@S@]}',
        text=f'"{SCENARIO}"',
    ),
}


@dataclass(frozen=True)
class Case:
    status: int
    build: Callable[[Endpoint], bytes]
    content_type: str | None = JSON


def _bytes(text: str) -> bytes:
    return text.encode()


def _raw_text(endpoint: Endpoint, raw: bytes) -> bytes:
    """The body with these bytes, as they are, inside the text slot's quotes."""
    return endpoint.body(text='"@RAW@"').encode().replace(b"@RAW@", raw)


CORPUS = {
    # not JSON: 400
    "truncated": Case(400, lambda e: _bytes(e.body())[: len(e.body()) // 2]),
    "truncated at the end": Case(400, lambda e: _bytes(e.body())[:-1]),
    "empty": Case(400, lambda e: b""),
    "NaN": Case(400, lambda e: _bytes(e.with_number("NaN"))),
    "Infinity": Case(400, lambda e: _bytes(e.with_number("Infinity"))),
    "-Infinity": Case(400, lambda e: _bytes(e.with_number("-Infinity"))),
    "invalid UTF-8": Case(400, lambda e: _raw_text(e, b"\xff\xfe")),
    "UTF-8 of a lone surrogate": Case(400, lambda e: _raw_text(e, b"\xed\xa0\x80")),
    "raw NUL byte in a string": Case(400, lambda e: _raw_text(e, b"a\x00b")),
    "byte order mark": Case(400, lambda e: b"\xef\xbb\xbf" + _bytes(e.body())),
    "deep nesting": Case(400, lambda e: _bytes(e.with_number("[" * 10_000 + "]" * 10_000))),
    "deep nesting, unclosed": Case(400, lambda e: _bytes("[" * 10_000)),
    "deep objects": Case(400, lambda e: _bytes('{"a":' * 10_000 + "1" + "}" * 10_000)),
    "duplicate key": Case(400, lambda e: _bytes(_repeat_first_key(e.body()))),
    # not declared as JSON: 415
    "text/plain": Case(415, lambda e: _bytes(e.body()), "text/plain"),
    "form": Case(415, lambda e: b"a=1&b=2", "application/x-www-form-urlencoded"),
    "multipart": Case(
        415,
        lambda e: b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b--\r\n',
        "multipart/form-data; boundary=b",
    ),
    "no content type": Case(415, lambda e: _bytes(e.body()), None),
    # JSON of the wrong shape: 422
    "an array for the object": Case(422, lambda e: _bytes(f"[{e.body()}]")),
    "a string for the object": Case(422, lambda e: b'"body"'),
    "1e400": Case(422, lambda e: _bytes(e.with_number("1e400"))),
    "-1e400": Case(422, lambda e: _bytes(e.with_number("-1e400"))),
    "overlong string": Case(422, lambda e: _bytes(e.body(text='"' + "x" * 100_000 + '"'))),
    "number for text": Case(422, lambda e: _bytes(e.body(text="12"))),
}


def _seed(client: Client) -> None:
    event = {
        "kind": "signal",
        "occurred_at": "2025-01-01T00:00:00Z",
        "summary": "seeded",
        "label": "seed",
        "event_id": EVENT_ID,
    }
    assert client.post("/v1/events", json=event).status_code == 201
    assert client.put(f"/v1/scenarios/{SCENARIO}", json=scenario()).status_code == 201


def _stored(client: Client) -> tuple[object, ...]:
    return (
        client.app.state.tradewinds.eventlog.head(),
        client.get("/v1/events", params={"limit": 1000}).json(),
        client.get("/v1/scenarios").json(),
        client.get("/v1/backtests").json(),
    )


def _send(client: Client, endpoint: Endpoint, body: bytes, content_type: str | None) -> Any:
    headers = {} if content_type is None else {"content-type": content_type}
    return client.request(endpoint.method, endpoint.path, content=body, headers=headers)


@pytest.fixture
def seeded(client: Client) -> Client:
    _seed(client)
    return client


# A valid alert would be sent to its webhook when a forecast crosses; its template
# is checked against the body type instead (the alerts tests send valid ones).
SENT = {name: e for name, e in ENDPOINTS.items() if name != "alert"}


@pytest.mark.parametrize("endpoint", SENT.values(), ids=SENT.keys())
def test_the_template_is_a_valid_request(seeded: Client, endpoint: Endpoint) -> None:
    response = _send(seeded, endpoint, endpoint.body().encode(), JSON)
    assert response.status_code in (200, 201, 202), response.text


def test_the_alert_template_is_a_valid_alert() -> None:
    definition = msgspec.json.decode(ENDPOINTS["alert"].body(), type=AlertDefinition)
    check_condition(definition.condition)


@pytest.mark.parametrize("endpoint", ENDPOINTS.values(), ids=ENDPOINTS.keys())
def test_malformed_bodies_get_a_clear_4xx_and_store_nothing(
    seeded: Client, endpoint: Endpoint
) -> None:
    before = _stored(seeded)
    wrong: list[str] = []
    for name, case in CORPUS.items():
        response = _send(seeded, endpoint, case.build(endpoint), case.content_type)
        problem = (
            response.json()
            if response.headers.get("content-type", "").startswith("application/problem+json")
            else {}
        )
        clear = (
            problem.get("status") == response.status_code
            and problem.get("title")
            and problem.get("detail")
        )
        if response.status_code != case.status or not clear:
            wrong.append(f"{name}: {response.status_code} {response.text[:200]}")
    assert wrong == []
    assert _stored(seeded) == before


def test_json_that_is_odd_but_valid_is_stored_as_sent(client: Client) -> None:
    """Chosen: an escaped NUL is text like any other and an integer beyond 64 bits is
    a number (JSON allows both; a signal's attributes take any number): both are
    stored, on either store, and read back exactly as sent."""
    big = 2**70
    raw = (
        '{"kind":"signal","occurred_at":"2025-01-01T00:00:00Z","summary":"a\\u0000b",'
        f'"label":"odd","attributes":{{"n":{big},"m":-{big}}}}}'
    ).encode()
    response = client.post("/v1/events", content=raw, headers={"content-type": JSON})
    assert response.status_code == 201, response.text
    stored = client.get(f"/v1/events/{response.json()['event_id']}").json()
    assert stored["summary"] == "a\x00b"
    assert stored["attributes"] == {"n": big, "m": -big}


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"after": str(2**70)}, 200),  # a cursor past the end: an empty page
        ({"after": str(-(2**70))}, 422),
        ({"after": "1e400"}, 422),
        ({"after": "NaN"}, 422),
        ({"limit": str(2**70)}, 422),
        ({"limit": "-1"}, 422),
        ({"kind": "x" * 10_000}, 422),
        ({"occurred_from": "2025-13-01T00:00:00Z"}, 422),
    ],
)
def test_huge_or_wrong_query_values_get_a_4xx_or_an_empty_page(
    seeded: Client, query: dict[str, str], status: int
) -> None:
    response = seeded.get("/v1/events", params=query)
    assert response.status_code == status, response.text
    if status == 200:
        assert response.json() == {"events": [], "next_after": None}
    else:
        assert response.headers["content-type"].startswith("application/problem+json")
