"""Wire shapes of the responses (request bodies are the domain's own structs)."""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from litestar.params import PathParameter
from msgspec import Meta

from domain.backtests import BacktestRequest
from domain.events import LoggedEvent
from domain.scenarios import SLUG_PATTERN, Outcome, ScenarioDefinition
from forecasts.scoring import Scores
from service.queries.views import (
    Contribution,
    ContributionsOmitted,
    Forecast,
    ForecastDetail,
    ForecastList,
    History,
    HistoryPoint,
)
from service.wire import Wire

# the forecast read models (service.queries.views) are served as they are
__all__ = [
    "BacktestList",
    "BacktestView",
    "Contribution",
    "ContributionsOmitted",
    "EventPage",
    "Forecast",
    "ForecastDetail",
    "ForecastList",
    "Health",
    "History",
    "HistoryPoint",
    "ResolutionView",
    "ScenarioId",
    "ScenarioList",
    "ScenarioVersionView",
    "ScenarioVersions",
    "ScenarioView",
]

ScenarioId = Annotated[str, PathParameter(pattern=SLUG_PATTERN, description="scenario slug")]


class EventPage(Wire):
    events: list[LoggedEvent]  # type: ignore[valid-type]
    next_after: int | None


class ResolutionView(Wire):
    outcome: Outcome
    resolved_at: datetime
    note: str | None
    position: int
    recorded_at: datetime


class ResolutionRetractionView(Wire):
    reason: str
    position: int
    recorded_at: datetime


class RetractedResolutionView(ResolutionView):
    """A resolution that was in force until its retraction."""

    retracted: ResolutionRetractionView


class ScenarioView(Wire):
    id: str
    version: int
    position: int
    recorded_at: datetime
    first_recorded_at: datetime
    resolution: ResolutionView | None
    retracted_resolutions: Annotated[
        list[RetractedResolutionView],
        Meta(description="resolutions retracted as wrong, oldest first"),
    ]
    definition: ScenarioDefinition
    before_opens: int
    """Matching events (not retracted, counted once) that occurred before ``opens_at``:
    the model leaves them out, the prior stands for them."""


class ScenarioList(Wire):
    scenarios: list[ScenarioView]


class ScenarioVersionView(Wire):
    version: int
    position: int
    recorded_at: datetime
    definition: ScenarioDefinition


class ScenarioVersions(Wire):
    id: str
    versions: list[ScenarioVersionView]


class Health(Wire):
    status: str
    position: int
    head_at_start: int
    details: dict[str, Any] | None = None


SUMMARY = (
    "The overall scores in words: the Brier with its 95% interval, and whether it is "
    "better, worse or not distinguishable from each baseline; null without scores."
)


class BacktestView(Wire):
    id: UUID
    status: Literal["queued", "running", "done", "failed"]
    progress: float
    request: BacktestRequest
    error: str | None
    scores: Scores | None
    requested_at: datetime
    position: int
    summary: Annotated[list[str] | None, Meta(description=SUMMARY)] = None


class BacktestList(Wire):
    backtests: list[BacktestView]
