"""Heavy reads: a time budget per read, and the shared slots they wait for.

Every read that is not a cached "now" runs in a worker thread once one of the
``heavy_read_slots`` (an anyio ``CapacityLimiter`` shared by the app) is free,
within ``heavy_read_budget_s``, waiting included; past it, ``ReadOverBudget``
(HTTP 503 with Retry-After). A thread cannot be stopped from outside: the work
calls ``Budget.check`` between its steps.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio
from anyio import to_thread

T = TypeVar("T")
INF = float("inf")


class ReadOverBudget(Exception):
    """A heavy read waited for a slot, or worked, past its budget (HTTP 503 with
    Retry-After): it is stopped rather than left to hold up other reads."""

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after


@dataclass(frozen=True)
class Budget:
    """When a heavy read must be done by (``time.monotonic``); ``check`` is called
    between steps of the work, since a thread cannot be stopped from outside."""

    deadline: float
    seconds: float

    @staticmethod
    def starting(seconds: float) -> "Budget":
        return Budget(time.monotonic() + seconds, seconds)

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            msg = (
                f"this read took longer than its budget of {self.seconds:g} s"
                " (TRADEWINDS_HEAVY_READ_BUDGET_S) and was stopped: other heavy reads"
                " are running, or this one asks for much (a shorter range or a longer"
                " step makes a history cheaper); retry later"
            )
            raise ReadOverBudget(msg, retry_after(self.seconds))


UNLIMITED = Budget(INF, INF)


def retry_after(budget: float) -> int:
    return max(1, min(60, round(budget / 2)))


async def run_heavy(
    limiter: anyio.CapacityLimiter, seconds: float, work: Callable[[Budget], T], *, light: bool
) -> T:
    """``work(budget)`` in a worker thread, once one of the ``limiter``'s slots is free
    (a ``light`` read takes no slot); ReadOverBudget if ``seconds`` pass while
    waiting (or, checked by the work, while working)."""
    budget = Budget.starting(seconds)
    if light:
        budget.check()
        return await to_thread.run_sync(work, budget)
    acquired = False
    with anyio.move_on_after(seconds):
        await limiter.acquire()
        acquired = True
    if not acquired:
        msg = (
            f"every one of the {limiter.total_tokens:g} slots for heavy reads"
            f" (TRADEWINDS_HEAVY_READ_SLOTS) stayed busy for this read's budget of"
            f" {seconds:g} s (TRADEWINDS_HEAVY_READ_BUDGET_S); retry later"
        )
        raise ReadOverBudget(msg, retry_after(seconds))
    try:
        return await to_thread.run_sync(work, budget)
    finally:
        limiter.release()
