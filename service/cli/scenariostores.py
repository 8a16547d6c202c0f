"""Where ``apply`` and ``get scenario`` read and write scenarios: a running service
over HTTP (with an API key), or the local store, as ``import`` and ``backtest`` use
it. Both answer the same questions, so the commands print the same either way."""

from datetime import datetime
from typing import Any, NamedTuple, Protocol

import anyio
import httpx
import msgspec

from domain.codecs import stored_definition
from domain.errors import DomainError, FieldError, InvalidInput
from domain.records import scenario_record_id
from domain.scenarios import ScenarioDefinition
from service.application import Tradewinds


class Stored(NamedTuple):
    """A scenario's current version, and when its first was recorded (the opening
    time of a definition without ``opens_at``)."""

    definition: ScenarioDefinition
    version: int
    first_recorded_at: datetime


class Applied(NamedTuple):
    version: int
    created: bool


class Refused(Exception):
    """The service (or the store) refused a request: what it said, by field if it did."""

    def __init__(self, detail: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class Scenarios(Protocol):
    def current(self, slug: str) -> Stored | None: ...

    def define(self, slug: str, definition: ScenarioDefinition) -> Applied: ...


class _View(msgspec.Struct):
    version: int
    first_recorded_at: datetime
    definition: ScenarioDefinition


class _Receipt(msgspec.Struct):
    version: int


class _Problem(msgspec.Struct):
    detail: str | None = None
    title: str | None = None
    errors: list[FieldError] = []


class HttpScenarios:
    """The scenarios of a running service: ``GET`` and ``PUT /v1/scenarios/{id}``."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def current(self, slug: str) -> Stored | None:
        response = self._send("GET", slug)
        if response.status_code == 404:
            return None
        view = msgspec.json.decode(response.content, type=_View)
        return Stored(view.definition, view.version, view.first_recorded_at)

    def define(self, slug: str, definition: ScenarioDefinition) -> Applied:
        body = msgspec.json.encode(definition)
        headers = {"Content-Type": "application/json"}
        response = self._send("PUT", slug, content=body, headers=headers)
        receipt = msgspec.json.decode(response.content, type=_Receipt)
        return Applied(receipt.version, response.status_code == 201)

    def _send(self, method: str, slug: str, **options: Any) -> httpx.Response:
        url = f"/v1/scenarios/{slug}"
        try:
            response = self.client.request(method, url, **options)
        except httpx.HTTPError as e:
            msg = f"cannot reach {self.client.base_url}: {e}"
            raise Refused(msg) from None
        if response.is_success or (method == "GET" and response.status_code == 404):
            return response
        raise _refusal(method, url, response)


def _refusal(method: str, url: str, response: httpx.Response) -> Refused:
    try:
        problem = msgspec.json.decode(response.content, type=_Problem)
    except msgspec.DecodeError:
        problem = _Problem(detail=response.text[:200] or None)
    said = problem.detail or problem.title or response.reason_phrase
    return Refused(f"{method} {url}: {response.status_code} {said}", problem.errors)


class LocalScenarios:
    """The scenarios of the local store: the current version read from the store
    itself (no projection to wait for), a new one recorded by the same command
    as a PUT (``service.commands.scenarios.define_scenario``)."""

    def __init__(self, tradewinds: Tradewinds) -> None:
        self.tradewinds = tradewinds

    def current(self, slug: str) -> Stored | None:
        record = self.tradewinds.eventlog.get(scenario_record_id(slug))
        if record is None:
            return None
        return Stored(stored_definition(record.body), record.version, record.created_on)

    def define(self, slug: str, definition: ScenarioDefinition) -> Applied:
        try:
            receipt, created = anyio.run(self.tradewinds.define_scenario, slug, definition)
        except InvalidInput as e:
            raise Refused(e.detail, e.errors) from None
        except DomainError as e:
            raise Refused(e.detail) from None
        return Applied(receipt.version, created)
