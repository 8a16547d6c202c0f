"""The compact key index answers as a dict of lists would, across merges."""

from hypothesis import given
from hypothesis import strategies as st

from service.projection.keyindex import KeyIndex

_keys = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@given(
    keys=st.lists(st.one_of(_keys, st.sampled_from([0, 1, -1, 2**63 - 1])), max_size=200),
    merge_at=st.integers(min_value=1, max_value=8),
)
def test_rows_are_those_filed_under_the_key_in_order(keys: list[int], merge_at: int) -> None:
    index, expected = KeyIndex(merge_at), {}
    for row, key in enumerate(keys):
        index.add(key, row)
        expected.setdefault(key, []).append(row)
        assert index.rows(key) == expected[key]
    for key, rows in expected.items():
        assert index.rows(key) == rows
    assert index.rows(12345678901) == expected.get(12345678901, [])
    assert len(index) == len(keys)


def test_merged_rows_sit_in_sorted_arrays_and_few_in_the_dict() -> None:
    index = KeyIndex(merge_at=4)
    for row in range(10):
        index.add(row % 3, row)
    keys, rows, recent = index._state
    assert len(rows) == len(keys)
    assert keys.tolist() == sorted(keys.tolist())
    assert len(keys) == 10 - sum(1 if isinstance(r, int) else len(r) for r in recent.values())
    assert index.rows(0) == [0, 3, 6, 9]


def test_rows_sharing_few_keys_are_merged_too() -> None:
    index = KeyIndex(merge_at=8)
    for row in range(100):
        index.add(row % 2, row)
    keys, _, recent = index._state
    assert len(keys) == 96
    assert sum(len(r) for r in recent.values() if isinstance(r, list)) == 4
    assert index.rows(1) == list(range(1, 100, 2))


@given(
    keys=st.lists(st.sampled_from([0, 1, -1, 2**63 - 1, -(2**63)]), max_size=200),
    merge_at=st.integers(min_value=1, max_value=8),
    asked=st.lists(st.sampled_from([0, 1, -1, 2**63 - 1, -(2**63), 7]), max_size=4),
)
def test_parts_are_the_rows_of_each_key_older_then_newer(
    keys: list[int], merge_at: int, asked: list[int]
) -> None:
    index = KeyIndex(merge_at)
    for row, key in enumerate(keys):
        index.add(key, row)
    found = index.parts(asked)
    assert len(found) == len(asked)
    for key, (older, newer) in zip(asked, found, strict=True):
        assert [*older.tolist(), *newer] == index.rows(key)


@given(
    chunks=st.lists(
        st.lists(st.one_of(_keys, st.sampled_from([0, 1, -1])), max_size=20), max_size=12
    ),
    merge_at=st.integers(min_value=1, max_value=40),
)
def test_runs_added_at_once_file_what_adding_one_by_one_files(
    chunks: list[list[int]], merge_at: int
) -> None:
    """``add_many`` (distinct new keys at once, else one by one) answers as ``add``:
    keys repeated within a run, or already filed among the recent rows, included."""
    at_once, one_by_one = KeyIndex(merge_at), KeyIndex(merge_at)
    row = 0
    for chunk in chunks:
        at_once.add_many(chunk, row)
        for key in chunk:
            one_by_one.add(key, row)
            row += 1
        for key in {*chunk, 0, 1, -1}:
            assert at_once.rows(key) == one_by_one.rows(key)
    assert len(at_once) == len(one_by_one) == row


@given(
    runs=st.lists(
        st.tuples(st.sampled_from([0, 1, -1]), st.integers(min_value=1, max_value=9)),
        max_size=12,
    ),
    merge_at=st.integers(min_value=1, max_value=30),
)
def test_a_run_of_one_key_files_what_adding_one_by_one_files(
    runs: list[tuple[int, int]], merge_at: int
) -> None:
    """A run whose rows all share one key (look-alikes reported together) is filed at
    once: onto no row, one row or several already filed under it, across merges."""
    at_once, one_by_one = KeyIndex(merge_at), KeyIndex(merge_at)
    row = 0
    for key, count in runs:
        at_once.add_many([key] * count, row)
        for _ in range(count):
            one_by_one.add(key, row)
            row += 1
        for each in (0, 1, -1):
            assert at_once.rows(each) == one_by_one.rows(each)
    assert len(at_once) == len(one_by_one) == row
