"""What a forecast read takes of the index: taken under its lock, used after.

A read takes what it needs under the index lock (``Taken``: the version and its
match arrays as of now, merged after the lock is let go) and computes outside it
(``Snapshot``: the arrays, never changed in place, and the answer's position), so
the projection is held off only for the taking.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import numpy as np

from forecasts.model import Resolution as ModelResolution
from forecasts.model import RuleMatches
from service.projection.matcharrays import Built, EventIds, Pending, built_of
from service.projection.matchindex import MatchIndex
from service.projection.versions import ScenarioMatches, VersionMatches

INF = float("inf")


def moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True)
class Query:
    as_of: float
    known: float = INF

    @property
    def known_at(self) -> datetime | None:
        return None if self.known == INF else moment(self.known)


@dataclass(frozen=True)
class Snapshot:
    """What one read needs of the index, copied under its lock: the arrays are
    never changed in place, so the model runs on them after the lock is let go."""

    scenario_id: str
    version: VersionMatches
    arrays: list[RuleMatches]
    event_ids: list[EventIds]
    resolutions: tuple[ModelResolution, ...]
    position: int

    @property
    def matches(self) -> int:
        return sum(len(a) for a in self.arrays)


@dataclass(frozen=True)
class Taken:
    """A snapshot as taken under the index lock (``taken_of``): the arrays
    still to merge, which ``snapshot`` does after the lock is let go."""

    scenario_id: str
    version: VersionMatches
    state: Built | Pending
    resolutions: tuple[ModelResolution, ...]
    resolution_records: tuple[tuple[int, float], ...]
    known: float

    def snapshot(self, matches: MatchIndex) -> Snapshot:
        """The arrays merged (no lock needed) and the answer's position."""
        arrays, event_ids, _ = built_of(self.state)
        position = position_of(self, arrays, event_ids, matches.retraction_positions)
        return Snapshot(
            self.scenario_id, self.version, arrays, event_ids, self.resolutions, position
        )


@dataclass(frozen=True)
class NowSnapshot:
    """A "now" answer not in the cache: what was taken of the index and the cache key
    it was taken at (``Forecaster.now_or_snapshot``), evaluated outside the lock by
    ``finish``."""

    key: tuple[float, int]
    taken: Taken


def taken_of(matches: MatchIndex, scenario: ScenarioMatches, known: float) -> Taken | None:
    """What a read at this cut needs of the index, for a caller that holds its
    lock: the version, its arrays as of now (``VersionMatches.taken``, merged
    after the lock is let go) and the resolutions; None if no version was known."""
    version = scenario.version_known_at(known)
    if version is None:
        return None
    return Taken(
        scenario.id,
        version,
        version.taken(matches.retracted),
        scenario.resolutions,
        scenario.resolution_records,
        known,
    )


def position_of(
    taken: Taken,
    arrays: list[RuleMatches],
    event_ids: list[EventIds],
    retractions: dict[UUID, tuple[float, int]],
) -> int:
    """The last log position the answer at this cut depends on: the version,
    each resolution and retraction of one, each match and each retraction of one,
    known by the cut (a retraction the arrays hold is in ``retraction_positions``,
    which only grows: read without the index lock)."""
    known = taken.known
    positions = [taken.version.position]
    positions.extend(p for p, recorded in taken.resolution_records if recorded <= known)
    for ids, rule_matches in zip(event_ids, arrays, strict=True):
        known_matches = rule_matches.recorded <= known
        if known_matches.any():
            positions.append(int(rule_matches.position[known_matches].max()))
        for m in np.nonzero(known_matches & np.isfinite(rule_matches.retracted))[0]:
            retraction = retractions.get(ids[m])
            if retraction is not None and retraction[0] <= known:
                positions.append(retraction[1])
    return max(positions)
