"""One forecast from a snapshot: its numbers (``forecasts.points``) and its
contributions with their effects (``forecasts.contributions``); a closed one's as
it stood at the last second it was open.

A detail answer lists a page of its event contributions (the prior, the events in
(occurred, position, rule) order, the time term; what the page leaves out summed
up); every answer names its drivers, the ``DRIVERS`` largest events by |ln odds|,
picked with numpy, not from the list.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

import numpy as np

from forecasts.contributions import Effects, EventTerms, closing, effects, event_terms
from forecasts.model import Ints, Terms
from forecasts.points import forecast_points
from service.queries.snapshots import Query, Snapshot, moment
from service.queries.views import Contribution, ContributionsOmitted, Explained, Forecast

DRIVERS = 5


class EventLookup(Protocol):
    """Where contributions find their events' ``occurred_at`` and ``summary``: the
    event table, or a cache of them (the preview's)."""

    def get_all(self, event_ids: Sequence[UUID]) -> list[Any]:
        """The events with these ids, in that order (bodies read at once)."""
        ...


@dataclass(frozen=True)
class Page:
    """Which event contributions a detail answer lists (all by default)."""

    offset: int = 0
    limit: int | None = None

    def of(self, order: Ints) -> Ints:
        """The indices of ``order`` (every event, in the listed order) it lists."""
        stop = None if self.limit is None else self.offset + self.limit
        return order[self.offset : stop]


@dataclass(frozen=True)
class Evaluated:
    forecast: Forecast
    contributions: list[Contribution]
    total: int
    omitted: ContributionsOmitted | None
    position: int
    explained: Explained | None = None


def evaluate(snapshot: Snapshot, query: Query, page: Page | None, table: EventLookup) -> Evaluated:
    """The forecast from a snapshot, and with a ``page`` its contributions: the
    prior, that page of the events (in (occurred, position, rule) order) and
    the time term, with what the page leaves out summed up. A closed forecast's
    are those of the last second it was open (``explained``)."""
    version = snapshot.version
    model = version.model
    t = np.array([query.as_of])
    points = forecast_points(model, snapshot.arrays, t, query.known, snapshot.resolutions)
    point = points.point(0)
    drivers: list[Contribution] = []
    listed = Listed()
    found = points.terms
    if point.status == "open" and found is not None:
        events = event_terms(model.rules, snapshot.arrays, found)
        drivers = contributions_of(snapshot, events, events.largest(DRIVERS), table)
        if page is not None:
            listed = listing(snapshot, query, events, found, page, table)
    elif page is not None:
        listed = closed_listing(snapshot, query, page, table)
    forecast = Forecast(
        scenario_id=snapshot.scenario_id,
        title=version.definition.title,
        version=version.version,
        status=point.status,
        deadline=version.definition.deadline,
        probability=point.probability,
        logit=point.logit,
        interval80=point.interval80,
        interval95=point.interval95,
        drivers=drivers,
        calibrated=None,
    )
    return Evaluated(
        forecast,
        listed.contributions,
        listed.total,
        listed.omitted,
        snapshot.position,
        listed.explained,
    )


@dataclass(frozen=True)
class Listed:
    """A detail answer's contributions (none by default), and what they explain
    when it is not the served forecast."""

    contributions: list[Contribution] = field(default_factory=list)
    total: int = 0
    omitted: ContributionsOmitted | None = None
    explained: Explained | None = None


def listing(
    snapshot: Snapshot,
    query: Query,
    events: EventTerms,
    found: Terms,
    page: Page,
    table: EventLookup,
    explained: Explained | None = None,
) -> Listed:
    """The prior, the page of ``events`` and the time term, with their effects."""
    time_term = float(found.time_term[0])
    model = snapshot.version.model
    order = events.canonical()
    shares = effects(model, snapshot.arrays, events, time_term, query.known, page.of(order))
    contributions, omitted = page_of(snapshot, events, shares, order, page, table)
    contributions.append(Contribution(kind="time", log_odds=time_term, pp=shares.time_pp))
    return Listed(contributions, events.log_odds.shape[0] + 2, omitted, explained)


def closed_listing(snapshot: Snapshot, query: Query, page: Page, table: EventLookup) -> Listed:
    """A closed forecast's contributions: the forecast at the last second it was
    open, through the same pipeline."""
    model = snapshot.version.model
    closed = closing(model, snapshot.arrays, query.as_of, query.known, snapshot.resolutions)
    if closed is None:
        return Listed()
    at = np.array([closed.explained_at])
    points = forecast_points(model, snapshot.arrays, at, query.known, snapshot.resolutions)
    point = points.point(0)
    found = points.terms
    if point.status != "open" or found is None or point.probability is None:
        return Listed()
    explained = Explained(
        at=moment(closed.explained_at),
        closed_at=moment(closed.closed_at),
        closed_as=closed.status,
        probability=point.probability,
        logit=float(points.logit[0]),
    )
    events = event_terms(model.rules, snapshot.arrays, found)
    return listing(snapshot, query, events, found, page, table, explained)


def page_of(
    snapshot: Snapshot,
    events: EventTerms,
    shares: Effects,
    order: Ints,
    page: Page,
    table: EventLookup,
) -> tuple[list[Contribution], ContributionsOmitted | None]:
    """The prior and the events the page lists of ``order`` (every event, in the
    listed order), and what it leaves out summed up."""
    listed = page.of(order)
    model = snapshot.version.model
    prior = Contribution(kind="prior", log_odds=model.prior_logit, pp=shares.prior_pp)
    contributions = [prior, *contributions_of(snapshot, events, listed, table, shares)]
    left_out = order.shape[0] - listed.shape[0]
    if not left_out:
        return contributions, None
    rest = np.concatenate((order[: page.offset], order[page.offset + listed.shape[0] :]))
    return contributions, ContributionsOmitted(
        count=left_out,
        log_odds=float(events.log_odds[rest].sum()),
        pp=float(shares.pp[rest].sum()),
    )


def contributions_of(
    snapshot: Snapshot,
    events: EventTerms,
    indices: Ints,
    table: EventLookup,
    shares: Effects | None = None,
) -> list[Contribution]:
    """The event contributions at ``indices`` of ``events``, in that order, with
    their effects when ``shares`` are given (the event table is append-only: read
    without the index lock)."""
    rules = snapshot.version.model.rules
    found: list[Contribution] = []
    listed = indices.tolist()
    event_ids = [snapshot.event_ids[int(events.rule[i])][int(events.match[i])] for i in listed]
    for i, event_id, event in zip(listed, event_ids, table.get_all(event_ids), strict=True):
        r = int(events.rule[i])
        found.append(
            Contribution(
                kind="event",
                log_odds=float(events.log_odds[i]),
                pp=None if shares is None else float(shares.pp[i]),
                log_odds_then=None if shares is None else float(events.log_odds_then[i]),
                pp_then=None if shares is None else float(shares.pp_then[i]),
                rule=rules[r].name,
                event_id=event_id,
                occurred_at=event.occurred_at,
                summary=event.summary,
            )
        )
    return found


# --- answers ------------------------------------------------------------------
