"""Events: append one or a batch, page through the log, read one, retract one."""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import HeaderParameter, JSONBody, PathParameter, QueryParameter

from domain.errors import FieldError, InvalidInput
from domain.events import EventBatch, EventKind, LoggedEvent, WorldEvent
from domain.scenarios import Retraction
from service.access import Scope, needs
from service.commands.events import AppendReceipt, Receipt
from service.web.bodies import strict_json_body
from service.web.deps import MetricsDep, TradewindsDep
from service.web.responses import problem_responses
from service.web.schemas import EventPage

EventId = Annotated[UUID, PathParameter()]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Retries with the same key store the event once (ignored for events "
        "that carry an event_id).",
    ),
]


def _repeated(data_container: object) -> dict[int, ResponseSpec]:
    """The 200 of an append that was already stored (same event_id or Idempotency-Key)."""
    return {
        200: ResponseSpec(
            data_container=data_container,
            description="already stored: the first answer again",
            generate_examples=False,
        )
    }


def _aware(name: str, value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise InvalidInput([FieldError(name, "needs a time zone offset")])
    return value


class EventsController(Controller):
    path = "/v1/events"
    tags = ["events"]
    before_request = staticmethod(strict_json_body)

    @post(
        "/",
        status_code=201,
        summary="Append one event",
        opt=needs(Scope.write),
        responses=_repeated(AppendReceipt) | problem_responses(409, 415),
    )
    async def append(
        self,
        data: JSONBody[WorldEvent],
        tradewinds: TradewindsDep,
        metrics: MetricsDep,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[AppendReceipt]:
        receipts, created = await tradewinds.append_events([data], idempotency_key, batch=False)
        if created:
            metrics.appended(1, batch=False)
        return Response(receipts[0], status_code=201 if created else 200)

    @post(
        "/batch",
        status_code=201,
        summary="Append 1..1000 events atomically",
        opt=needs(Scope.write),
        responses=_repeated(list[AppendReceipt]) | problem_responses(409, 415),
    )
    async def append_batch(
        self,
        data: JSONBody[EventBatch],
        tradewinds: TradewindsDep,
        metrics: MetricsDep,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[list[AppendReceipt]]:
        receipts, created = await tradewinds.append_events(data.events, idempotency_key, batch=True)
        if created:
            metrics.appended(len(receipts), batch=True)
        return Response(receipts, status_code=201 if created else 200)

    @get(
        "/",
        summary="Page through world events in position order",
        opt=needs(Scope.read),
        responses=problem_responses(),
    )
    async def list_events(
        self,
        tradewinds: TradewindsDep,
        after: Annotated[int, QueryParameter(ge=0, description="position cursor")] = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
        kind: Annotated[EventKind | None, QueryParameter()] = None,
        occurred_from: Annotated[datetime | None, QueryParameter()] = None,
        occurred_to: Annotated[datetime | None, QueryParameter()] = None,
    ) -> EventPage:
        events, next_after = await tradewinds.events(
            after,
            limit,
            kind,
            _aware("occurred_from", occurred_from),
            _aware("occurred_to", occurred_to),
        )
        return EventPage(events=events, next_after=next_after)

    @get(
        "/{event_id:uuid}",
        summary="One world event",
        opt=needs(Scope.read),
        responses=problem_responses(404),
    )
    async def get_event(self, event_id: EventId, tradewinds: TradewindsDep) -> LoggedEvent:  # type: ignore[valid-type]
        event: Any = await tradewinds.event(event_id)
        return event  # type: ignore[no-any-return]

    @post(
        "/{event_id:uuid}/retraction",
        status_code=201,
        summary="Retract an event",
        opt=needs(Scope.write),
        responses=problem_responses(404, 409, 415),
    )
    async def retract(
        self, event_id: EventId, data: JSONBody[Retraction], tradewinds: TradewindsDep
    ) -> Receipt:
        return await tradewinds.retract_event(event_id, data.reason)
