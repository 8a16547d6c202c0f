"""The read models the forecast queries return: a forecast, a list of them, one with
its contributions, a history. ``service.web.schemas`` serves them as they are (the
web layer names them in its routes; the queries do not know the web)."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from msgspec import UNSET, UnsetType

from service.wire import Wire


class Contribution(Wire, omit_defaults=True):
    """One term of ln odds; ``rule``, ``event_id``, ``occurred_at`` and ``summary``
    only for kind ``event``.

    In a detail answer (not in ``drivers``) each also has ``pp``: the percentage
    points it adds along the waterfall (the contributions added in the listed
    order, each one's change of the probability; the prior's from 0, so they add
    up to 100 x the probability explained); and an event ``log_odds_then`` and
    ``pp_then``: its effect when it happened (at its ``occurred_at``, before any
    decay: the jump of the history there), where ``log_odds`` is its effect now."""

    kind: Literal["prior", "event", "time"]
    log_odds: float
    pp: float | None = None
    log_odds_then: float | None = None
    pp_then: float | None = None
    rule: str | None = None
    event_id: UUID | None = None
    occurred_at: datetime | None = None
    summary: str | None = None


class Calibrated(Wire):
    """The calibrated forecast beside the model's (model.md, "Calibration: learning
    from outcomes"): expit(alpha + beta * logit), and the same map of the interval
    ends, sorted."""

    probability: float
    interval80: tuple[float, float]
    interval95: tuple[float, float]


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
    calibrated: Calibrated | None
    """Null while there is no calibration (fewer closed scenarios than it needs) and
    while the forecast is closed (its probability 0, 1 or null)."""


class ForecastList(Wire):
    as_of: datetime
    known_at: datetime | None
    position: int
    forecasts: list[Forecast]


class ContributionsOmitted(Wire):
    """The event contributions a page leaves out: how many, and their ln odds and pp
    summed (so the listed ones and this add up to the logit and the probability
    explained)."""

    count: int
    log_odds: float
    pp: float


class Explained(Wire):
    """What a closed forecast's contributions explain: the forecast at ``at``, the
    last second before it closed at ``closed_at`` (its deadline, or its
    ``resolved_at`` if that came first); ``closed_as`` is its status from then."""

    at: datetime
    closed_at: datetime
    closed_as: Literal["resolved_yes", "resolved_no", "annulled", "expired"]
    probability: float
    logit: float


class ForecastDetail(Forecast, kw_only=True, omit_defaults=True):
    """``contributions``: the prior, a page of the event contributions (in
    (occurred_at, position, rule) order; ``contributions_offset`` and
    ``contributions_limit``), and the time term. ``contributions_total`` counts
    them all (prior and time term included); ``contributions_omitted`` sums up
    the events the page leaves out, absent when it lists them all.

    They explain the served logit while the forecast is open; once it is closed
    (its probability 1, 0 or null), they explain it as it stood just before it
    closed, which ``explained`` then gives (absent while open)."""

    as_of: datetime
    known_at: datetime | None
    position: int
    contributions: list[Contribution]
    contributions_total: int
    contributions_omitted: ContributionsOmitted | None = None
    explained: Explained | None = None


class HistoryPoint(Wire, omit_defaults=True):
    """``calibrated_probability`` only when asked for (``calibrated=true``): the
    calibrated probability at t, by the calibration in force at t (null where there
    is none or the forecast is closed)."""

    t: datetime
    probability: float | None
    interval80: tuple[float, float] | None
    calibrated_probability: float | UnsetType | None = UNSET


class History(Wire):
    scenario_id: str
    points: list[HistoryPoint]
