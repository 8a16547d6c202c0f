"""Scenarios: define or revise, list, read, versions, resolve."""

from litestar import Controller, Response, get, post, put
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody

from domain.scenarios import Resolution, ScenarioDefinition
from service.access import Scope, needs
from service.commands.scenarios import (
    ResolutionReceipt,
    ScenarioReceipt,
)
from service.projection.states import ScenarioState
from service.queries.prior_events import before_opens
from service.web.bodies import strict_json_body
from service.web.deps import TradewindsDep
from service.web.responses import problem_responses
from service.web.schemas import (
    ResolutionView,
    ScenarioId,
    ScenarioList,
    ScenarioVersions,
    ScenarioVersionView,
    ScenarioView,
)


def scenario_view(state: ScenarioState, before: int) -> ScenarioView:
    current = state.current
    resolution = None
    if state.resolution is not None:
        r = state.resolution
        resolution = ResolutionView(
            outcome=r.resolution.outcome,
            resolved_at=r.resolution.resolved_at,
            note=r.resolution.note,
            position=r.position,
            recorded_at=r.recorded_at,
        )
    return ScenarioView(
        id=state.id,
        version=current.version,
        position=current.position,
        recorded_at=current.recorded_at,
        first_recorded_at=state.first_recorded_at,
        resolution=resolution,
        definition=current.definition,
        before_opens=before,
    )


class ScenariosController(Controller):
    path = "/v1/scenarios"
    tags = ["scenarios"]
    before_request = staticmethod(strict_json_body)

    @put(
        "/{scenario_id:str}",
        status_code=201,
        summary="Define or revise a scenario",
        opt=needs(Scope.admin),
        responses={
            200: ResponseSpec(
                data_container=ScenarioReceipt,
                description="revised (or the same definition again: no new version)",
                generate_examples=False,
            ),
            **problem_responses(409, 415),
        },
    )
    async def define(
        self, scenario_id: ScenarioId, data: JSONBody[ScenarioDefinition], tradewinds: TradewindsDep
    ) -> Response[ScenarioReceipt]:
        receipt, created = await tradewinds.define_scenario(scenario_id, data)
        return Response(receipt, status_code=201 if created else 200)

    @get(
        "/",
        summary="Every scenario, current version",
        opt=needs(Scope.read),
        responses=problem_responses(),
    )
    async def list_scenarios(self, tradewinds: TradewindsDep) -> ScenarioList:
        states = await tradewinds.scenarios()
        counts = before_opens(tradewinds.eventlog.index, {s.id: s.current.version for s in states})
        return ScenarioList(scenarios=[scenario_view(s, counts[s.id]) for s in states])

    @get(
        "/{scenario_id:str}",
        summary="One scenario, current version",
        opt=needs(Scope.read),
        responses=problem_responses(404),
    )
    async def get_scenario(
        self, scenario_id: ScenarioId, tradewinds: TradewindsDep
    ) -> ScenarioView:
        state = await tradewinds.scenario(scenario_id)
        counts = before_opens(tradewinds.eventlog.index, {state.id: state.current.version})
        return scenario_view(state, counts[state.id])

    @get(
        "/{scenario_id:str}/versions",
        summary="Every version of a scenario",
        opt=needs(Scope.read),
        responses=problem_responses(404),
    )
    async def versions(
        self, scenario_id: ScenarioId, tradewinds: TradewindsDep
    ) -> ScenarioVersions:
        state = await tradewinds.scenario(scenario_id)
        return ScenarioVersions(
            id=state.id,
            versions=[
                ScenarioVersionView(
                    version=v.version,
                    position=v.position,
                    recorded_at=v.recorded_at,
                    definition=v.definition,
                )
                for v in state.versions
            ],
        )

    @post(
        "/{scenario_id:str}/resolution",
        status_code=201,
        summary="Resolve a scenario",
        opt=needs(Scope.admin),
        responses=problem_responses(404, 409, 415),
    )
    async def resolve(
        self, scenario_id: ScenarioId, data: JSONBody[Resolution], tradewinds: TradewindsDep
    ) -> ResolutionReceipt:
        return await tradewinds.resolve_scenario(scenario_id, data)
