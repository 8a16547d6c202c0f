"""A scenario version's matches as numpy arrays, built incrementally.

Each rule's matches (``Match``, in ``ORDER``) are made into parallel arrays
(``RuleMatches``) and their event ids. A read takes, under the index lock, the
arrays built last and the matches added since (``Pending``) and merges them with
numpy after the lock is let go: new rows are written into the room past the rows
handed out (``Room``), which are never written again, so a reader may keep the
arrays it was given.
"""

import threading
from dataclasses import dataclass
from operator import attrgetter
from uuid import UUID

import numpy as np
import numpy.typing as npt

from forecasts.model import RuleMatches


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
                    new = match_arrays(sorted(added, key=ORDER), {})
                    previous = (added, new)
                arrays[rule], ids[rule], room[rule] = _merged(arrays[rule], room[rule], new)
            self._built = (arrays, ids, room)
            self._before = None
            self._added = {}


def built_of(state: "Built | Pending") -> Built:
    return state.built() if isinstance(state, Pending) else state


def match_arrays(
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


def rule_arrays(matches: list[list[Match]], retracted: dict[UUID, float]) -> list[RuleMatches]:
    """Per rule, arrays of its matches (each list already in ``ORDER``)."""
    return [match_arrays(ms, retracted)[0] for ms in matches]
