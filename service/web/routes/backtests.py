"""Backtests: start one (202), follow it, list recent ones, draw its reliability diagram,
and, for one as served (the track record), what was said about each scenario."""

from functools import lru_cache
from typing import Annotated
from uuid import UUID

import msgspec
from anyio import to_thread
from litestar import Controller, Response, get, post
from litestar.params import JSONBody, PathParameter, QueryParameter

from domain.backtests import BacktestRequest, check_request
from domain.errors import Conflict
from forecasts.scoring import Scores
from forecasts.served import ScenarioSeries
from forecasts.verdicts import verdicts
from service.access import Scope, needs
from service.application import Tradewinds
from service.projection.states import BacktestState
from service.web.bodies import strict_json_body
from service.web.deps import TradewindsDep
from service.web.reliability import reliability_svg
from service.web.responses import problem_responses
from service.web.schemas import BacktestList, BacktestView

BacktestId = Annotated[UUID, PathParameter()]
_scores_decoder = msgspec.json.Decoder(Scores)


class BacktestSeries(msgspec.Struct, kw_only=True):
    """Per scored scenario of a backtest as served: its outcome and the probability
    served at its samples (every n-th, at most 400 points, and the last)."""

    backtest_id: UUID | None = None
    scenarios: list[ScenarioSeries] = msgspec.field(default_factory=list, name="series")


_series_decoder = msgspec.json.Decoder(BacktestSeries)


def _view(state: BacktestState, tradewinds: Tradewinds) -> BacktestView:
    live = tradewinds.backtest_progress(state.id)
    status = state.status
    if live is not None and status in ("queued", "running"):
        status = "running"
    scores = None if state.result is None else _scores_decoder.decode(state.result)
    return BacktestView(
        id=state.id,
        status=status,
        progress=state.progress if live is None else max(live, state.progress),
        request=state.request,
        error=state.error,
        scores=scores,
        requested_at=state.requested_at,
        position=state.position,
        summary=None if scores is None or scores.overall is None else verdicts(scores.overall),
    )


@lru_cache(maxsize=64)
def _svg(backtest_id: UUID, result: str) -> bytes:
    return reliability_svg(_scores_decoder.decode(result), title=f"Backtest {backtest_id}")


class BacktestsController(Controller):
    path = "/v1/backtests"
    tags = ["backtests"]
    before_request = staticmethod(strict_json_body)

    @post(
        "/",
        status_code=202,
        summary="Start a backtest",
        opt=needs(Scope.admin),
        responses=problem_responses(415),
    )
    async def start(
        self, data: JSONBody[BacktestRequest], tradewinds: TradewindsDep
    ) -> Response[BacktestView]:
        check_request(data)
        state = await tradewinds.request_backtest(data)
        headers = {"Location": f"/v1/backtests/{state.id}"}
        return Response(_view(state, tradewinds), status_code=202, headers=headers)

    @get(
        "/",
        summary="Recent backtests, newest first",
        opt=needs(Scope.read),
        responses=problem_responses(),
    )
    async def list_backtests(
        self,
        tradewinds: TradewindsDep,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> BacktestList:
        states = await tradewinds.recent_backtests(limit)
        return BacktestList(backtests=[_view(s, tradewinds) for s in states])

    @get(
        "/{backtest_id:uuid}",
        summary="A backtest: status, progress, scores",
        opt=needs(Scope.read),
        responses=problem_responses(404),
    )
    async def get_backtest(
        self, backtest_id: BacktestId, tradewinds: TradewindsDep
    ) -> BacktestView:
        return _view(await tradewinds.backtest(backtest_id), tradewinds)

    @get(
        "/{backtest_id:uuid}/series",
        summary="What was said vs what happened, per scenario (a backtest as served)",
        opt=needs(Scope.read),
        responses=problem_responses(404, 409),
    )
    async def series(self, backtest_id: BacktestId, tradewinds: TradewindsDep) -> BacktestSeries:
        state = await tradewinds.backtest(backtest_id)
        if state.request.knowledge != "as_served":
            msg = f"backtest {backtest_id} is not as_served: only those keep what was served"
            raise Conflict(msg)
        if state.result is None:
            msg = f"backtest {backtest_id} is {state.status}: no series yet"
            raise Conflict(msg)
        body = await to_thread.run_sync(_series_decoder.decode, state.result)
        return BacktestSeries(backtest_id=backtest_id, scenarios=body.scenarios)

    @get(
        "/{backtest_id:uuid}/reliability.svg",
        summary="The reliability diagram (SVG)",
        media_type="image/svg+xml",
        opt=needs(Scope.read),
        responses=problem_responses(404, 409),
    )
    async def reliability(
        self, backtest_id: BacktestId, tradewinds: TradewindsDep
    ) -> Response[bytes]:
        state = await tradewinds.backtest(backtest_id)
        if state.result is None:
            msg = f"backtest {backtest_id} is {state.status}: no diagram yet"
            raise Conflict(msg)
        svg = await to_thread.run_sync(_svg, backtest_id, state.result)
        headers = {"Cache-Control": "public, max-age=86400, immutable"}
        return Response(svg, media_type="image/svg+xml", headers=headers)
