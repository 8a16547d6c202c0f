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

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from uuid import UUID

import numpy as np
import numpy.typing as npt

from domain.events import BaseEvent
from domain.matching import RuleIndex, compile_match
from domain.scenarios import (
    BAYES_FACTOR,
    HALF_LIFE_DAYS,
    PRIOR,
    PRIOR_STRENGTH,
    REPEAT_DISCOUNT,
    UNCERTAINTY,
    Rule,
    ScenarioDefinition,
)
from forecasts.model import Resolution, RuleMatches, RuleModel, ScenarioModel


def seconds(moment: datetime) -> float:
    return moment.timestamp()


@dataclass(slots=True)
class Match:
    """One matched event, as every rule that matched it holds it (one object, shared:
    never changed)."""

    occurred: float
    position: int
    recorded: float
    event_id: UUID


ORDER = attrgetter("occurred", "position")
"""How a rule's matches are ordered: by occurred_at, then position."""


EventIds = npt.NDArray[np.object_]
"""A rule's matched event ids (``UUID``), in the order of its arrays."""


Built = tuple[list[RuleMatches], list["EventIds"], list["Room"]]
"""A version's arrays per rule, their event ids, and their room to grow (``Room``)."""


class Pending:
    """A version's arrays as of one read: the arrays before it (``Built``, or an earlier
    ``Pending``) and the matches added since, merged in on first use (``built``). A
    read takes one under the index lock, which costs nothing per match, and merges
    outside it: the projection and other readers go on meanwhile. Each is merged
    once, in order after the one before it (each writes its new rows into the room
    past the rows of the one before), so what it holds is exactly the matches added
    up to the read that took it."""

    def __init__(self, before: "Built | Pending", added: dict[int, list[Match]]) -> None:
        self._before: Built | Pending | None = before
        self._added = added
        self._built: Built | None = None
        self._lock = threading.Lock()

    @property
    def done(self) -> Built | None:
        return self._built

    def built(self) -> Built:
        """The arrays, merged now if no reader has yet (and those before them first)."""
        chain: list[Pending] = []
        node: Built | Pending | None = self
        while isinstance(node, Pending) and node._built is None:
            chain.append(node)
            node = node._before
        for pending in reversed(chain):
            pending._merge()
        assert self._built is not None
        return self._built

    def _merge(self) -> None:
        with self._lock:
            if self._built is not None:
                return
            before = self._before
            assert before is not None
            base = before.built() if isinstance(before, Pending) else before
            arrays, ids, room = list(base[0]), list(base[1]), list(base[2])
            previous: tuple[list[Match], Room] | None = None
            for rule, added in self._added.items():
                if previous is not None and added == previous[0]:
                    # the rules of a scenario often match the same events: their new
                    # matches (the same objects) are made into arrays once
                    new = previous[1]
                else:
                    # a match is retracted only after it was added, and a retraction
                    # builds the arrays anew: the ones added since were not retracted
                    new = _rule_arrays(sorted(added, key=ORDER), {})
                    previous = (added, new)
                arrays[rule], ids[rule], room[rule] = _merged(arrays[rule], room[rule], new)
            self._built = (arrays, ids, room)
            self._before = None
            self._added = {}


def built_of(state: "Built | Pending") -> Built:
    return state.built() if isinstance(state, Pending) else state


@dataclass
class VersionMatches:
    """One scenario version: its model and, per rule, its matches. They are kept
    in log order as they arrive and sorted when read (a sort of nearly sorted
    lists; inserting each in place cost a Python-level comparison per step).

    The arrays are built incrementally: a read takes, under the index lock, the
    arrays built last and the matches added since (``taken``: a ``Pending``), and
    merges them in with numpy after the lock is let go (``_merged``), so a read after
    a run of appends costs work over the new matches, not Python work per match, and
    none of it holds the index lock. A retraction changes a column of old matches:
    it drops the arrays, and the next read builds them from the lists (under the
    lock)."""

    version: int
    position: int
    recorded: float
    definition: ScenarioDefinition
    model: ScenarioModel
    found: list[list[Match]]
    _sorted: bool = False
    _state: "Built | Pending | None" = None
    _new: dict[int, list[Match]] = field(default_factory=dict)
    full_builds: int = 0
    """How many times the arrays were built from the lists of every match."""

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
        if self._state is not None:
            self._new.setdefault(rule, []).append(match)

    def invalidate(self) -> None:
        self._state = None
        self._new = {}

    @property
    def cached_arrays(self) -> list[RuleMatches] | None:
        """The arrays, if built since the last change (they are never changed in place)."""
        state = self._state
        if self._new or state is None:
            return None
        built = state.done if isinstance(state, Pending) else state
        return None if built is None else built[0]

    def taken(self, retracted: dict[UUID, float]) -> "Built | Pending":
        """The arrays as of now, for a caller that holds the index lock: built from
        every match if there are none (the first read, or after a retraction), else
        the last ones with the matches added since, to merge (``built_of``) after the
        lock is let go."""
        if self._state is None:
            built = [_rule_arrays(ms, retracted) for ms in self.matches]
            self._state = ([b[0] for b in built], [b[1] for b in built], list(built))
            self._new = {}
            self.full_builds += 1
        elif self._new:
            self._state = Pending(self._state, self._new)
            self._new = {}
        return self._state

    def arrays(self, retracted: dict[UUID, float]) -> list[RuleMatches]:
        """Per rule, its matches as arrays, in ``ORDER``. Built anew (never changed
        in place) when the matches change: a reader may keep them after it lets go
        of the index."""
        return built_of(self.taken(retracted))[0]

    def event_ids(self, retracted: dict[UUID, float]) -> list[EventIds]:
        """Per rule, its matches' event ids in the order of ``arrays`` (built anew,
        like them, when the matches change)."""
        return built_of(self.taken(retracted))[1]


def _rule_arrays(
    matches: list[Match], retracted: dict[UUID, float]
) -> tuple[RuleMatches, EventIds]:
    """Arrays of matches already in ``ORDER``."""
    ids = np.empty(len(matches), dtype=object)
    if not matches:
        return RuleMatches.empty(), ids
    ids[:] = [m.event_id for m in matches]
    found = RuleMatches(
        occurred=np.array([m.occurred for m in matches], dtype=np.float64),
        position=np.array([m.position for m in matches], dtype=np.int64),
        recorded=np.array([m.recorded for m in matches], dtype=np.float64),
        retracted=np.array([retracted.get(m.event_id, np.inf) for m in matches]),
    )
    return found, ids


Room = tuple[RuleMatches, EventIds]
"""A rule's arrays with room to grow: the arrays handed out are views of their
first rows. Rows past every view handed out are written by appends in order; rows
a view covers are never written (a reader may hold it after the lock is let go)."""


def _merged(old: RuleMatches, room: Room, new: Room) -> tuple[RuleMatches, EventIds, Room]:
    """Arrays holding ``old`` (the first rows of ``room``) and the ``new`` ones, in
    ``ORDER``, and their room. New matches usually come after the old ones (a new
    event, a later position): they are written into the room past ``old`` (grown by
    doubling when full), so a read after an append costs numpy work over the new
    matches only. Otherwise all are sorted (stable, by occurred then position) into
    new arrays."""
    added, added_ids = new
    size, count = len(old), len(added)
    if size and (old.occurred[-1], old.position[-1]) > (added.occurred[0], added.position[0]):
        occurred = np.concatenate((old.occurred, added.occurred))
        position = np.concatenate((old.position, added.position))
        order = np.lexsort((position, occurred))
        merged = RuleMatches(
            occurred[order],
            position[order],
            np.concatenate((old.recorded, added.recorded))[order],
            np.concatenate((old.retracted, added.retracted))[order],
        )
        ids = np.concatenate((room[1][:size], added_ids))[order]
        return merged, ids, (merged, ids)
    if size + count > len(room[0]):
        room = _grown(room, size, max(2 * (size + count), 16))
    matches, ids = room
    end = size + count
    for column, values in (
        (matches.occurred, added.occurred),
        (matches.position, added.position),
        (matches.recorded, added.recorded),
        (matches.retracted, added.retracted),
        (ids, added_ids),
    ):
        column[size:end] = values
    view = RuleMatches(
        matches.occurred[:end],
        matches.position[:end],
        matches.recorded[:end],
        matches.retracted[:end],
    )
    return view, ids[:end], room


def _grown(room: Room, size: int, capacity: int) -> Room:
    """New buffers of ``capacity`` rows holding the first ``size`` rows of ``room``."""
    matches, ids = room
    grown = RuleMatches(
        np.empty(capacity),
        np.empty(capacity, dtype=np.int64),
        np.empty(capacity),
        np.empty(capacity),
    )
    grown_ids = np.empty(capacity, dtype=object)
    grown.occurred[:size] = matches.occurred[:size]
    grown.position[:size] = matches.position[:size]
    grown.recorded[:size] = matches.recorded[:size]
    grown.retracted[:size] = matches.retracted[:size]
    grown_ids[:size] = ids[:size]
    return grown, grown_ids


def rule_model(rule: Rule) -> RuleModel:
    """The rule's numbers, each clamped into its bounds (``domain.scenarios``)."""
    half_life = rule.half_life_days
    return RuleModel(
        name=rule.name,
        ln_b=float(np.log(BAYES_FACTOR.clamp(rule.bayes_factor))),
        uncertainty=UNCERTAINTY.clamp(rule.uncertainty),
        half_life_days=None if half_life is None else HALF_LIFE_DAYS.clamp(half_life),
        repeat_discount=REPEAT_DISCOUNT.clamp(rule.repeat_discount),
    )


def model_of(definition: ScenarioDefinition, first_recorded: datetime) -> ScenarioModel:
    """The model of a stored version. Versions stored before the parameters had
    their present bounds may hold values outside them (the log is append-only):
    each is clamped into its bounds, so that, e.g., a half-life of 1e-300 days
    decays as one of an hour, and every model number stays finite."""
    opens = definition.opens_at or first_recorded
    return ScenarioModel(
        prior=PRIOR.clamp(definition.prior),
        prior_strength=PRIOR_STRENGTH.clamp(definition.prior_strength),
        opens_at=seconds(opens),
        deadline=seconds(definition.deadline),
        uniform_timing=definition.timing == "uniform",
        rules=tuple(rule_model(r) for r in definition.rules),
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
    """Per rule, arrays of its matches (each list already in ``ORDER``)."""
    return [_rule_arrays(ms, retracted)[0] for ms in matches]


class MatchIndex:
    """Per scenario, per version, per rule: the matched events."""

    def __init__(self) -> None:
        self.scenarios: dict[str, ScenarioMatches] = {}
        self.retracted: dict[UUID, float] = {}
        self.retraction_positions: dict[UUID, tuple[float, int]] = {}
        self._rules: RuleIndex[tuple[str, int]] = RuleIndex()
        self._matched_by: dict[UUID, set[str]] = {}
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
