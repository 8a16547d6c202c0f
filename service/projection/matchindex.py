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

from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from uuid import UUID

from domain.events import BaseEvent
from domain.matching import RuleIndex, compile_match
from domain.scenarios import Rule, ScenarioDefinition
from forecasts.model import Resolution
from service.projection.matcharrays import ORDER, Match
from service.projection.versions import ScenarioMatches, VersionMatches, model_of, seconds


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


class MatchIndex:
    """Per scenario, per version, per rule: the matched events."""

    def __init__(self) -> None:
        self.scenarios: dict[str, ScenarioMatches] = {}
        self.retracted: dict[UUID, float] = {}
        self.retraction_positions: dict[UUID, tuple[float, int]] = {}
        self._rules: RuleIndex[tuple[str, int]] = RuleIndex()
        self._matched_by: dict[UUID, set[str]] = {}
        self._rules_of_kind: Counter[str] = Counter()
        self.ruled_kinds: frozenset[str] = frozenset()
        """The kinds some current version's rule may match: the others' events need not
        be decoded in full (``eventdecoders``)."""
        self.generation = 0

    def matching(self, event: BaseEvent) -> list[tuple[str, int]]:
        """The (scenario, rule) pairs of current versions that ``event`` matches. Only
        reads the rule index, which only the applying thread changes: it needs no lock."""
        return self._rules.matching(event)

    def add_event(
        self,
        event: BaseEvent,
        key: bytes,
        position: int,
        recorded: float,
        found: list[tuple[str, int]] | None = None,
    ) -> None:
        """Add ``event`` (its id's 16 bytes are ``key``) to the rules it matches
        (``found`` by ``matching``, or now)."""
        if found is None:
            found = self._rules.matching(event)
        if not found:
            return
        event_id = UUID(bytes=key)
        # one Match for every rule the event matches: an object per (event, rule) made
        # the collector's young generations hold hundreds of thousands of objects per
        # batch, and each of its passes held the interpreter for up to 400 ms
        match = Match(seconds(event.occurred_at), position, recorded, event_id)
        matched_by = self._matched_by.setdefault(event_id, set())
        for slug, rule in found:
            scenario = self.scenarios[slug]
            scenario.current.add(rule, match)
            matched_by.add(slug)
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
        found: list[list[Match]],
    ) -> None:
        """Record a version with its matches, ``found`` by ``scan`` over the events
        applied so far (a scan reads the append-only event table: the applying
        thread runs it before it takes the index lock)."""
        scenario = self.scenarios.get(slug)
        if scenario is None:
            scenario = self.scenarios[slug] = ScenarioMatches(slug, recorded_at)
        entry = VersionMatches(
            version=version,
            position=position,
            recorded=seconds(recorded_at),
            definition=definition,
            model=model_of(definition, scenario.first_recorded),
            found=found,
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
            for rule, definition in enumerate(previous.definition.rules):
                self._rules.remove((slug, rule))
                self._rules_of_kind.subtract(definition.match.kinds())
        for rule, definition in enumerate(entry.definition.rules):
            self._rules.add((slug, rule), definition.match)
            self._rules_of_kind.update(definition.match.kinds())
        self.ruled_kinds = frozenset(+self._rules_of_kind)

    def resolve(self, slug: str, resolution: Resolution, position: int) -> None:
        scenario = self.scenarios[slug]
        scenario.resolutions = (*scenario.resolutions, resolution)
        self._resolution_record(scenario, position, resolution.recorded_at)

    def retract_resolution(self, slug: str, position: int, recorded: float) -> None:
        """The resolution in force is retracted at ``recorded`` (its knowledge cut)."""
        scenario = self.scenarios[slug]
        *before, last = scenario.resolutions
        scenario.resolutions = (*before, replace(last, retracted_at=recorded))
        self._resolution_record(scenario, position, recorded)

    def _resolution_record(self, scenario: ScenarioMatches, position: int, recorded: float) -> None:
        scenario.resolution_records = (*scenario.resolution_records, (position, recorded))
        scenario.touch()
        self.generation += 1
