"""The backtest command: record a backtest request (the runner then runs it)."""

from uuid import uuid4

import msgspec

from domain.backtests import BacktestRequest
from domain.records import BacktestRecord
from service.commands.commit import commit, recorded_at_of
from service.persistence.eventlog import EventLog
from service.projection.states import BacktestState

_encoder = msgspec.json.Encoder()


async def request_backtest(eventlog: EventLog, request: BacktestRequest) -> BacktestState:
    """Record the request under a new id; its state as committed (queued), for the
    runner to accept before the index has applied it."""
    backtest_id = uuid4()
    body = _encoder.encode(request).decode()
    (recording,) = await commit(
        eventlog, lambda at: [BacktestRecord.request(backtest_id, body, at)]
    )
    return BacktestState(
        id=backtest_id,
        position=recording.notification.id,
        requested_at=recorded_at_of(recording),
        request=request,
    )
