"""Wire shapes of the responses (request bodies are the domain's own structs)."""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from litestar.params import PathParameter
from msgspec import Struct

from domain.backtests import BacktestRequest
from domain.events import LoggedEvent
from domain.scenarios import SLUG_PATTERN, Outcome, ScenarioDefinition
from forecasts.scoring import Scores

ScenarioId = Annotated[str, PathParameter(pattern=SLUG_PATTERN, description="scenario slug")]


class EventPage(Struct, kw_only=True):
    events: list[LoggedEvent]  # type: ignore[valid-type]
    next_after: int | None


class ResolutionView(Struct, kw_only=True):
    outcome: Outcome
    resolved_at: datetime
    note: str | None
    position: int
    recorded_at: datetime


class ScenarioView(Struct, kw_only=True):
    id: str
    version: int
    position: int
    recorded_at: datetime
    first_recorded_at: datetime
    resolution: ResolutionView | None
    definition: ScenarioDefinition


class ScenarioList(Struct, kw_only=True):
    scenarios: list[ScenarioView]


class ScenarioVersionView(Struct, kw_only=True):
    version: int
    position: int
    recorded_at: datetime
    definition: ScenarioDefinition


class ScenarioVersions(Struct, kw_only=True):
    id: str
    versions: list[ScenarioVersionView]


class Health(Struct, kw_only=True):
    status: str
    position: int
    head_at_start: int
    details: dict[str, Any] | None = None


class Contribution(Struct, kw_only=True, omit_defaults=True):
    """One term of ln odds; ``rule``, ``event_id``, ``occurred_at`` and ``summary``
    only for kind ``event``."""

    kind: Literal["prior", "event", "time"]
    log_odds: float
    rule: str | None = None
    event_id: UUID | None = None
    occurred_at: datetime | None = None
    summary: str | None = None


class Forecast(Struct, kw_only=True):
    scenario_id: str
    title: str
    version: int
    status: Literal["open", "resolved_yes", "resolved_no", "annulled", "expired"]
    deadline: datetime
    probability: float | None
    logit: float | None
    interval80: tuple[float, float] | None
    interval95: tuple[float, float] | None
    drivers: list[Contribution]


class ForecastList(Struct, kw_only=True):
    as_of: datetime
    known_at: datetime | None
    position: int
    forecasts: list[Forecast]


class ContributionsOmitted(Struct, kw_only=True):
    """The event contributions a page leaves out: how many, and their ln odds summed
    (so the listed ones and this add up to the served logit)."""

    count: int
    log_odds: float


class ForecastDetail(Forecast, kw_only=True, omit_defaults=True):
    """``contributions``: the prior, a page of the event contributions (in
    (occurred_at, position, rule) order; ``contributions_offset`` and
    ``contributions_limit``), and the time term. ``contributions_total`` counts
    them all (prior and time term included); ``contributions_omitted`` sums up
    the events the page leaves out, absent when it lists them all."""

    as_of: datetime
    known_at: datetime | None
    position: int
    contributions: list[Contribution]
    contributions_total: int
    contributions_omitted: ContributionsOmitted | None = None


class HistoryPoint(Struct, kw_only=True):
    t: datetime
    probability: float | None
    interval80: tuple[float, float] | None


class History(Struct, kw_only=True):
    scenario_id: str
    points: list[HistoryPoint]


class BacktestView(Struct, kw_only=True):
    id: UUID
    status: Literal["queued", "running", "done", "failed"]
    progress: float
    request: BacktestRequest
    error: str | None
    scores: Scores | None
    requested_at: datetime
    position: int


class BacktestList(Struct, kw_only=True):
    backtests: list[BacktestView]
