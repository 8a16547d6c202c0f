"""Which events each scenario version's rules matched, kept by the projection.

Appending an event tests it only against the rules of current versions that
could match it (``RuleIndex``: rules with an equality condition are found by
value), and touches only the scenarios it matches. A new version
rebuilds that scenario's matches from the events already applied (its rules
may reach back in time). Older versions keep the matches they had: an event
applied after a revision is only visible to knowledge cuts at or after that
revision (``recorded_at`` never decreases along the log), where the newer
version applies.

Every change that can move a scenario's numbers bumps its ``generation``;
events that match nothing move nothing, which is what lets a poller get 304.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from uuid import UUID

import numpy as np

from domain.events import BaseEvent
from domain.matching import RuleIndex, compile_match
from domain.scenarios import Rule, ScenarioDefinition
from forecasts.model import Resolution, RuleMatches, RuleModel, ScenarioModel


def seconds(moment: datetime) -> float:
    return moment.timestamp()


@dataclass(slots=True)
class Match:
    occurred: float
    position: int
    recorded: float
    event_id: UUID


ORDER = attrgetter("occurred", "position")
"""How a rule's matches are ordered: by occurred_at, then position."""


@dataclass
class VersionMatches:
    """One scenario version: its model and, per rule, its matches. They are kept
    in log order as they arrive and sorted when read (a sort of nearly sorted
    lists; inserting each in place cost a Python-level comparison per step)."""

    version: int
    position: int
    recorded: float
    definition: ScenarioDefinition
    model: ScenarioModel
    found: list[list[Match]]
    _sorted: bool = False
    _arrays: list[RuleMatches] | None = None

    @property
    def matches(self) -> list[list[Match]]:
        """Per rule, its matches in ``ORDER``."""
        if not self._sorted:
            for rule_matches in self.found:
                rule_matches.sort(key=ORDER)
            self._sorted = True
        return self.found

    def add(self, rule: int, match: Match) -> None:
        self.found[rule].append(match)
        self._sorted = False
        self._arrays = None

    def invalidate(self) -> None:
        self._arrays = None

    @property
    def cached_arrays(self) -> list[RuleMatches] | None:
        """The arrays, if built since the last change (they are never changed in place)."""
        return self._arrays

    def arrays(self, retracted: dict[UUID, float]) -> list[RuleMatches]:
        if self._arrays is None:
            self._arrays = rule_arrays(self.matches, retracted)
        return self._arrays


def _rule_arrays(matches: list[Match], retracted: dict[UUID, float]) -> RuleMatches:
    if not matches:
        return RuleMatches.empty()
    return RuleMatches(
        occurred=np.array([m.occurred for m in matches]),
        position=np.array([m.position for m in matches], dtype=np.int64),
        recorded=np.array([m.recorded for m in matches]),
        retracted=np.array([retracted.get(m.event_id, np.inf) for m in matches]),
    )


def model_of(definition: ScenarioDefinition, first_recorded: datetime) -> ScenarioModel:
    opens = definition.opens_at or first_recorded
    return ScenarioModel(
        prior=definition.prior,
        prior_strength=definition.prior_strength,
        opens_at=seconds(opens),
        deadline=seconds(definition.deadline),
        uniform_timing=definition.timing == "uniform",
        rules=tuple(
            RuleModel(
                name=r.name,
                ln_b=float(np.log(r.bayes_factor)),
                uncertainty=r.uncertainty,
                half_life_days=r.half_life_days,
                repeat_discount=r.repeat_discount,
            )
            for r in definition.rules
        ),
    )


@dataclass
class ScenarioMatches:
    id: str
    first_recorded: datetime
    versions: list[VersionMatches] = field(default_factory=list)
    resolution: Resolution | None = None
    resolution_position: int = 0
    generation: int = 0

    @property
    def current(self) -> VersionMatches:
        return self.versions[-1]

    def version_known_at(self, known: float) -> VersionMatches | None:
        """The newest version recorded by the knowledge cut."""
        for version in reversed(self.versions):
            if version.recorded <= known:
                return version
        return None

    def touch(self) -> None:
        self.generation += 1


def scan(
    rules: list[Rule], events: Iterable[tuple[BaseEvent, UUID, int, float]]
) -> list[list[Match]]:
    """Every event each rule matches, sorted by (occurred_at, position)."""
    predicates = [compile_match(r.match) for r in rules]
    kinds = [frozenset(r.match.kinds()) for r in rules]
    found: list[list[Match]] = [[] for _ in rules]
    for event, event_id, position, recorded in events:
        kind = event.__struct_config__.tag
        for rule, predicate in enumerate(predicates):
            if kind in kinds[rule] and predicate(event):
                found[rule].append(Match(seconds(event.occurred_at), position, recorded, event_id))
    for rule_matches in found:
        rule_matches.sort(key=ORDER)
    return found


def rule_arrays(matches: list[list[Match]], retracted: dict[UUID, float]) -> list[RuleMatches]:
    return [_rule_arrays(ms, retracted) for ms in matches]


class MatchIndex:
    """Per scenario, per version, per rule: the matched events."""

    def __init__(self) -> None:
        self.scenarios: dict[str, ScenarioMatches] = {}
        self.retracted: dict[UUID, float] = {}
        self.retraction_positions: dict[UUID, tuple[float, int]] = {}
        self._rules: RuleIndex[tuple[str, int]] = RuleIndex()
        self._matched_by: dict[UUID, set[str]] = {}
        self.generation = 0

    def add_event(self, event: BaseEvent, key: bytes, position: int, recorded: float) -> None:
        """Add ``event`` (its id's 16 bytes are ``key``) to the rules it matches."""
        found = self._rules.matching(event)
        if not found:
            return
        occurred = seconds(event.occurred_at)
        event_id = UUID(bytes=key)
        for slug, rule in found:
            scenario = self.scenarios[slug]
            scenario.current.add(rule, Match(occurred, position, recorded, event_id))
            self._matched_by.setdefault(event_id, set()).add(slug)
            scenario.touch()
            self.generation += 1

    def retract(self, event_id: UUID, position: int, recorded: float) -> None:
        self.retracted[event_id] = recorded
        self.retraction_positions[event_id] = (recorded, position)
        for slug in self._matched_by.get(event_id, ()):
            scenario = self.scenarios[slug]
            for version in scenario.versions:
                version.invalidate()
            scenario.touch()
            self.generation += 1

    def add_version(
        self,
        slug: str,
        version: int,
        position: int,
        recorded_at: datetime,
        definition: ScenarioDefinition,
        events: Iterable[tuple[BaseEvent, UUID, int, float]],
    ) -> None:
        """Record a version and rebuild its matches from ``events`` (all applied so far)."""
        scenario = self.scenarios.get(slug)
        if scenario is None:
            scenario = self.scenarios[slug] = ScenarioMatches(slug, recorded_at)
        entry = VersionMatches(
            version=version,
            position=position,
            recorded=seconds(recorded_at),
            definition=definition,
            model=model_of(definition, scenario.first_recorded),
            found=scan(definition.rules, events),
        )
        for rule_matches in entry.found:
            for match in rule_matches:
                self._matched_by.setdefault(match.event_id, set()).add(slug)
        previous = scenario.versions[-1] if scenario.versions else None
        scenario.versions.append(entry)
        self._reindex_rules(slug, previous, entry)
        scenario.touch()
        self.generation += 1

    def _reindex_rules(
        self, slug: str, previous: VersionMatches | None, entry: VersionMatches
    ) -> None:
        if previous is not None:
            for rule in range(len(previous.definition.rules)):
                self._rules.remove((slug, rule))
        for rule, definition in enumerate(entry.definition.rules):
            self._rules.add((slug, rule), definition.match)

    def resolve(self, slug: str, resolution: Resolution, position: int) -> None:
        scenario = self.scenarios[slug]
        scenario.resolution = resolution
        scenario.resolution_position = position
        scenario.touch()
        self.generation += 1
