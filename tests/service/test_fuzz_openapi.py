"""Schemathesis against the app's own OpenAPI document, in process.

The document is the committed ``openapi/openapi.json`` (``test_openapi`` keeps it
equal to what the app serves), loaded at import so pytest gets one test per
operation. Every operation gets a fixed, small number of generated requests
(derandomized, no example database), valid and invalid ones, sent through
schemathesis' ASGI transport to one real app per module (its lifespan runs:
SQLite store, index, backtest worker) that holds the demo timeline, a
retraction and a finished backtest. Path parameters get the ids of things that
exist as OpenAPI examples, so reads by id find something too.

Requests carry an admin key; schemathesis also sends them without one and with
a wrong one (401 expected). Checks (schemathesis' defaults): no 5xx, every
response documented (status code, content type, headers, body schema), valid
requests accepted, invalid ones rejected with a 4xx.
"""

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from litestar import Litestar
from litestar.testing import TestClient
from litestar.types import Receive, Scope, Send
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    negative_data_rejection,
    positive_data_acceptance,
)

from domain.backtests import BacktestRequest
from domain.records import BacktestRecord
from service.access import ApiKeys
from service.access import Scope as KeyScope
from service.bootstrap import open_eventlog
from service.commands.exchange import import_entries, read_jsonl
from service.persistence.eventlog import utc_now
from service.settings import Settings
from service.web.app import create_app

OPENAPI_JSON = Path(__file__).parents[2] / "openapi" / "openapi.json"
TIMELINE = Path(__file__).parents[2] / "service" / "demo" / "timeline.jsonl"
EXAMPLES_PER_OPERATION = 20
ADMIN_KEY = "fuzz-admin-key"

RETRACTED_EVENT = "7f3a0000-0000-4000-8000-000000000003"
PLAIN_EVENT = "7f3a0000-0000-4000-8000-000000000002"
BACKTEST = UUID("0b5e0000-0000-4000-8000-00000000f022")
KNOWN_IDS = {
    "event_id": [RETRACTED_EVENT, PLAIN_EVENT],
    "scenario_id": ["tech-grand-bargain-2027", "us-h20-approval-2025"],
    "backtest_id": [str(BACKTEST)],
}


def _with_examples(document: dict[str, Any]) -> dict[str, Any]:
    """Path parameters get the seeded ids as examples (used by the examples phase)."""
    for operations in document["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                values = KNOWN_IDS.get(parameter["name"]) if parameter["in"] == "path" else None
                if values:
                    parameter["examples"] = {
                        f"known{i}": {"value": v} for i, v in enumerate(values)
                    }
    return document


def _config() -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            # The key for the document's `bearer` scheme; schemathesis also sends
            # requests without it and with a wrong one (and expects 401).
            "auth": {"openapi": {"bearer": {"bearer": ADMIN_KEY}}},
            "generation": {
                "mode": "all",  # valid and invalid requests
                "max-examples": EXAMPLES_PER_OPERATION,
                "deterministic": True,
                "database": "none",
                # Unknown query parameters are ignored, as HTTP APIs (and litestar) do;
                # they are not invalid requests here.
                "allow-extra-parameters": False,
            },
        }
    )


class _AppSlot:
    """An ASGI app that forwards to the app the fixture builds. The schema needs its
    app at import (checks that send requests of their own, e.g. without the key, use
    the schema's transport), the app needs a fresh data directory per run."""

    def __init__(self) -> None:
        self.app: Litestar | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            msg = "the fuzzed_app fixture has not built the app yet"
            raise RuntimeError(msg)
        await self.app(scope, receive, send)


APP_UNDER_TEST = _AppSlot()
schema = schemathesis.openapi.from_dict(
    _with_examples(json.loads(OPENAPI_JSON.read_text())), config=_config()
)
schema.app = APP_UNDER_TEST

TIME_QUERY_PARAMETERS = {"as_of", "known_at", "from", "to", "occurred_from", "occurred_to"}


def _number_for_a_time(case: schemathesis.Case) -> bool:
    """A number for a time in the query string: litestar converts query parameters with
    msgspec in lax mode, which reads it as Unix seconds (a leniency of every time
    parameter, reported; bodies are strict, ``service.web.bodies``)."""
    for name, value in (case.query or {}).items():
        if name not in TIME_QUERY_PARAMETERS or isinstance(value, bool):
            continue
        try:
            float(value)
        except (TypeError, ValueError):
            continue
        return True
    return False


# The words for a value the schema itself rules out (type, bounds, shape): msgspec's,
# and those ``domain.wording`` and ``domain.body_errors`` say them in.
SCHEMA_ERRORS = (
    "Expected ", "Object ", "Invalid ", "Integer value out of range", "Number out",
    "must be a string", "must be an integer", "must be a number", "must be true or false",
    "must be an array", "must be an object", "must be null", "must be an RFC 3339",
    "must be an ISO 8601", "must be a UUID", "must be 3 to 80", "must be a letter",
    "must be an http:// or https://", "the body has no field", "`kind` is required",
    "a key here must be",
)  # fmt: skip
# Said alike of a body's field and of a rule's condition (``where``, a rule across fields).
SHARED_WORDS = re.compile(r"^(kind `\w+`|`[^`]+`) (has no field|requires the field|must be )")


def _schema_error(error: dict[str, str]) -> bool:
    message = error["message"]
    if message.startswith(SCHEMA_ERRORS) or "is not allowed: a key here" in message:
        return True
    return bool(SHARED_WORDS.match(message)) and ".where." not in error["field"]


def _broke_a_rule(response: schemathesis.Response) -> bool:
    """A 422 whose every error is one of the domain's rules across fields (deadline
    after opens_at, a tariff's direction agrees with its rates, a rule's field exists
    in its kind, no repeated event_id in a batch, a backtest grid of bounded size),
    which JSON Schema cannot state: no message is msgspec's about the schema."""
    if response.status_code != 422:
        return False
    errors = response.json().get("errors") or []
    return bool(errors) and not any(_schema_error(e) for e in errors)


def _seed(settings: Settings) -> None:
    """The demo timeline, a retraction and a backtest (finished by the worker at start)."""
    request = msgspec.convert(
        {"from": "2025-06-01T00:00:00Z", "to": "2025-12-31T00:00:00Z", "step": "P7D"},
        BacktestRequest,
    )
    with open_eventlog(settings) as log:
        import_entries(log, read_jsonl(TIMELINE.read_bytes().splitlines()), utc_now)
        body = msgspec.json.encode(request).decode()
        log.app.save(BacktestRecord.request(BACKTEST, body, utc_now()))
    with TestClient(create_app(settings)) as client:
        retraction = {"reason": "seeded for the fuzz run"}
        response = client.post(
            f"/v1/events/{RETRACTED_EVENT}/retraction",
            json=retraction,
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )
        assert response.status_code == 201, response.text


def _until_ready(timeout_s: float = 30.0) -> None:
    """Start the app's lifespan (schemathesis starts it on the first request) and wait
    until its index has caught up with the seeded store: until then ``/health/ready``
    rightly answers 503 "catching up", which is not what the fuzzing is about."""
    ready = schema["/health/ready"]["GET"]
    deadline = time.monotonic() + timeout_s
    while ready.Case().call().status_code != 200:
        if time.monotonic() > deadline:
            msg = "the fuzzed app did not become ready"
            raise TimeoutError(msg)
        time.sleep(0.05)


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Litestar]:
    app_settings = Settings(
        data_dir=tmp_path_factory.mktemp("fuzz") / "data",
        api_keys=ApiKeys({ADMIN_KEY: KeyScope.admin}),
        # A min_position beyond the head waits this long before its 503.
        min_position_wait_s=0.05,
        # The forecast stream ends after this, so its responses have an end to check.
        stream_max_s=0.2,
    )
    _seed(app_settings)
    APP_UNDER_TEST.app = create_app(app_settings)
    _until_ready()
    yield APP_UNDER_TEST.app
    # schemathesis starts the app's lifespan on the first request and keeps it running.
    asgi.shutdown_lifespans()
    APP_UNDER_TEST.app = None


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(
    case: schemathesis.Case, fuzzed_app: Litestar
) -> None:
    # Excluded: litestar 2's automatic OPTIONS answer lists only the methods of the
    # first handler registered on a path (litestar-org/litestar#4169, fixed in 3.0),
    # e.g. `Allow: GET, OPTIONS` on /v1/backtests, which also takes POST. The 405
    # answers carry a complete Allow header (the router computes it; problems keeps it).
    excluded = [allow_header_conformance]
    response = case.call()
    if _broke_a_rule(response):
        # Valid for the schema, refused by a rule across fields: a 422 is right here.
        excluded.append(positive_data_acceptance)
    if _number_for_a_time(case):
        excluded.append(negative_data_rejection)
    if response.status_code == 503 and "min_position" in (case.query or {}):
        # The contract's answer to a min_position this replica has not applied (yet):
        # 503 with Retry-After, documented on the operation. Every other 5xx fails.
        excluded.append(not_a_server_error)
    case.validate_response(response, excluded_checks=excluded)
