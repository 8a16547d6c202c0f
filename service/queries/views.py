"""The read models the forecast queries return: a forecast, a list of them, one with
its contributions, a history. ``service.web.schemas`` serves them as they are (the
web layer names them in its routes; the queries do not know the web)."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from service.wire import Wire


class Contribution(Wire, omit_defaults=True):
    """One term of ln odds; ``rule``, ``event_id``, ``occurred_at`` and ``summary``
    only for kind ``event``."""

    kind: Literal["prior", "event", "time"]
    log_odds: float
    rule: str | None = None
    event_id: UUID | None = None
    occurred_at: datetime | None = None
    summary: str | None = None


class Forecast(Wire):
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


class ForecastList(Wire):
    as_of: datetime
    known_at: datetime | None
    position: int
    forecasts: list[Forecast]


class ContributionsOmitted(Wire):
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


class HistoryPoint(Wire):
    t: datetime
    probability: float | None
    interval80: tuple[float, float] | None


class History(Wire):
    scenario_id: str
    points: list[HistoryPoint]
