"""The open streams: each subscriber's queue, and the registry the notifier serves.

An idle subscriber is one queue and one suspended generator (``events``): no
thread, no timer of its own besides its heartbeat wait. The notifier (another
thread) hands it chunks with ``loop.call_soon_threadsafe``.
"""

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from service.queries.stream import ForecastStream

HEARTBEAT = b": heartbeat\n\n"
CLOSE = None
"""Put on a subscriber's queue: the stream ends (shutdown, or the subscriber fell
too far behind; it reconnects with its Last-Event-ID)."""


@dataclass(eq=False)
class Subscriber:
    """One open stream: its filter, where it resumes from, and its queue."""

    loop: asyncio.AbstractEventLoop
    scenarios: frozenset[str] | None
    after: int | None
    max_queued: int
    queue: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    closed: bool = False

    def watches(self, scenario_id: str) -> bool:
        return self.scenarios is None or scenario_id in self.scenarios

    def offer(self, chunk: bytes | None) -> None:
        """From any thread: queue ``chunk`` (``CLOSE``: end the stream) on the
        subscriber's loop."""
        if self.closed or chunk == b"":
            return
        try:
            self.loop.call_soon_threadsafe(self._put, chunk)
        except RuntimeError:  # the loop is closed
            self.closed = True

    def _put(self, chunk: bytes | None) -> None:
        if self.closed:
            return
        if chunk is CLOSE or self.queue.qsize() >= self.max_queued:
            # ended, or too slow: it resumes from its last id
            self.closed = True
            chunk = CLOSE
        self.queue.put_nowait(chunk)


class Subscribers:
    """The open streams: new ones, waiting for the notifier to queue their first
    chunk (``take_new``, ``admit``), and live ones, which get every change."""

    def __init__(self, max_queued: int, stopping: threading.Event) -> None:
        self.max_queued = max_queued
        self._stopping = stopping
        self._lock = threading.Lock()
        self._live: set[Subscriber] = set()
        self._new: list[Subscriber] = []

    def add(self, scenarios: frozenset[str] | None, after: int | None) -> Subscriber:
        """A new subscriber (from the event loop), closed at once if stopping."""
        subscriber = Subscriber(asyncio.get_running_loop(), scenarios, after, self.max_queued)
        with self._lock:
            if self._stopping.is_set():
                subscriber.closed = True
                subscriber.queue.put_nowait(CLOSE)
                return subscriber
            self._new.append(subscriber)
        return subscriber

    def remove(self, subscriber: Subscriber) -> None:
        subscriber.closed = True
        with self._lock:
            self._live.discard(subscriber)
            if subscriber in self._new:
                self._new.remove(subscriber)

    def end_all(self, *, forget: bool = False) -> None:
        """End every open stream (and with ``forget``, let go of them)."""
        with self._lock:
            for subscriber in [*self._live, *self._new]:
                subscriber.offer(CLOSE)
            if forget:
                self._live.clear()
                self._new.clear()

    @property
    def count(self) -> int:
        return len(self._live) + len(self._new)

    @property
    def waiting(self) -> bool:
        """Whether a new subscriber waits for its first chunk."""
        return bool(self._new)

    def live(self) -> list[Subscriber]:
        with self._lock:
            return list(self._live)

    def take_new(self) -> list[Subscriber]:
        with self._lock:
            new, self._new = self._new, []
        return new

    def admit(self, first: list[tuple[Subscriber, bytes]]) -> None:
        """Queue each new subscriber's first chunk and make it live."""
        with self._lock:
            for subscriber, chunk in first:
                if not subscriber.closed:
                    subscriber.offer(chunk)
                    self._live.add(subscriber)


async def events(
    stream: "ForecastStream", subscriber: Subscriber, heartbeat_s: float, max_s: float
) -> AsyncIterator[bytes]:
    """The subscriber's chunks, with a heartbeat comment whenever it has been idle."""
    deadline = time.monotonic() + max_s
    try:
        yield b"retry: 1000\n\n"
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                chunk = await asyncio.wait_for(subscriber.queue.get(), min(heartbeat_s, left))
            except TimeoutError:
                if time.monotonic() >= deadline:
                    return
                yield HEARTBEAT
                continue
            if chunk is CLOSE:
                return
            yield chunk
    finally:
        stream.unsubscribe(subscriber)
