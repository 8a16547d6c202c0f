"""Alerts: define (PUT), list, delete, and each alert's delivery log. Admin only:
definitions name webhook URLs (which often carry tokens) and deliveries show what
was sent; secrets are never returned."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Response, delete, get, put
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, PathParameter, QueryParameter

from domain.alerts import AlertDefinition, Condition
from domain.scenarios import SLUG_PATTERN
from service.access import Scope, needs
from service.projection.alertindex import AlertState, DeliveryState
from service.web.bodies import strict_json_body
from service.web.deps import TradewindsDep
from service.web.responses import problem_responses
from service.wire import Wire
from service.workers.alerter import WebhookBody

AlertId = Annotated[str, PathParameter(pattern=SLUG_PATTERN, description="alert id")]
_body_decoder = msgspec.json.Decoder(WebhookBody)


class AlertView(Wire):
    """An alert as defined (without its secret)."""

    id: str
    version: int
    scenario_ids: list[str] | None
    condition: Condition
    url: str
    position: int
    recorded_at: datetime


class AlertList(Wire):
    alerts: list[AlertView]


class DeliveryView(Wire):
    id: UUID
    alert: str
    scenario_id: str
    status: Literal["pending", "attempted", "succeeded", "failed"]
    attempts: int
    fired_at: datetime
    position: int
    last_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    payload: WebhookBody


class DeliveryList(Wire):
    deliveries: list[DeliveryView]


def _view(state: AlertState) -> AlertView:
    d = state.definition
    return AlertView(
        id=state.id,
        version=state.version,
        scenario_ids=d.scenario_ids,
        condition=d.condition,
        url=d.url,
        position=state.position,
        recorded_at=state.defined_at,
    )


def _delivery(state: DeliveryState) -> DeliveryView:
    return DeliveryView(
        id=state.id,
        alert=state.alert,
        scenario_id=state.scenario_id,
        status=state.status,
        attempts=state.attempts,
        fired_at=state.fired_at,
        position=state.position,
        last_attempt_at=state.last_attempt_at,
        last_status=state.last_status,
        last_error=state.last_error,
        next_attempt_at=state.due_at(),
        payload=_body_decoder.decode(state.body),
    )


class AlertsController(Controller):
    path = "/v1/alerts"
    tags = ["alerts"]
    before_request = staticmethod(strict_json_body)

    @put(
        "/{alert_id:str}",
        status_code=201,
        summary="Define or change an alert (its webhook, secret and condition)",
        opt=needs(Scope.admin),
        responses={
            200: ResponseSpec(
                data_container=AlertView,
                description="changed (or the same definition again: no new version)",
                generate_examples=False,
            ),
            **problem_responses(409, 415),
        },
    )
    async def define(
        self, alert_id: AlertId, data: JSONBody[AlertDefinition], tradewinds: TradewindsDep
    ) -> Response[AlertView]:
        created = await tradewinds.define_alert(alert_id, data)
        state = await tradewinds.alert(alert_id)
        return Response(_view(state), status_code=201 if created else 200)

    @get("/", summary="Every alert (secrets are never shown)", opt=needs(Scope.admin),
         responses=problem_responses())  # fmt: skip
    async def list_alerts(self, tradewinds: TradewindsDep) -> AlertList:
        return AlertList(alerts=[_view(a) for a in await tradewinds.alerts()])

    @get("/{alert_id:str}", summary="One alert", opt=needs(Scope.admin),
         responses=problem_responses(404))  # fmt: skip
    async def get_alert(self, alert_id: AlertId, tradewinds: TradewindsDep) -> AlertView:
        return _view(await tradewinds.alert(alert_id))

    @delete(
        "/{alert_id:str}",
        status_code=204,
        summary="Delete an alert (recorded in the log; its pending deliveries are given up)",
        opt=needs(Scope.admin),
        responses=problem_responses(404, 409),
    )
    async def remove(self, alert_id: AlertId, tradewinds: TradewindsDep) -> None:
        await tradewinds.delete_alert(alert_id)

    @get(
        "/{alert_id:str}/deliveries",
        summary="An alert's deliveries, newest first (also once it is deleted)",
        opt=needs(Scope.admin),
        responses=problem_responses(404),
    )
    async def deliveries(
        self,
        alert_id: AlertId,
        tradewinds: TradewindsDep,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> DeliveryList:
        states = await tradewinds.deliveries(alert_id, limit)
        return DeliveryList(deliveries=[_delivery(s) for s in states])
