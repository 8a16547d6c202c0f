"""A backtest a runner holds: its claim (owner and lease, events on the record, see
``BacktestRecord``) and its progress, which also renews the lease."""

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from domain.records import BacktestRecord, LeaseHeld
from service.persistence.eventlog import EventLog

logger = logging.getLogger("service.backtests")
PROGRESS_STEP = 0.1


class LostLease(Exception):
    """Another runner claimed the backtest after this one's lease expired."""


class StoreUnavailable(Exception):
    """A claim, progress or result could not be written (the database is unreachable)."""


class Claim:
    """A backtest this runner holds: appends its events. After a failed append the
    record is read again from the store (the failed event was applied to the copy in
    memory, which is ahead of the store)."""

    def __init__(self, eventlog: EventLog, owner: str, record: BacktestRecord) -> None:
        self._eventlog = eventlog
        self._owner = owner
        self.record = record
        self._stale = False

    def append(self, change: Callable[[BacktestRecord, datetime], None]) -> None:
        """``LostLease`` if the record moved on; ``StoreUnavailable`` if the store failed."""
        try:
            if self._stale:
                fresh = self._eventlog.get(self.record.id)
                if not isinstance(fresh, BacktestRecord) or fresh.finished:
                    raise LostLease(str(self.record.id))
                if fresh.owner != self._owner:
                    raise LostLease(str(self.record.id))
                self.record, self._stale = fresh, False
            self._eventlog.committer.update(self.record, change)
        except (LostLease, LeaseHeld):
            raise
        except IntegrityError:
            raise LostLease(str(self.record.id)) from None
        except Exception as e:
            self._stale = True
            raise StoreUnavailable(f"{type(e).__name__}: {e}") from e


class Progress:
    """Records a run's progress every ``PROGRESS_STEP``, and renews the lease at least
    every third of it; a write that fails is tried again at the next report. The
    latest fraction is also kept in ``running`` (the runner's, read by the API)."""

    def __init__(
        self, claim: Claim, backtest_id: UUID, lease: timedelta, running: dict[UUID, float]
    ) -> None:
        self._claim = claim
        self._id = backtest_id
        self._running = running
        self._recorded = -1.0
        self._renewed = time.monotonic()
        self.renew_after = lease.total_seconds() / 3

    def report(self, fraction: float) -> None:
        self._running[self._id] = fraction
        step = fraction - self._recorded >= PROGRESS_STEP and fraction < 1.0
        if not step and time.monotonic() - self._renewed < self.renew_after:
            return
        value = round(fraction, 4)
        try:
            self._claim.append(lambda r, at: r.advance(value, at))
        except StoreUnavailable as e:
            logger.warning("backtest %s: progress not recorded (%s)", self._id, e)
            return
        self._recorded = fraction
        self._renewed = time.monotonic()
