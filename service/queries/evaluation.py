"""One forecast from a snapshot: its numbers (``forecasts.points``) and, while
open, its contributions.

A detail answer lists a page of its event contributions (the prior, the events in
(occurred, position, rule) order, the time term; what the page leaves out summed
up); every answer names its drivers, the ``DRIVERS`` largest events by |ln odds|,
picked with numpy, not from the list.
"""

from dataclasses import dataclass

import numpy as np

from forecasts.model import Floats, Ints, RuleMatches, RuleModel, Terms
from forecasts.points import forecast_points
from service.projection.eventtable import EventTable
from service.queries.snapshots import Query, Snapshot
from service.queries.views import Contribution, ContributionsOmitted, Forecast

DRIVERS = 5


@dataclass(frozen=True)
class Page:
    """Which event contributions a detail answer lists (all by default)."""

    offset: int = 0
    limit: int | None = None


@dataclass(frozen=True)
class Evaluated:
    forecast: Forecast
    contributions: list[Contribution]
    total: int
    omitted: ContributionsOmitted | None
    position: int


@dataclass(frozen=True)
class EventTerms:
    """Every counted match's contribution at one time, as parallel arrays (rule
    index, index among the rule's matches, ln odds, and the order keys)."""

    rule: Ints
    match: Ints
    log_odds: Floats
    occurred: Floats
    position: Ints

    def canonical(self) -> Ints:
        """Indices in the order contributions are listed: (occurred, position, rule)."""
        return np.lexsort((self.rule, self.position, self.occurred))

    def largest(self, count: int) -> Ints:
        """The ``count`` largest by |ln odds|, ties in the listing order."""
        size = self.log_odds.shape[0]
        magnitude = np.abs(self.log_odds)
        if size > count:
            kth = np.partition(magnitude, size - count)[size - count]
            candidates = np.nonzero(magnitude >= kth)[0]
        else:
            candidates = np.arange(size)
        order = np.lexsort(
            (
                self.rule[candidates],
                self.position[candidates],
                self.occurred[candidates],
                -magnitude[candidates],
            )
        )
        return candidates[order][:count]


def event_terms(
    model_rules: tuple[RuleModel, ...], arrays: list[RuleMatches], found: Terms
) -> EventTerms:
    rules, matches, log_odds, occurred, positions = [], [], [], [], []
    for r, (rule, rule_matches) in enumerate(zip(model_rules, arrays, strict=True)):
        counted = np.nonzero(found.counted[r][0])[0]
        rules.append(np.full(counted.shape[0], r, dtype=np.int64))
        matches.append(counted.astype(np.int64))
        log_odds.append(rule.ln_b * found.weights[r][0, counted])
        occurred.append(rule_matches.occurred[counted])
        positions.append(rule_matches.position[counted])
    if not rules:
        empty = np.empty(0, dtype=np.int64)
        return EventTerms(empty, empty, np.empty(0), np.empty(0), empty)
    return EventTerms(
        rule=np.concatenate(rules),
        match=np.concatenate(matches),
        log_odds=np.concatenate(log_odds).astype(np.float64),
        occurred=np.concatenate(occurred),
        position=np.concatenate(positions),
    )


def evaluate(snapshot: Snapshot, query: Query, page: Page | None, table: EventTable) -> Evaluated:
    """The forecast from a snapshot, and with a ``page`` its contributions: the
    prior, that page of the events (in (occurred, position, rule) order) and
    the time term, with what the page leaves out summed up."""
    version = snapshot.version
    model = version.model
    t = np.array([query.as_of])
    points = forecast_points(model, snapshot.arrays, t, query.known, snapshot.resolutions)
    point = points.point(0)
    contributions: list[Contribution] = []
    drivers: list[Contribution] = []
    total = 0
    omitted = None
    found = points.terms
    if point.status == "open" and found is not None:
        events = event_terms(model.rules, snapshot.arrays, found)
        drivers = contributions_of(snapshot, events, events.largest(DRIVERS), table)
        if page is not None:
            total = events.log_odds.shape[0] + 2
            contributions, omitted = page_of(snapshot, events, page, table)
            contributions.append(Contribution(kind="time", log_odds=float(found.time_term[0])))
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
    )
    return Evaluated(forecast, contributions, total, omitted, snapshot.position)


def page_of(
    snapshot: Snapshot, events: EventTerms, page: Page, table: EventTable
) -> tuple[list[Contribution], ContributionsOmitted | None]:
    order = events.canonical()
    stop = None if page.limit is None else page.offset + page.limit
    listed = order[page.offset : stop]
    prior = Contribution(kind="prior", log_odds=snapshot.version.model.prior_logit)
    contributions = [prior, *contributions_of(snapshot, events, listed, table)]
    left_out = order.shape[0] - listed.shape[0]
    if not left_out:
        return contributions, None
    before = events.log_odds[order[: page.offset]]
    after = events.log_odds[order[page.offset + listed.shape[0] :]]
    summed = float(before.sum() + after.sum())
    return contributions, ContributionsOmitted(count=left_out, log_odds=summed)


def contributions_of(
    snapshot: Snapshot, events: EventTerms, indices: Ints, table: EventTable
) -> list[Contribution]:
    """The event contributions at ``indices`` of ``events``, in that order (the
    event table is append-only: read without the index lock)."""
    rules = snapshot.version.model.rules
    found: list[Contribution] = []
    for i in indices.tolist():
        r = int(events.rule[i])
        event_id = snapshot.event_ids[r][int(events.match[i])]
        event = table.get(event_id)
        found.append(
            Contribution(
                kind="event",
                log_odds=float(events.log_odds[i]),
                rule=rules[r].name,
                event_id=event_id,
                occurred_at=event.occurred_at,
                summary=event.summary,
            )
        )
    return found


# --- answers ------------------------------------------------------------------
