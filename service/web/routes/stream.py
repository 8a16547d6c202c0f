"""``GET /v1/forecasts/stream``: the forecast changes as Server-Sent Events."""

from typing import Annotated, Literal

from litestar import get
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import HeaderParameter, QueryParameter
from litestar.response import Stream

from domain.errors import FieldError, InvalidInput
from service.access import Scope, needs
from service.queries.subscribers import events
from service.web.deps import TradewindsDep
from service.web.responses import problem_responses
from service.wire import Wire

EVENT_STREAM = "text/event-stream"
MAX_FILTER = 200

_STREAM_DESCRIPTION = (
    "Server-Sent Events. `event: forecast` (data: scenario_id, probability, interval80, "
    "interval95, status, position, as_of) for each scenario whose served probability "
    "changed; `id:` is the log position that moved it (the head's position for a change "
    "of the clock's tick alone), set on the last event of each run with the same id. "
    "`event: reset` (data: position, reason) precedes the whole current state: on a new "
    "stream, and when a resume is beyond the horizon or ahead of this replica. Comment "
    "lines (`: heartbeat`) keep an idle stream open."
)


class StreamEvent(Wire, omit_defaults=True):
    """One Server-Sent Event of the stream, as its fields (``data`` is JSON text)."""

    event: Literal["forecast", "reset"]
    data: str
    id: str | None = None


def _resume_from(last_event_id: str | None, after: int | None) -> int | None:
    if last_event_id is None or not last_event_id.strip():
        return after
    try:
        position = int(last_event_id.strip())
    except ValueError:
        position = -1
    if position < 0:
        raise InvalidInput([FieldError("Last-Event-ID", "must be a log position (an integer)")])
    return position


@get(
    "/v1/forecasts/stream",
    summary="Forecast changes as they happen (Server-Sent Events), resumable",
    media_type=EVENT_STREAM,
    opt=needs(Scope.read),
    tags=["forecasts"],
    responses={
        200: ResponseSpec(
            data_container=StreamEvent,
            description=_STREAM_DESCRIPTION,
            media_type=EVENT_STREAM,
            generate_examples=False,
        ),
        **problem_responses(),
    },
)
async def stream_forecasts(
    tradewinds: TradewindsDep,
    scenario: Annotated[
        list[str] | None,
        QueryParameter(description="only these scenarios (repeatable)", max_items=MAX_FILTER),
    ] = None,
    after: Annotated[
        int | None,
        QueryParameter(
            ge=0, description="resume after this log position (Last-Event-ID wins if both)"
        ),
    ] = None,
    last_event_id: Annotated[
        str | None,
        HeaderParameter(name="Last-Event-ID", description="resume after this event id"),
    ] = None,
) -> Stream:
    resume = _resume_from(last_event_id, after)
    await tradewinds.await_own_writes()
    if resume is not None:
        await tradewinds.position_reached(resume)
    stream = tradewinds.stream
    subscriber = stream.subscribe(None if scenario is None else frozenset(scenario), resume)
    settings = tradewinds.settings
    return Stream(
        events(stream, subscriber, settings.stream_heartbeat_s, settings.stream_max_s),
        media_type=EVENT_STREAM,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
