"""A backtest request: the grid to sample, which scenarios, what-if rules, what
the forecasts knew (``knowledge``: hindsight, or as served at each sample time),
and whether the calibrated forecasts are scored (``calibrated``)."""

from datetime import UTC, timedelta
from typing import Annotated, Literal, get_args

from msgspec import Meta, Struct, field

from domain.errors import FieldError, InvalidInput
from domain.events import AwareTime
from domain.scenarios import Rule, Slug, rule_errors

MAX_SAMPLES_PER_SCENARIO = 100_000
Knowledge = Literal["hindsight", "as_served"]
KNOWLEDGE: tuple[str, ...] = get_args(Knowledge)


class BacktestRequest(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    start: AwareTime = field(name="from")
    stop: AwareTime = field(name="to")
    step: Annotated[timedelta, Meta(description="ISO 8601 duration, e.g. P1D")]
    scenario_ids: Annotated[list[Slug], Meta(max_length=10_000)] | None = None
    rules: dict[Slug, Annotated[list[Rule], Meta(max_length=200)]] | None = None
    knowledge: Annotated[
        Knowledge,
        Meta(
            description="hindsight (default): the log as it stands; as_served: at each "
            "sample time t what the service served then (knowledge cut t), the track record"
        ),
    ] = "hindsight"
    calibrated: Annotated[
        bool,
        Meta(
            description="true: score the prequentially calibrated forecasts, each "
            "sample calibrated by the fit on the scenarios closed by its time"
        ),
    ] = False

    def __post_init__(self) -> None:
        self.start = self.start.astimezone(UTC)
        self.stop = self.stop.astimezone(UTC)


def check_request(request: BacktestRequest) -> None:
    """Every problem msgspec's field bounds cannot see, at once."""
    errors: list[FieldError] = []
    seconds = request.step.total_seconds()
    if seconds <= 0:
        errors.append(FieldError("step", "must be a positive duration"))
    if request.stop < request.start:
        errors.append(FieldError("to", "must not be before from"))
    if seconds > 0:
        samples = (request.stop - request.start).total_seconds() / seconds + 1
        if samples > MAX_SAMPLES_PER_SCENARIO:
            errors.append(
                FieldError("step", f"more than {MAX_SAMPLES_PER_SCENARIO} samples per scenario")
            )
    if request.knowledge == "as_served" and request.rules is not None:
        message = "what-if rules and knowledge as_served exclude each other: as_served scores "
        message += "what was served, with the rules then in force"
        errors.append(FieldError("rules", message))
        errors.append(FieldError("knowledge", message))
    for scenario_id, rules in (request.rules or {}).items():
        errors.extend(rule_errors(rules, f"rules.{scenario_id}"))
    if errors:
        raise InvalidInput(errors)


def check_work(work: int, scenarios: int, samples: int, limit: int) -> None:
    """A backtest bigger than ``limit`` work units is refused, saying how to shrink it."""
    if work <= limit:
        return
    message = (
        f"this backtest needs {work:,} units of work (grid points x rules, plus every rule's "
        f"matches, summed over the {scenarios:,} resolved scenarios it scores; the grid has "
        f"{samples:,} points), more than the limit of {limit:,} "
        "(TRADEWINDS_BACKTEST_MAX_WORK): use a longer step, a shorter from..to window, "
        "or fewer scenario_ids"
    )
    raise InvalidInput([FieldError("step", message)])
