"""The service's long-lived worker threads, for a liveness answer that tells the truth.

Each thread the service cannot work without (the writer, the projection
follower, the forecast stream's notifier, the webhook sender, the backtest
runner) is registered with ``Workers.watch``. ``dead()`` names those that have
ended although the service is not stopping: then ``/health/live`` fails and the
orchestrator restarts the process, instead of leaving it up with requests that
can never be served.

``Backoff`` is the delay between a worker's attempts to reach a store that is
down: doubling from ``first`` to ``most``, back to ``first`` after a success.
``owner_name`` and ``wait_for_catch_up`` are what every worker that holds leases
in the log (the backtest runner, the webhook sender) does first.
"""

import os
import socket
import threading
from typing import TYPE_CHECKING
from uuid import uuid4

if TYPE_CHECKING:
    from service.persistence.eventlog import EventLog


class Workers:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}
        self._stopping = threading.Event()

    def watch(self, name: str, thread: threading.Thread) -> None:
        """Watch ``thread`` (started or about to be) under ``name``."""
        with self._lock:
            self._threads[name] = thread

    def stopping(self) -> None:
        """The service is shutting down: threads ending now are not failures."""
        self._stopping.set()

    @property
    def is_stopping(self) -> bool:
        return self._stopping.is_set()

    def dead(self) -> list[str]:
        """The watched threads that have ended (empty while stopping), by name."""
        if self._stopping.is_set():
            return []
        with self._lock:
            threads = list(self._threads.items())
        return sorted(name for name, t in threads if t.ident is not None and not t.is_alive())

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._threads)


class Backoff:
    def __init__(self, first: float = 0.2, most: float = 2.0) -> None:
        self.first = first
        self.most = most
        self._next = first

    def next(self) -> float:
        """The delay before the next attempt (and double the one after)."""
        delay = self._next
        self._next = min(self.most, self._next * 2)
        return delay

    def reset(self) -> None:
        self._next = self.first


def owner_name() -> str:
    """A worker's name in the leases it takes: host, process and a random part (a
    process may run several workers of one kind, and a pid is reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid4().hex[:8]}"


def wait_for_catch_up(eventlog: "EventLog", stopping: threading.Event) -> bool:
    """Wait until the index has applied what the store held at start; False if the
    projection failed or the worker is stopping meanwhile."""
    while not eventlog.caught_up():
        if stopping.wait(0.05) or eventlog.projection_failed:
            return False
    return True
