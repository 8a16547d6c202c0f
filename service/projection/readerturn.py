"""The index lock as readers take it: a reader waiting for it gets it before the
projection's next record.

Following the log live, the projection applies one record per call and takes
the lock straight back, so under heavy batches (hundreds of matches per event)
readers otherwise waited seconds for it. Readers count themselves as waiting
(``ReaderTurn.__enter__``); between records the projection waits, briefly and
bounded, until none is (``let_readers_in``).
"""

import threading

READER_TURN_MAX_S = 0.05
"""The longest the projection waits for waiting readers to take the lock (a reader
that was granted it holds it a few ms; this bounds a reader thread slow to run)."""


class ReaderTurn:
    """``LogIndex.reading()``: the index lock, counted as wanted while it is awaited."""

    __slots__ = ("_changed", "_lock", "_waiting")

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._waiting = 0
        self._changed = threading.Condition(threading.Lock())

    def __enter__(self) -> bool:
        with self._changed:
            self._waiting += 1
        self._lock.acquire()
        with self._changed:
            self._waiting -= 1
            if not self._waiting:
                self._changed.notify_all()
        return True

    @property
    def waiting(self) -> int:
        """How many readers wait for the lock now."""
        return self._waiting

    def __exit__(self, *exc: object) -> None:
        self._lock.release()

    def let_readers_in(self) -> None:
        """Called by the projection between records, without the lock: wait
        (briefly, bounded) until every reader waiting for the lock has it."""
        with self._changed:
            if self._waiting:
                self._changed.wait_for(lambda: self._waiting == 0, timeout=READER_TURN_MAX_S)
