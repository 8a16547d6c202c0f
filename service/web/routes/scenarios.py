"""Scenarios: define or revise, list, read, versions, resolve, retract a resolution."""

from typing import cast

import msgspec
from litestar import Controller, Response, get, post, put
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody

from domain.scenarios import Resolution, Retraction, ScenarioDefinition
from service.access import Scope, needs
from service.commands.scenarios import (
    ResolutionReceipt,
    ScenarioReceipt,
)
from service.projection.states import ResolutionState, RetractionState, ScenarioState
from service.queries.calibrationviews import SuggestedRules
from service.web.bodies import strict_json_body
from service.web.deps import TradewindsDep
from service.web.responses import problem_responses
from service.web.routes.calibration import cut
from service.web.routes.forecasts import AsOf, KnownAt
from service.web.schemas import (
    ResolutionRetractionView,
    ResolutionView,
    RetractedResolutionView,
    ScenarioId,
    ScenarioList,
    ScenarioVersions,
    ScenarioVersionView,
    ScenarioView,
)


def resolution_view(state: ResolutionState) -> ResolutionView:
    r = state.resolution
    return ResolutionView(
        outcome=r.outcome,
        resolved_at=r.resolved_at,
        note=r.note,
        position=state.position,
        recorded_at=state.recorded_at,
    )


def retracted_view(state: ResolutionState) -> RetractedResolutionView:
    retraction = cast(RetractionState, state.retraction)
    return RetractedResolutionView(
        **msgspec.structs.asdict(resolution_view(state)),
        retracted=ResolutionRetractionView(
            reason=retraction.reason,
            position=retraction.position,
            recorded_at=retraction.recorded_at,
        ),
    )


def scenario_view(state: ScenarioState, before: int) -> ScenarioView:
    current = state.current
    resolution = state.resolution
    return ScenarioView(
        id=state.id,
        version=current.version,
        position=current.position,
        recorded_at=current.recorded_at,
        first_recorded_at=state.first_recorded_at,
        resolution=None if resolution is None else resolution_view(resolution),
        retracted_resolutions=[retracted_view(r) for r in state.retracted_resolutions],
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
        counts = tradewinds.before_opens({s.id: s.current.version for s in states})
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
        counts = tradewinds.before_opens({state.id: state.current.version})
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

    @post(
        "/{scenario_id:str}/resolution/retraction",
        status_code=201,
        summary="Retract a scenario's resolution",
        description=(
            "Appends a correction: the scenario is unresolved again from this record on "
            "(open, or expired past its deadline) and can be resolved anew; forecasts "
            "known before it still see the old resolution. 409 if no resolution is in force."
        ),
        opt=needs(Scope.admin),
        responses=problem_responses(404, 409, 415),
    )
    async def retract_resolution(
        self, scenario_id: ScenarioId, data: JSONBody[Retraction], tradewinds: TradewindsDep
    ) -> ResolutionReceipt:
        return await tradewinds.retract_resolution(scenario_id, data.reason)

    @get(
        "/{scenario_id:str}/suggested-rules",
        summary="Each rule's Bayes factor and the one the calibration suggests",
        description=(
            "B^beta_g for each rule, beta_g the evidence scale of its kinds (GET"
            " /v1/calibration); scale and suggested_bayes_factor are null while there is"
            " no calibration."
        ),
        opt=needs(Scope.read),
        responses=problem_responses(404, 503),
    )
    async def suggested_rules(
        self,
        scenario_id: ScenarioId,
        tradewinds: TradewindsDep,
        as_of: AsOf = None,
        known_at: KnownAt = None,
    ) -> SuggestedRules:
        at, known = cut(as_of, known_at)
        return await tradewinds.suggested_rules(scenario_id, at, known)
