"""A scenario draft previewed: what it would serve, storing nothing."""

from datetime import datetime, timedelta
from typing import Annotated

from litestar import Controller, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, QueryParameter
from litestar.response.base import ASGIResponse

from domain.errors import FieldError, InvalidInput
from domain.scenarios import ScenarioDefinition
from service.access import Scope, needs
from service.queries.preview import Preview
from service.web.bodies import strict_json_body
from service.web.deps import TradewindsDep
from service.web.responses import problem_responses
from service.web.routes.forecasts import NOW_CACHE, AsOf, _aware, conditional
from service.web.schemas import ScenarioId

DESCRIPTION = (
    "Takes a scenario definition (the PUT body: a draft of a new scenario, or a revision"
    " of this one) and stores nothing. Answers what the draft would serve at as_of (the"
    " forecast with every contribution), its history (from, to, step as for a history),"
    " per rule the events it matches (log_odds: each one's contribution at as_of) and"
    " if_one_more (the probability if one more match of that rule occurred at as_of), and"
    " how many matching events fell before opens_at. An unknown id is a new draft (no"
    " 404); for a known one, the stored scenario's first recorded time is the draft's"
    " opens_at default and its resolutions apply. Validation errors are those of PUT."
)


class PreviewController(Controller):
    path = "/v1/scenarios"
    tags = ["scenarios"]
    before_request = staticmethod(strict_json_body)

    @post(
        "/{scenario_id:str}/preview",
        status_code=200,
        summary="Preview a scenario draft (stores nothing)",
        description=DESCRIPTION,
        opt=needs(Scope.read),
        responses={
            200: ResponseSpec(
                data_container=Preview, description="the draft's answer", generate_examples=False
            ),
            **problem_responses(415, 503),
        },
    )
    async def preview(
        self,
        scenario_id: ScenarioId,
        data: JSONBody[ScenarioDefinition],
        tradewinds: TradewindsDep,
        as_of: AsOf = None,
        start: Annotated[
            datetime | None,
            QueryParameter(name="from", description="first history point (default: opens_at)"),
        ] = None,
        to: Annotated[
            datetime | None,
            QueryParameter(description="last history point at or before (default: as_of)"),
        ] = None,
        step: Annotated[
            timedelta, QueryParameter(description="history step, ISO 8601 duration (P1D)")
        ] = timedelta(days=1),
    ) -> ASGIResponse:
        seconds = step.total_seconds()
        if seconds <= 0:
            raise InvalidInput([FieldError("step", "must be a positive duration")])
        window = (_aware("from", start), _aware("to", to), seconds)
        body = await tradewinds.preview_scenario(scenario_id, data, _aware("as_of", as_of), window)
        return conditional(body, None, NOW_CACHE)
