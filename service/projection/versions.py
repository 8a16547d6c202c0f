"""A scenario as the match index keeps it: its versions (each a model and, per rule,
its matches) and its resolutions (each with when it was retracted, if it was).
Every change that can move a scenario's numbers bumps its ``generation``.
"""

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

import numpy as np

from domain.scenarios import (
    BAYES_FACTOR,
    HALF_LIFE_DAYS,
    PRIOR,
    PRIOR_STRENGTH,
    REPEAT_DISCOUNT,
    TIMING_SHAPE,
    UNCERTAINTY,
    Rule,
    ScenarioDefinition,
)
from forecasts.model import Resolution, RuleMatches, RuleModel, ScenarioModel, resolution_known
from service.projection.matcharrays import (
    ORDER,
    Built,
    EventIds,
    Match,
    Pending,
    built_of,
    match_arrays,
)


def seconds(moment: datetime) -> float:
    return moment.timestamp()


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
            built = [match_arrays(ms, retracted) for ms in self.matches]
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


def rule_model(rule: Rule) -> RuleModel:
    """The rule's numbers, each clamped into its bounds (``domain.scenarios``)."""
    half_life = rule.half_life_days
    return RuleModel(
        name=rule.name,
        ln_b=float(np.log(BAYES_FACTOR.clamp(rule.bayes_factor))),
        uncertainty=UNCERTAINTY.clamp(rule.uncertainty),
        half_life_days=None if half_life is None else HALF_LIFE_DAYS.clamp(half_life),
        repeat_discount=REPEAT_DISCOUNT.clamp(rule.repeat_discount),
        group=rule.group,
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
        timing_shape=TIMING_SHAPE.clamp(definition.timing_shape),
    )


@dataclass
class ScenarioMatches:
    id: str
    first_recorded: datetime
    versions: list[VersionMatches] = field(default_factory=list)
    resolutions: tuple[Resolution, ...] = ()
    """Every resolution recorded, in log order (``forecasts.model.Resolutions``)."""
    resolution_records: tuple[tuple[int, float], ...] = ()
    """(position, recorded_at) of each resolution and retraction of one."""
    generation: int = 0

    @property
    def resolution(self) -> Resolution | None:
        """The resolution in force as the log stands."""
        return resolution_known(self.resolutions)

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
