"""64-bit keys to table rows, in 12 bytes per row.

A ``dict`` from a key to a row costs about 100 bytes per entry in Python (the
entry, the key's ``int``, the row's ``int``); at ten million events that is a
gigabyte. Here most entries live in two sorted numpy arrays (the keys, and the
rows in the same order), and only the latest few in a ``dict`` (``recent``),
merged into the arrays when it holds ``MERGE_AT`` rows (rows, not keys: the
duplicates' keys are shared by many rows) (a sorted merge: a
copy of the arrays, tens of milliseconds at ten million rows).

Appends come from the projection's single thread; readers read without a lock.
A merge builds new arrays and an empty ``dict`` and publishes the three in one
assignment, so a reader sees either the state before it or after it, whole.
"""

import numpy as np
import numpy.typing as npt

MERGE_AT = 65_536

_State = tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], dict[int, int | list[int]]]


class KeyIndex:
    """The rows added under each key, in the order added (rows grow)."""

    def __init__(self, merge_at: int = MERGE_AT) -> None:
        self._merge_at = merge_at
        self._state: _State = (np.empty(0, np.int64), np.empty(0, np.int32), {})
        self._pending = 0
        """Rows in ``recent`` (keys shared by many rows count each row)."""

    def add(self, key: int, row: int) -> None:
        """File ``row`` (greater than every row added before) under ``key`` (a signed
        64-bit integer)."""
        recent = self._state[2]
        rows = recent.setdefault(key, row)
        if rows is not row:
            if isinstance(rows, int):
                recent[key] = [rows, row]
            else:
                rows.append(row)
        self._pending += 1
        if self._pending >= self._merge_at:
            self._merge()

    def add_many(self, keys: list[int], first: int) -> None:
        """``add`` of each key in turn, to rows ``first``, ``first + 1``, ... (a run of
        events at once: one call, not one per row)."""
        recent = self._state[2]
        if recent.keys().isdisjoint(keys) and len(set(keys)) == len(keys):
            # keys new to ``recent`` and distinct (the ids' always, but for a collision)
            recent.update(zip(keys, range(first, first + len(keys)), strict=True))
        elif len(keys) > 1 and keys.count(keys[0]) == len(keys):
            # one key for the whole run (look-alikes reported together)
            self._add_run(recent, keys[0], first, len(keys))
        else:
            self._add_each(recent, keys, first)
        self._pending += len(keys)
        if self._pending >= self._merge_at:
            self._merge()

    @staticmethod
    def _add_run(recent: dict[int, int | list[int]], key: int, first: int, count: int) -> None:
        """Rows ``first`` to ``first + count - 1`` filed under one ``key``."""
        rows = recent.get(key)
        new = range(first, first + count)
        if rows is None:
            recent[key] = list(new)
        elif isinstance(rows, int):
            recent[key] = [rows, *new]
        else:
            rows.extend(new)

    @staticmethod
    def _add_each(recent: dict[int, int | list[int]], keys: list[int], first: int) -> None:
        setdefault = recent.setdefault
        for row, key in enumerate(keys, first):
            rows = setdefault(key, row)
            if rows is not row:
                if isinstance(rows, int):
                    recent[key] = [rows, row]
                else:
                    rows.append(row)

    def rows(self, key: int) -> list[int]:
        """Every row filed under ``key``, ascending."""
        keys, rows, recent = self._state
        start = int(keys.searchsorted(key, "left"))
        end = int(keys.searchsorted(key, "right"))
        found: list[int] = rows[start:end].tolist() if end > start else []
        latest = recent.get(key)
        if latest is None:
            return found
        return [*found, latest] if isinstance(latest, int) else [*found, *latest]

    def parts(self, keys: list[int]) -> list[tuple[npt.NDArray[np.int32], list[int]]]:
        """``rows`` of each key without copying the merged ones: those (older, a view
        of the arrays) and the recent ones, each ascending. A key filed under by most
        rows (look-alikes by the thousand) costs a lookup, not a list of them all;
        the keys are looked up together (one ``searchsorted`` a side)."""
        merged, rows, recent = self._state
        wanted = np.array(keys, np.int64)
        starts = merged.searchsorted(wanted, "left").tolist()
        ends = merged.searchsorted(wanted, "right").tolist()
        found = []
        for key, start, end in zip(keys, starts, ends, strict=True):
            latest = recent.get(key)
            newer = [] if latest is None else [latest] if isinstance(latest, int) else latest
            found.append((rows[start:end], newer))
        return found

    def __len__(self) -> int:
        keys, _, recent = self._state
        return len(keys) + sum(1 if isinstance(r, int) else len(r) for r in recent.values())

    def _merge(self) -> None:
        keys, rows, recent = self._state
        if self._pending == len(recent):  # a row per key: the values are the rows
            new_keys = np.fromiter(recent.keys(), np.int64, len(recent))
            new_rows = np.fromiter(recent.values(), np.int32, len(recent))
        else:
            pairs = [
                (key, row)
                for key, filed in recent.items()
                for row in ((filed,) if isinstance(filed, int) else filed)
            ]
            new_keys = np.fromiter((k for k, _ in pairs), np.int64, len(pairs))
            new_rows = np.fromiter((r for _, r in pairs), np.int32, len(pairs))
        order = np.lexsort((new_rows, new_keys))
        new_keys, new_rows = new_keys[order], new_rows[order]
        # after any equal keys already there: their rows are all older
        at = keys.searchsorted(new_keys, "right")
        self._state = (np.insert(keys, at, new_keys), np.insert(rows, at, new_rows), {})
        self._pending = 0
