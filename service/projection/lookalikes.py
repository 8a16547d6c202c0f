"""The look-alikes of many events at once: a batch's receipts, a page of a listing.

Each answer is ``DuplicateIndex.look_alikes``'s (a test holds them together), found
for all the events in one pass instead of one lookup each (about 20 us an event, most
of a batch of 1000's CPU). Events of one identity and day share their three keys, and
each key is looked up once. The rows filed under a key are ascending, so the ones an
event may name (below its own position, newest first) are a slice of them; the
slices of every event are cut from one short array per key (the key's rows from
the batch's oldest position back ``tail`` rows, up to its newest) and checked
together in numpy: the identity (each row's bytes compared once, whatever the number
of events naming it), the one-day window and, for the few retracted rows, the
retraction. An event that finds fewer than ``NAMED_AT_MOST`` in slices cut short
(rows of other identities under a colliding key, rows out of the window) is asked
again with four times the tail, until its answer is whole.
"""

import math
from bisect import bisect_left
from collections.abc import Callable, Sequence
from typing import NamedTuple, TypeVar
from uuid import UUID

import numpy as np
import numpy.typing as npt

from domain.duplicates import WINDOW
from domain.events import BaseEvent
from service.projection.duplicates import NAMED_AT_MOST, DuplicateIndex, Held, identity_bytes
from service.projection.idtexts import id_texts

TAIL = NAMED_AT_MOST
"""Rows of a key read at first past those an event's own position leaves out."""

_FEW = 64
"""A key with at most this many rows past the tail is read whole."""
_MAX_ROWS = 1 << 32
"""More rows than a table holds (rows are 32-bit): a key's number times this, plus a
row, sorts by key, then row."""
_DAY_S = 86_400
_WINDOW_S = WINDOW.total_seconds()
_Ints = npt.NDArray[np.int64]
_Id = TypeVar("_Id", UUID, str)


class _Asked(NamedTuple):
    """The events asked about, one entry each, and the keys they are filed under."""

    group: _Ints
    """The event's identity, numbered (equal numbers: equal identity bytes)."""
    occurred: npt.NDArray[np.float64]
    bound: _Ints
    """The rows below this one are at positions below the event's ``before``."""
    retracted: npt.NDArray[np.float64]
    """Rows retracted by a record before this position are left out."""
    groups: dict[bytes, int]
    pair_event: _Ints
    """One entry per (event, distinct key of its three days): the event..."""
    pair_key: _Ints
    """... and the key, numbered (an index into ``keys``)."""
    keys: list[int]


def all_look_alikes(
    index: DuplicateIndex,
    asked: Sequence[tuple[BaseEvent, int]],
    *,
    now: bool = False,
    tail: int = TAIL,
) -> list[list[UUID]]:
    """``index.look_alikes(event, before, now=now)`` of each (event, before)."""
    table = index.held().table
    return _found(index, asked, now, tail, lambda rows: [table.event_id(row) for row in rows])


def all_look_alike_texts(
    index: DuplicateIndex,
    asked: Sequence[tuple[BaseEvent, int]],
    *,
    now: bool = False,
    tail: int = TAIL,
) -> list[list[str]]:
    """``all_look_alikes``, each id as its text (``str(UUID)``): what a response
    carries, made once per distinct id, many together (``idtexts``)."""
    table = index.held().table
    return _found(index, asked, now, tail, lambda rows: id_texts(table.id_bytes(rows)))


def _found(
    index: DuplicateIndex,
    asked: Sequence[tuple[BaseEvent, int]],
    now: bool,
    tail: int,
    ids_of: Callable[[list[int]], list[_Id]],
) -> list[list[_Id]]:
    held = index.held()
    found: list[list[_Id]] = [[] for _ in asked]
    if not asked:
        return found
    events = _asked(held, asked, now)
    parts = held.rows.parts(events.keys)
    filed = np.array([len(older) + len(newer) for older, newer in parts], np.int64)
    pending = np.flatnonzero(filed[events.pair_key] > 0)
    while pending.size:
        pending = _one_round(held, events, parts, pending, tail, found, ids_of)
        tail *= 4
    return found


def _asked(held: Held, asked: Sequence[tuple[BaseEvent, int]], now: bool) -> _Asked:
    groups: dict[bytes, int] = {}
    days: dict[tuple[bytes, int], int] = {}
    group, day_of, occurred = [], [], []
    for event, _ in asked:
        ident = identity_bytes(event)
        at = event.occurred_at.timestamp()
        occurred.append(at)
        group.append(groups.setdefault(ident, len(groups)))
        day_of.append(days.setdefault((ident, int(at // _DAY_S)), len(days)))
    numbered: dict[int, int] = {}
    key_of = held.key_of
    filed_under = np.full((len(days), 3), -1, np.int64)
    for n, (ident, day) in enumerate(days):
        # distinct but for a collision, which must not name a row twice
        near = dict.fromkeys((key_of(ident, day - 1), key_of(ident, day), key_of(ident, day + 1)))
        for k, key in enumerate(near):
            filed_under[n, k] = numbered.setdefault(key, len(numbered))
    pair_key = filed_under[day_of].ravel()
    pair_event = np.repeat(np.arange(len(asked), dtype=np.int64), 3)
    distinct = pair_key >= 0
    befores = [before for _, before in asked]
    return _Asked(
        group=np.array(group, np.int64),
        occurred=np.array(occurred, np.float64),
        bound=_row_bounds(held, befores),
        retracted=np.full(len(asked), np.inf) if now else np.array(befores, np.float64),
        groups=groups,
        pair_event=pair_event[distinct],
        pair_key=pair_key[distinct],
        keys=list(numbered),
    )


def _row_bounds(held: Held, befores: list[int]) -> _Ints:
    """For each position, how many rows of the table are at positions below it (the
    table is in position order). A batch's positions are close together: the table's
    positions between them are copied once and searched in numpy."""
    positions = held.table.positions
    lowest = bisect_left(positions, min(befores))
    highest = bisect_left(positions, max(befores))
    wanted = np.array(befores, np.int64)
    if highest == lowest:
        return np.full(len(befores), lowest, np.int64)
    if highest - lowest > 4 * len(befores) + 64:
        return np.array([bisect_left(positions, before) for before in befores], np.int64)
    between = np.frombuffer(positions[lowest:highest], np.int64)
    return lowest + between.searchsorted(wanted, "left")


class _Slices(NamedTuple):
    """The rows each (event, key) pair of a round may name: ``rows[start:end]``."""

    rows: _Ints
    start: _Ints
    end: _Ints
    cut: _Ints
    """The oldest row of the slice when older rows were left out, else -1."""


def _one_round(
    held: Held,
    events: _Asked,
    parts: list[tuple[npt.NDArray[np.int32], list[int]]],
    pending: _Ints,
    tail: int,
    found: list[list[_Id]],
    ids_of: Callable[[list[int]], list[_Id]],
) -> _Ints:
    """Answer the events of the ``pending`` pairs whose answers the slices of ``tail``
    rows settle; the pairs of the others, to be asked again with a longer tail."""
    slices = _slices(events, parts, pending, tail)
    lengths = slices.end - slices.start
    owner = np.repeat(events.pair_event[pending], lengths)
    offsets = np.cumsum(lengths) - lengths
    at = np.arange(int(lengths.sum())) - np.repeat(offsets - slices.start, lengths)
    rows = slices.rows[at]
    named = _looking_alike(held, events, rows, owner)
    owner, rows = owner[named], rows[named]
    order = np.lexsort((-rows, owner))
    owner, rows = owner[order], rows[order]
    counts = np.bincount(owner, minlength=len(events.group))
    first = np.cumsum(counts) - counts
    rank = np.arange(len(owner)) - first[owner]
    kept = rank < NAMED_AT_MOST
    owner, rows = owner[kept], rows[kept]
    counts = np.minimum(counts, NAMED_AT_MOST)
    settled = _settled(events, pending, slices.cut, counts, rows)
    _answer(owner, rows, settled, found, ids_of)
    return pending[~settled[events.pair_event[pending]]]


def _slices(
    events: _Asked,
    parts: list[tuple[npt.NDArray[np.int32], list[int]]],
    pending: _Ints,
    tail: int,
) -> _Slices:
    """Per pending pair, the newest ``tail`` rows of its key below its event's bound.

    The rows of every key asked are put in one array, sorted by key and row (a key's
    merged rows are a view, its recent ones a list: a few operations a key, not one
    per row); a key with many rows contributes only those from ``tail`` below its
    events' lowest bound to their highest."""
    pair_key = events.pair_key[pending]
    bounds = events.bound[events.pair_event[pending]]
    asked, lowest, highest = _bound_range(pair_key, bounds)
    pieces: list[npt.NDArray[np.int32] | _Ints] = []
    sizes: list[int] = []
    recent: list[int] = []
    recent_keys: list[int] = []
    left_out = np.zeros(len(parts), np.int64)
    for kid, low, high in zip(asked, lowest, highest, strict=True):
        older, newer = parts[kid]
        if len(older) + len(newer) <= _FEW + tail:
            pieces.append(older)
            sizes.append(len(older))
            recent += newer
            recent_keys += [kid] * len(newer)
            continue
        first = max(0, _below(older, newer, low) - tail)
        pieces.append(_rows_between(older, newer, first, _below(older, newer, high)))
        sizes.append(len(pieces[-1]))
        left_out[kid] = first
    pieces.append(np.array(recent, np.int64))
    sizes.append(len(recent))
    stride = np.int64(_MAX_ROWS)
    filed = np.concatenate(pieces).astype(np.int64)
    filed += np.repeat(np.array([*asked, 0], np.int64) * stride, sizes)
    filed[len(filed) - len(recent) :] += np.array(recent_keys, np.int64) * stride
    filed.sort()
    base = pair_key * stride
    first_of_key = filed.searchsorted(base, "left")
    end = filed.searchsorted(base + bounds, "left")
    start = np.maximum(first_of_key, end - tail)
    cut_short = left_out[pair_key] + (start - first_of_key) > 0
    last = max(len(filed) - 1, 0)
    cut = (
        np.where(cut_short, filed[np.minimum(start, last)] - base, -1)
        if len(filed)
        else start * 0 - 1
    )
    return _Slices(filed % stride, start, end, cut)


def _bound_range(pair_key: _Ints, bounds: _Ints) -> tuple[list[int], list[int], list[int]]:
    """The keys of the pairs, and for each the lowest and highest bound of its pairs."""
    order = np.lexsort((bounds, pair_key))
    keys, ranked = pair_key[order], bounds[order]
    firsts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    lasts = np.r_[firsts[1:] - 1, len(keys) - 1]
    return keys[firsts].tolist(), ranked[firsts].tolist(), ranked[lasts].tolist()


def _below(older: npt.NDArray[np.int32], newer: list[int], bound: int) -> int:
    """How many of a key's rows (``older`` then ``newer``, ascending) are below ``bound``."""
    return int(older.searchsorted(bound, "left")) + bisect_left(newer, bound)


def _rows_between(older: npt.NDArray[np.int32], newer: list[int], first: int, stop: int) -> _Ints:
    """A key's rows ``first`` to ``stop`` (indexes into ``older`` then ``newer``)."""
    split = len(older)
    head = older[min(first, split) : min(stop, split)].astype(np.int64)
    rest = np.array(newer[max(first - split, 0) : max(stop - split, 0)], np.int64)
    return np.concatenate((head, rest))


def _looking_alike(held: Held, events: _Asked, rows: _Ints, owner: _Ints) -> npt.NDArray[np.bool_]:
    """Whether each row looks like the event that owns it: the same identity bytes,
    within the window, and not retracted before the event's ``retracted``. Each
    distinct row is read once."""
    distinct, which = np.unique(rows, return_inverse=True)
    listed: list[int] = distinct.tolist()
    table, identities, ends, groups = held.table, held.identities, held.ends, events.groups
    occurred = table.occurred
    group_of = np.array(
        [
            groups.get(bytes(identities[ends[row - 1] if row else 0 : ends[row]]), -1)
            for row in listed
        ],
        np.int64,
    )
    at = np.array([occurred[row] for row in listed], np.float64)
    alike: npt.NDArray[np.bool_] = (group_of[which] == events.group[owner]) & (
        np.abs(at[which] - events.occurred[owner]) <= _WINDOW_S
    )
    retracted = [i for i, row in enumerate(listed) if table.retracted_before(row, math.inf)]
    if retracted:
        for j in np.flatnonzero(np.isin(which, retracted)).tolist():
            if table.retracted_before(int(rows[j]), float(events.retracted[owner[j]])):
                alike[j] = False
    return alike


def _settled(
    events: _Asked, pending: _Ints, cut: _Ints, counts: _Ints, rows: _Ints
) -> npt.NDArray[np.bool_]:
    """Which events of the round have their whole answer: no slice of theirs was cut
    short, or they name ``NAMED_AT_MOST`` rows, the oldest of them no older than where
    any of their slices was cut (what was left out is older still)."""
    size = len(events.group)
    worst = np.full(size, -1, np.int64)
    np.maximum.at(worst, events.pair_event[pending], cut)
    full = counts == NAMED_AT_MOST
    oldest = np.full(size, -1, np.int64)
    oldest[full] = rows[(np.cumsum(counts) - counts)[full] + NAMED_AT_MOST - 1]
    in_round = np.zeros(size, np.bool_)
    in_round[events.pair_event[pending]] = True
    settled: npt.NDArray[np.bool_] = in_round & ((worst < 0) | (full & (oldest >= worst)))
    return settled


def _answer(
    owner: _Ints,
    rows: _Ints,
    settled: npt.NDArray[np.bool_],
    found: list[list[_Id]],
    ids_of: Callable[[list[int]], list[_Id]],
) -> None:
    """Each settled event's rows (``owner`` ascending, each owner's rows descending)
    as ids (``ids_of`` the distinct rows), in log order."""
    owner, rows = owner[::-1], rows[::-1]
    keep = settled[owner]
    owner, rows = owner[keep], rows[keep]
    if not len(rows):
        return
    distinct, which = np.unique(rows, return_inverse=True)
    named = np.empty(len(distinct), object)
    named[:] = ids_of(distinct.tolist())
    ids: list[_Id] = named[which].tolist()
    starts: list[int] = [0, *(np.flatnonzero(np.diff(owner)) + 1).tolist()]
    owners: list[int] = owner[starts].tolist()
    for event, start, end in zip(owners, starts, [*starts[1:], len(ids)], strict=True):
        found[event] = ids[start:end]
