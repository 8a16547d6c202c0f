"""Backtests: start one (202), follow it, list recent ones, draw its reliability diagram."""

from functools import lru_cache
from typing import Annotated
from uuid import UUID

import msgspec
from anyio import to_thread
from litestar import Controller, Response, get, post
from litestar.params import JSONBody, PathParameter, QueryParameter

from domain.backtests import BacktestRequest, check_request, check_work
from domain.errors import Conflict, FieldError, InvalidInput
from forecasts.scoring import Scores
from service.access import Scope, needs
from service.commands.backtests import request_backtest
from service.persistence.eventlog import EventLog
from service.projection.states import BacktestState
from service.web.bodies import strict_json_body
from service.web.deps import Backtests, Log
from service.web.reads import await_record, own_writes_visible
from service.web.reliability import reliability_svg
from service.web.responses import problem_responses
from service.web.schemas import BacktestList, BacktestView
from service.workers.backtestinputs import estimate
from service.workers.backtests import BacktestRunner

BacktestId = Annotated[UUID, PathParameter()]
_scores_decoder = msgspec.json.Decoder(Scores)


def _view(state: BacktestState, runner: BacktestRunner) -> BacktestView:
    live = runner.running.get(state.id)
    status = state.status
    if live is not None and status in ("queued", "running"):
        status = "running"
    return BacktestView(
        id=state.id,
        status=status,
        progress=state.progress if live is None else max(live, state.progress),
        request=state.request,
        error=state.error,
        scores=None if state.result is None else _scores_decoder.decode(state.result),
        requested_at=state.requested_at,
        position=state.position,
    )


def _check_scenarios(log: EventLog, request: BacktestRequest) -> None:
    known = log.index.matches.scenarios
    errors = [
        FieldError(f"scenario_ids[{i}]", f"no scenario {s!r}")
        for i, s in enumerate(request.scenario_ids or [])
        if s not in known
    ]
    errors += [
        FieldError(f"rules.{s}", f"no scenario {s!r}")
        for s in request.rules or {}
        if s not in known
    ]
    if errors:
        raise InvalidInput(errors)


async def _state(log: EventLog, runner: BacktestRunner, backtest_id: UUID) -> BacktestState:
    """As the index tells it; one accepted here but not applied yet is known to the
    runner (queued), so its id never answers 404 after its 202."""
    return await await_record(log, lambda: runner.state(backtest_id), f"no backtest {backtest_id}")


def _check_work(log: EventLog, request: BacktestRequest) -> None:
    found = estimate(log.index, request)
    check_work(found.work, found.scenarios, found.samples, log.settings.backtest_max_work)


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
        self, data: JSONBody[BacktestRequest], log: Log, backtests: Backtests
    ) -> Response[BacktestView]:
        check_request(data)
        await own_writes_visible(log)
        _check_scenarios(log, data)
        await to_thread.run_sync(_check_work, log, data)
        state = await request_backtest(log, data)
        backtests.accept(state)
        headers = {"Location": f"/v1/backtests/{state.id}"}
        return Response(_view(state, backtests), status_code=202, headers=headers)

    @get(
        "/",
        summary="Recent backtests, newest first",
        opt=needs(Scope.read),
        responses=problem_responses(),
    )
    async def list_backtests(
        self,
        log: Log,
        backtests: Backtests,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> BacktestList:
        await own_writes_visible(log)
        with log.index.reading():
            indexed = dict(log.index.backtests)
        accepted = {k: v for k, v in dict(backtests.accepted).items() if k not in indexed}
        states = sorted([*indexed.values(), *accepted.values()], key=lambda s: -s.position)
        return BacktestList(backtests=[_view(s, backtests) for s in states[:limit]])

    @get(
        "/{backtest_id:uuid}",
        summary="A backtest: status, progress, scores",
        opt=needs(Scope.read),
        responses=problem_responses(404),
    )
    async def get_backtest(
        self, backtest_id: BacktestId, log: Log, backtests: Backtests
    ) -> BacktestView:
        return _view(await _state(log, backtests, backtest_id), backtests)

    @get(
        "/{backtest_id:uuid}/reliability.svg",
        summary="The reliability diagram (SVG)",
        media_type="image/svg+xml",
        opt=needs(Scope.read),
        responses=problem_responses(404, 409),
    )
    async def reliability(
        self, backtest_id: BacktestId, log: Log, backtests: Backtests
    ) -> Response[bytes]:
        state = await _state(log, backtests, backtest_id)
        if state.result is None:
            msg = f"backtest {backtest_id} is {state.status}: no diagram yet"
            raise Conflict(msg)
        svg = await to_thread.run_sync(_svg, backtest_id, state.result)
        headers = {"Cache-Control": "public, max-age=86400, immutable"}
        return Response(svg, media_type="image/svg+xml", headers=headers)
