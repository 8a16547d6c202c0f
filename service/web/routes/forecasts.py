"""Forecasts: all scenarios, one with its contributions, a history; polled with ETags."""

import csv
import io
from datetime import datetime, timedelta
from typing import Annotated

import msgspec
from litestar import Controller, Request, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import HeaderParameter, QueryParameter
from litestar.response.base import ASGIResponse

from domain.errors import FieldError, InvalidInput, NotFound
from service.access import CALLER_WRITES
from service.queries.bodies import etag_of
from service.queries.budget import Budget
from service.queries.evaluation import Page
from service.queries.forecasting import Forecaster
from service.queries.snapshots import Query
from service.web.deps import TradewindsDep
from service.web.responses import NOT_MODIFIED, problem_responses
from service.web.schemas import ForecastDetail, ForecastList, History, ScenarioId

AsOf = Annotated[
    datetime | None,
    QueryParameter(description="evaluate at this time (default: now, rounded down to the tick)"),
]
KnownAt = Annotated[
    datetime | None, QueryParameter(description="use only what was recorded by this time")
]
MinPosition = Annotated[
    int | None,
    QueryParameter(ge=0, description="wait until this replica has applied this log position"),
]
IfNoneMatch = Annotated[str | None, HeaderParameter(name="If-None-Match")]
CONTRIBUTIONS_LIMIT = 1000
CONTRIBUTIONS_MAX = 10_000
ContributionsLimit = Annotated[
    int,
    QueryParameter(
        ge=1,
        le=CONTRIBUTIONS_MAX,
        description="how many event contributions to list (1 to 10000; the prior and the"
        " time term always come too); the rest are summed in contributions_omitted",
    ),
]
ContributionsOffset = Annotated[
    int,
    QueryParameter(
        ge=0, description="skip this many event contributions (in the listed order) first"
    ),
]

NOW_CACHE = "no-cache"
PAST_CACHE = "public, max-age=300"
_encoder = msgspec.json.Encoder()


def _aware(name: str, value: datetime | None) -> float | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidInput([FieldError(name, "needs a time zone offset")])
    return value.timestamp()


def _matches(if_none_match: str | None, etag: str) -> bool:
    if if_none_match is None:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return etag in tags or "*" in tags


class EncodedResponse(ASGIResponse):
    """A response whose headers are encoded once, here: litestar's ``ASGIResponse``
    builds a mutable header collection per response, a third of a cached poll's
    cost in the framework."""

    __slots__ = ("_raw_headers",)

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> None:
        self.status_code = status
        self.body = body
        self.content_length = len(body)
        self.background = None
        self.encoding = "utf-8"
        self.is_head_response = False
        self._encoded_cookies = ()
        self._raw_headers = headers

    def encode_headers(self) -> list[tuple[bytes, bytes]]:
        return self._raw_headers


def conditional(
    body: bytes,
    if_none_match: str | None,
    cache_control: str,
    media_type: str = "application/json",
    etag: str | None = None,
) -> ASGIResponse:
    """The body with its validators, or 304 when the client's copy is current.
    An ``ASGIResponse`` skips litestar's response pipeline (nothing here needs it:
    no cookies, no serialisation), which is most of a cached poll's cost."""
    etag = etag or etag_of(body)
    validators = [(b"etag", etag.encode()), (b"cache-control", cache_control.encode())]
    if _matches(if_none_match, etag):
        return EncodedResponse(304, validators)
    if media_type.startswith("text/"):
        media_type += "; charset=utf-8"
    return EncodedResponse(
        200,
        [
            (b"content-type", media_type.encode()),
            (b"content-length", str(len(body)).encode()),
            *validators,
        ],
        body,
    )


def _query(forecaster: Forecaster, as_of: datetime | None, known_at: datetime | None) -> Query:
    at = _aware("as_of", as_of)
    known = _aware("known_at", known_at)
    return Query(as_of=forecaster.now() if at is None else at, known=known or float("inf"))


def _cache_control(query: Query, forecaster: Forecaster) -> str:
    past = query.known_at is not None and query.known < forecaster.now()
    return PAST_CACHE if past and query.as_of <= query.known else NOW_CACHE


def _answers(body: type, description: str, *problems: int) -> dict[int, ResponseSpec]:
    """A forecast route's documented answers: the body, 304 to a matching
    ``If-None-Match``, and its problems."""
    ok = ResponseSpec(data_container=body, description=description, generate_examples=False)
    return {200: ok, 304: NOT_MODIFIED, **problem_responses(*problems)}


class ForecastsController(Controller):
    """Handlers take one dependency (the application): litestar resolves several in a
    task group, 60 us per request on the most polled route."""

    path = "/v1/forecasts"
    tags = ["forecasts"]

    @get(
        "/",
        summary="Every scenario's forecast",
        responses=_answers(ForecastList, "forecasts", 503),
    )
    async def list_forecasts(
        self,
        tradewinds: TradewindsDep,
        as_of: AsOf = None,
        known_at: KnownAt = None,
        min_position: MinPosition = None,
        if_none_match: IfNoneMatch = None,
    ) -> ASGIResponse:
        await tradewinds.await_position(min_position)
        forecaster = tradewinds.forecaster
        if as_of is None and known_at is None:
            if forecaster.now_is_cached():
                body, etag = forecaster.all_now()
            else:
                latest = None
                if min_position is None and not CALLER_WRITES.get():
                    latest = forecaster.latest_now()
                if latest is None:
                    latest = await forecaster.heavy(forecaster.all_now)
                body, etag = latest
            return conditional(body, if_none_match, NOW_CACHE, etag=etag)
        query = _query(forecaster, as_of, known_at)

        def encoded(budget: Budget) -> bytes:
            return _encoder.encode(forecaster.all(query, cache=False, budget=budget))

        body = await forecaster.heavy(encoded)
        return conditional(body, if_none_match, _cache_control(query, forecaster))

    @get(
        "/{scenario_id:str}",
        summary="One forecast with all its contributions",
        responses=_answers(ForecastDetail, "forecast", 404, 503),
    )
    async def get_forecast(
        self,
        scenario_id: ScenarioId,
        tradewinds: TradewindsDep,
        as_of: AsOf = None,
        known_at: KnownAt = None,
        min_position: MinPosition = None,
        if_none_match: IfNoneMatch = None,
        contributions_limit: ContributionsLimit = CONTRIBUTIONS_LIMIT,
        contributions_offset: ContributionsOffset = 0,
    ) -> ASGIResponse:
        await tradewinds.await_position(min_position)
        forecaster = tradewinds.forecaster
        query = _query(forecaster, as_of, known_at)
        page = Page(offset=contributions_offset, limit=contributions_limit)

        def encoded(budget: Budget) -> bytes | None:
            return forecaster.one_encoded(scenario_id, query, page, budget)

        cache_control = _cache_control(query, forecaster)
        cached = forecaster.cached_one(scenario_id, query, page)
        if cached is not None:
            return conditional(cached[0], if_none_match, cache_control, etag=cached[1])
        body = await forecaster.heavy(encoded, light=forecaster.is_light(scenario_id))
        if body is None:
            msg = f"no scenario {scenario_id}" + (
                "" if query.known_at is None else " known at that time"
            )
            raise NotFound(msg)
        return conditional(body, if_none_match, cache_control)

    @get(
        "/{scenario_id:str}/history",
        summary="A forecast's history on a time grid (JSON, or CSV with Accept: text/csv)",
        responses=_answers(History, "history", 404, 503),
    )
    async def history(
        self,
        request: Request,  # type: ignore[type-arg]
        scenario_id: ScenarioId,
        tradewinds: TradewindsDep,
        start: Annotated[
            datetime | None,
            QueryParameter(name="from", description="first point (default: opens_at)"),
        ] = None,
        to: Annotated[
            datetime | None, QueryParameter(description="last point at or before (default: now)")
        ] = None,
        step: Annotated[
            timedelta, QueryParameter(description="ISO 8601 duration, e.g. P1D or PT6H")
        ] = timedelta(days=1),
        as_of: AsOf = None,
        known_at: KnownAt = None,
        min_position: MinPosition = None,
        if_none_match: IfNoneMatch = None,
        calibrated: Annotated[
            bool,
            QueryParameter(
                description="add each point's calibrated_probability (by the calibration"
                " in force at the point's time; CSV: a calibrated column)"
            ),
        ] = False,
    ) -> ASGIResponse:
        await tradewinds.await_position(min_position)
        forecaster = tradewinds.forecaster
        query = _query(forecaster, as_of, known_at)
        first = _aware("from", start)
        last = _aware("to", to)
        stop = query.as_of if last is None else last
        seconds = step.total_seconds()
        if seconds <= 0:
            raise InvalidInput([FieldError("step", "must be a positive duration")])
        as_csv = "text/csv" in request.headers.get("accept", "")

        def encoded(budget: Budget) -> bytes | None:
            history = forecaster.history(
                scenario_id,
                first,
                stop,
                seconds,
                query.known,
                tradewinds.settings.history_max_points,
                budget,
                calibrated=calibrated,
            )
            if history is None:
                return None
            return _csv(history, calibrated=calibrated) if as_csv else _encoder.encode(history)

        body = await forecaster.heavy(encoded)
        if body is None:
            msg = f"no scenario {scenario_id}"
            raise NotFound(msg)
        cache_control = _cache_control(query, forecaster)
        if as_csv:
            return conditional(body, if_none_match, cache_control, "text/csv")
        return conditional(body, if_none_match, cache_control)


def _csv(history: History, *, calibrated: bool = False) -> bytes:
    """t,probability,lo80,hi80 and, when asked, calibrated (empty where null)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["t", "probability", "lo80", "hi80", *(["calibrated"] if calibrated else [])])
    for point in history.points:
        lo, hi = point.interval80 if point.interval80 is not None else ("", "")
        probability = "" if point.probability is None else repr(point.probability)
        row = [
            point.t.isoformat().replace("+00:00", "Z"),
            probability,
            lo if lo == "" else repr(lo),
            hi if hi == "" else repr(hi),
        ]
        if calibrated:
            value = point.calibrated_probability
            row.append(repr(value) if isinstance(value, float) else "")
        writer.writerow(row)
    return out.getvalue().encode()
