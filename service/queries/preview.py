"""A draft scenario's answer, storing nothing (``POST /v1/scenarios/{id}/preview``).

The draft goes through the pipeline a stored version goes through: its model is
``versions.model_of``, its matches are what ``matchindex.scan`` would find in the
event table's per-kind lists (the path a new version takes when it is defined),
tested through a ``RuleIndex`` as the projection tests each appended event,
its arrays are ``matcharrays``' and its numbers ``evaluation.evaluate`` and
``history.history_of``. A rule whose match equals one of the stored current
version's rules takes that rule's matches and arrays as they stand (the current
version is given every event appended since it was defined, so they are what a
scan would find): a keystroke in one rule rescans that rule only.

As for a revision, the stored scenario's first recorded time is the draft's
``opens_at`` default and its resolutions apply; an unknown id is a new draft.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import msgspec
import numpy as np
from scipy.special import expit

from domain.events import BaseEvent
from domain.matching import RuleIndex
from domain.scenarios import Rule, ScenarioDefinition
from forecasts.model import RuleMatches, Terms
from forecasts.points import forecast_points
from service.projection.eventtable import EventTable
from service.projection.index import LogIndex
from service.projection.matcharrays import (
    ORDER,
    Built,
    EventIds,
    Match,
    Pending,
    built_of,
    match_arrays,
)
from service.projection.versions import ScenarioMatches, VersionMatches, model_of, seconds
from service.queries.budget import UNLIMITED, Budget
from service.queries.evaluation import Page, evaluate
from service.queries.history import HistoryRange, history_of
from service.queries.prior_events import count_before_opens
from service.queries.snapshots import Query, Snapshot, moment
from service.queries.views import ForecastDetail, History
from service.wire import Wire


class PreviewMatch(Wire):
    event_id: UUID
    occurred_at: datetime
    summary: str
    log_odds: float
    """The match's contribution at ``as_of`` (decayed and discounted as in the
    contributions; 0 if it is not counted then: before opens_at, or later)."""


class PreviewRule(Wire):
    name: str
    matches: list[PreviewMatch]
    if_one_more: float | None
    """The probability at ``as_of`` if one more match of this rule occurred then."""


class Preview(Wire):
    forecast: ForecastDetail
    history: History
    rules: list[PreviewRule]
    before_opens: int


class _Summary(msgspec.Struct):
    summary: str


_summary_decoder = msgspec.json.Decoder(_Summary)


@dataclass(frozen=True, slots=True)
class Card:
    """What a preview shows of a matched event besides its id."""

    occurred_at: datetime
    summary: str


class EventCards:
    """Each event's ``Card``, decoded once (only its summary) and kept: events never
    change, and a rule editor previews the same events on every keystroke. Holds at
    most ``limit`` cards (emptied when full). An ``evaluation.EventLookup``."""

    def __init__(self, table: EventTable, limit: int = 500_000) -> None:
        self.table = table
        self.limit = limit
        self._cards: dict[int, Card] = {}
        """By the id's ``int`` (a ``UUID`` hashes in Python code: a microsecond)."""

    def get_all(self, event_ids: Sequence[UUID]) -> list[Card | None]:
        """The cards of these events; those not kept yet are made from bodies read at
        once (``EventTable.bodies_of``)."""
        cards = self._cards
        missing = [i for i in event_ids if i.int not in cards]
        rows = {i.int: row for i in missing if (row := self.table.row_of(i)) is not None}
        made = dict(zip(rows, self.table.bodies_of(list(rows.values())), strict=True))
        if len(cards) + len(made) > self.limit:
            cards = self._cards = {}
        for key, body in made.items():
            occurred = moment(self.table.occurred[rows[key]])
            cards[key] = Card(occurred, _summary_decoder.decode(body).summary)
        return [cards.get(i.int) for i in event_ids]


@dataclass(frozen=True)
class Taken:
    """What a preview takes of the index under its lock."""

    scenario: ScenarioMatches | None
    reused: dict[int, tuple[int, list[Match]]]
    """Per draft rule matched as a stored rule: that rule's index and its matches."""
    stored: Built | Pending | None
    retracted: dict[UUID, float]
    position: int


def _take(index: LogIndex, slug: str, definition: ScenarioDefinition) -> Taken:
    with index.reading():
        scenario = index.matches.scenarios.get(slug)
        current = scenario.current if scenario is not None and scenario.versions else None
        reused: dict[int, tuple[int, list[Match]]] = {}
        stored: Built | Pending | None = None
        retracted = index.matches.retracted
        if current is not None:
            stored_rules = [r.match for r in current.definition.rules]
            for r, rule in enumerate(definition.rules):
                if rule.match in stored_rules:
                    j = stored_rules.index(rule.match)
                    reused[r] = (j, list(current.matches[j]))
            if reused:
                stored = current.taken(retracted)
        return Taken(scenario, reused, stored, dict(retracted), index.position)


def draft_snapshot(
    index: LogIndex, slug: str, definition: ScenarioDefinition, now: datetime
) -> Snapshot:
    """The draft as a read of a stored version sees one: its model, its matches as
    arrays, the stored scenario's resolutions; ``now`` is the draft's recorded time
    (its opens_at default when the scenario is new)."""
    taken = _take(index, slug, definition)
    scenario = taken.scenario
    rules = definition.rules
    fresh = [r for r in range(len(rules)) if r not in taken.reused]
    kinds = frozenset(k for r in fresh for k in rules[r].match.kinds())
    # the event table is append-only: the scan reads it without the index lock, up to
    # the position the reused matches were taken at
    events = index.table.of_kinds(kinds)
    found_fresh = scan_indexed([rules[r] for r in fresh], events, taken.position)
    scanned = dict(zip(fresh, found_fresh, strict=True))
    built = None if taken.stored is None else built_of(taken.stored)
    found: list[list[Match]] = []
    arrays: list[RuleMatches] = []
    event_ids: list[EventIds] = []
    for r in range(len(rules)):
        if r in taken.reused:
            j, matches = taken.reused[r]
            assert built is not None
            rule_arrays, ids = built[0][j], built[1][j]
        else:
            matches = scanned[r]
            rule_arrays, ids = match_arrays(matches, taken.retracted)
        found.append(matches)
        arrays.append(rule_arrays)
        event_ids.append(ids)
    first = now if scenario is None else scenario.first_recorded
    current = scenario.current if scenario is not None and scenario.versions else None
    number = 1
    if current is not None:
        number = current.version + (current.definition != definition)
    version = VersionMatches(
        version=number,
        position=taken.position,
        recorded=now.timestamp(),
        definition=definition,
        model=model_of(definition, first),
        found=found,
        _sorted=True,
    )
    resolutions = () if scenario is None else scenario.resolutions
    return Snapshot(slug, version, arrays, event_ids, resolutions, taken.position)


def scan_indexed(
    rules: list[Rule], events: Iterable[tuple[BaseEvent, UUID, int, float]], upto: int
) -> list[list[Match]]:
    """``matchindex.scan`` through a ``RuleIndex`` (what the projection asks of each
    appended event): each event is tested only against the rules that could match
    it, not against every rule of its kind, and one ``Match`` serves every rule.
    Events past the position ``upto`` are left out."""
    rule_index: RuleIndex[int] = RuleIndex()
    for r, rule in enumerate(rules):
        rule_index.add(r, rule.match)
    found: list[list[Match]] = [[] for _ in rules]
    for event, event_id, position, recorded in events:
        if position > upto:
            continue
        matched = rule_index.matching(event)
        if matched:
            match = Match(seconds(event.occurred_at), position, recorded, event_id)
            for r in matched:
                found[r].append(match)
    for rule_matches in found:
        rule_matches.sort(key=ORDER)
    return found


def before_opens_of(snapshot: Snapshot) -> int:
    """``prior_events.count_before_opens`` of the draft (retractions as of the read)."""
    retracted = {
        ids[m]: float(a.retracted[m])
        for a, ids in zip(snapshot.arrays, snapshot.event_ids, strict=True)
        for m in np.nonzero(np.isfinite(a.retracted))[0].tolist()
    }
    return count_before_opens(snapshot.version, retracted)


def preview(
    snapshot: Snapshot,
    query: Query,
    asked: HistoryRange,
    cards: EventCards,
    max_cost: float,
    budget: Budget = UNLIMITED,
) -> Preview:
    """The draft's forecast with every contribution, its history, its rules' matches
    with ``if_one_more``, and how many matched events fell before opens_at."""
    found = evaluate(snapshot, query, Page(), cards)
    budget.check()
    forecast = ForecastDetail(
        **msgspec.structs.asdict(found.forecast),
        as_of=moment(query.as_of),
        known_at=query.known_at,
        position=found.position,
        contributions=found.contributions,
        contributions_total=found.total,
        contributions_omitted=found.omitted,
        explained=found.explained,
    )
    history = history_of(snapshot, asked, max_cost, budget)
    budget.check()
    return Preview(
        forecast=forecast,
        history=history,
        rules=rules_of(snapshot, query, cards),
        before_opens=before_opens_of(snapshot),
    )


def rules_of(snapshot: Snapshot, query: Query, cards: EventCards) -> list[PreviewRule]:
    """Per rule, its matches not retracted (with their contribution at ``as_of``) and
    the probability if one more occurred then."""
    model = snapshot.version.model
    t = np.array([query.as_of])
    points = forecast_points(model, snapshot.arrays, t, query.known, snapshot.resolutions)
    found = points.terms
    assert found is not None
    point = points.point(0)
    answer: list[PreviewRule] = []
    for r, rule in enumerate(model.rules):
        arrays, ids = snapshot.arrays[r], snapshot.event_ids[r]
        shown = ~np.isfinite(arrays.retracted) | (arrays.retracted > query.known)
        log_odds = (rule.ln_b * found.weights[r][0])[shown].tolist()
        matches = []
        listed = ids[shown].tolist()
        for event_id, contribution, card in zip(
            listed, log_odds, cards.get_all(listed), strict=True
        ):
            assert card is not None
            matches.append(
                PreviewMatch(
                    event_id=event_id,
                    occurred_at=card.occurred_at,
                    summary=card.summary,
                    log_odds=contribution,
                )
            )
        more = point.probability
        if point.status == "open":
            more = float(expit(found.log_odds[0] + _one_more(snapshot, found, r)))
        answer.append(PreviewRule(name=rule.name, matches=matches, if_one_more=more))
    return answer


def _one_more(snapshot: Snapshot, found: Terms, r: int) -> float:
    """The ln odds one more match of rule ``r`` adds at the evaluation time: rank
    k = the group's counted matches + 1, weight r^(k-1), no decay."""
    rules = snapshot.version.model.rules
    rule = rules[r]
    members = [i for i, other in enumerate(rules) if i == r or (
        rule.group is not None and other.group == rule.group)]  # fmt: skip
    count = sum(int(found.counted[i][0].sum()) for i in members)
    return rule.ln_b * rule.repeat_discount**count
