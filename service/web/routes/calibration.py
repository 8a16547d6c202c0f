"""The calibration learnt from closed scenarios (``GET /v1/calibration``), and the
as_of / known_at parameters it shares with a scenario's suggested rules."""

from datetime import datetime

from litestar import get

from domain.errors import FieldError, InvalidInput
from service.access import Scope, needs
from service.queries.calibrationviews import CalibrationView
from service.web.deps import TradewindsDep
from service.web.responses import problem_responses
from service.web.routes.forecasts import AsOf, KnownAt


def cut(as_of: datetime | None, known_at: datetime | None) -> tuple[float | None, float]:
    """(as_of, known) in seconds: as_of None is the served tick, known_at None no cut."""
    for name, value in (("as_of", as_of), ("known_at", known_at)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput([FieldError(name, "needs a time zone offset")])
    return (
        None if as_of is None else as_of.timestamp(),
        float("inf") if known_at is None else known_at.timestamp(),
    )


@get(
    "/v1/calibration",
    summary="The calibration learnt from closed scenarios",
    description=(
        "The recalibration (alpha, beta) and the evidence scales fitted on the scenarios"
        " closed at as_of (deadline passed, resolved yes or no) as known at known_at;"
        " every field but n_scenarios is null while fewer than"
        " TRADEWINDS_CALIBRATION_MIN_SCENARIOS have a training sample."
    ),
    tags=["calibration"],
    opt=needs(Scope.read),
    responses=problem_responses(503),
)
async def get_calibration(
    tradewinds: TradewindsDep, as_of: AsOf = None, known_at: KnownAt = None
) -> CalibrationView:
    at, known = cut(as_of, known_at)
    return await tradewinds.calibration(at, known)
