"""A version's match arrays are built incrementally (issue 13): whatever the order of
adds, reads and retractions, they equal arrays built from scratch, in the order of
the sorted lists and of the event ids."""

import copy
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import msgspec
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.scenarios import ScenarioDefinition
from forecasts.model import RuleMatches
from service.projection.matcharrays import ORDER, Match, rule_arrays
from service.projection.versions import VersionMatches, model_of

RULES = 3
DEFINITION = {
    "title": "t", "question": "q", "opens_at": "2025-01-01T00:00:00Z",
    "deadline": "2027-01-01T00:00:00Z", "prior": 0.2,
    "rules": [{"name": f"r{i}", "match": {"kind": "signal"}, "bayes_factor": 2}
              for i in range(RULES)],
}  # fmt: skip


def version(found: list[list[Match]]) -> VersionMatches:
    definition = msgspec.convert(DEFINITION, ScenarioDefinition)
    first = datetime(2025, 1, 1, tzinfo=UTC)
    return VersionMatches(1, 1, first.timestamp(), definition, model_of(definition, first), found)


add = st.tuples(st.just("add"), st.integers(0, RULES - 1), st.integers(0, 5), st.integers(0, 10**6))
read = st.tuples(st.just("read"), st.just(0), st.just(0), st.just(0))
retract = st.tuples(st.just("retract"), st.just(0), st.just(0), st.integers(0, 10**6))


def from_scratch(
    found: list[list[Match]], retracted: dict[UUID, float]
) -> tuple[list[list[Match]], list[list[UUID]]]:
    ordered = [sorted(rule, key=ORDER) for rule in found]
    return ordered, [[m.event_id for m in rule] for rule in ordered]


def unchanged(held: Any, copied: Any) -> bool:
    if isinstance(held, RuleMatches):
        columns = ("occurred", "position", "recorded", "retracted")
        return all(np.array_equal(getattr(held, c), getattr(copied, c)) for c in columns)
    return list(held) == list(copied)


def assert_same(
    entry: VersionMatches, retracted: dict[UUID, float], found: list[list[Match]]
) -> list[tuple[Any, Any]]:
    """Check the arrays against a build from scratch; return them with copies."""
    ordered, ids = from_scratch(found, retracted)
    arrays = entry.arrays(retracted)
    expected = rule_arrays(ordered, retracted)
    for got, want in zip(arrays, expected, strict=True):
        np.testing.assert_array_equal(got.occurred, want.occurred)
        np.testing.assert_array_equal(got.position, want.position)
        np.testing.assert_array_equal(got.recorded, want.recorded)
        np.testing.assert_array_equal(got.retracted, want.retracted)
    assert [list(rule) for rule in entry.event_ids(retracted)] == ids
    assert [[m.event_id for m in rule] for rule in entry.matches] == ids
    held = [*arrays, *entry.event_ids(retracted)]
    return [(kept, copy.deepcopy(kept)) for kept in held]


@settings(max_examples=200, deadline=None)
@given(
    initial=st.lists(st.tuples(st.integers(0, RULES - 1), st.integers(0, 5)), max_size=8),
    steps=st.lists(st.one_of(add, add, read, retract), max_size=40),
)
def test_arrays_after_any_adds_reads_and_retractions_equal_a_build_from_scratch(
    initial: list[tuple[int, int]], steps: list[tuple[str, int, int, int]]
) -> None:
    positions = iter(range(1, 10**6))
    found: list[list[Match]] = [[] for _ in range(RULES)]
    for rule, occurred in initial:
        position = next(positions)
        found[rule].append(Match(float(occurred), position, float(position), uuid4()))
    entry = version([sorted(rule, key=ORDER) for rule in found])
    retracted: dict[UUID, float] = {}
    kept: list[list[Match]] = [list(rule) for rule in found]
    clock = 10.0**6
    handed_out: list[tuple[Any, Any]] = []
    for op, rule, occurred, pick in steps:
        if op == "add":
            # a later position, an occurred_at that may be before the last one's
            position = next(positions)
            match = Match(float(occurred), position, clock + position, uuid4())
            entry.add(rule, match)
            kept[rule].append(match)
        elif op == "read":
            handed_out.extend(assert_same(entry, retracted, kept))
        else:
            every = [m for rule_matches in kept for m in rule_matches]
            if every:
                retracted[every[pick % len(every)].event_id] = clock + pick
                entry.invalidate()
    assert_same(entry, retracted, kept)
    # arrays a reader took are never changed in place by later appends
    for held, copied in handed_out:
        assert unchanged(held, copied)


def test_a_read_after_appends_merges_them_in_without_a_full_build() -> None:
    """The arrays already built are reused: appends are merged in, not rebuilt from
    every match (which made each read after a record a Python loop over them all)."""
    entry = version([[] for _ in range(RULES)])
    for position in range(1, 101):
        for rule in range(RULES):
            entry.add(rule, Match(float(position % 7), position, float(position), uuid4()))
        entry.arrays({})
    assert entry.full_builds == 1
    before = entry.arrays({})
    entry.add(0, Match(0.0, 101, 101.0, uuid4()))
    after = entry.arrays({})
    assert after[0] is not before[0]
    assert len(before[0]) == 100
    assert len(after[0]) == 101
    assert after[1] is before[1]
    entry.invalidate()
    entry.arrays({})
    assert entry.full_builds == 2
