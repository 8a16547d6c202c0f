"""Callbacks for when the index reaches a position: how a request on the event loop
learns that its own append has been applied without polling (``asyncio.sleep`` waits
at least a millisecond on epoll, longer than the projection takes)."""

import heapq
import itertools
import threading
from collections.abc import Callable


class PositionWatchers:
    """Each callback runs once, when ``reached`` is told of a position at or past its
    own (on the projection's thread: a callback must only hand over, e.g. with
    ``loop.call_soon_threadsafe``), or at once in ``when`` if already there."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._heap: list[tuple[int, int, Callable[[], None]]] = []
        self._order = itertools.count()

    def when(self, position: int, current: Callable[[], int], callback: Callable[[], None]) -> None:
        """Call ``callback`` once ``current()`` is at least ``position``. ``current`` is
        read under the lock that ``reached`` takes, so a position published just
        before cannot be missed."""
        with self._lock:
            if current() < position:
                heapq.heappush(self._heap, (position, next(self._order), callback))
                return
        callback()

    def reached(self, position: int) -> None:
        """The index has applied everything up to ``position`` (call after publishing it)."""
        with self._lock:
            heap = self._heap
            due = []
            while heap and heap[0][0] <= position:
                due.append(heapq.heappop(heap)[2])
        for callback in due:
            callback()
