"""The projection that applies each record of the log to the index (eventsourcing's
``Projection``; its runner tracks the position)."""

from collections.abc import Callable
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from domain.records import BacktestRecord, EventRecord, ResolutionRecord, ScenarioRecord
from service.projection.alertindex import ALERT_HANDLERS
from service.projection.index import LogIndex


class LogProjection(Projection[LogIndex]):
    """Applies each record of the log to the index, exactly once, in order.

    Dispatch is a dict by event class: ``singledispatchmethod`` rebuilt a
    wrapper on every call, a fifth of the replay time.
    """

    name = "logindex"

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        handler = _HANDLERS.get(type(domain_event))
        if handler is None:
            self.view.skip(tracking)
        else:
            handler(self.view, domain_event, tracking)


def _recorded(view: LogIndex, e: EventRecord.Recorded, tracking: Tracking) -> None:
    view.add_event(e.originator_id, e.body, e.timestamp, tracking)


def _retracted(view: LogIndex, e: EventRecord.Retracted, tracking: Tracking) -> None:
    view.retract_event(e.originator_id, e.reason, e.timestamp, tracking)


def _defined(view: LogIndex, e: ScenarioRecord.Defined, tracking: Tracking) -> None:
    view.add_scenario_version(e.originator_id, e.slug, 1, e.body, e.timestamp, tracking)


def _revised(view: LogIndex, e: ScenarioRecord.Revised, tracking: Tracking) -> None:
    view.add_scenario_version(
        e.originator_id, None, e.originator_version, e.body, e.timestamp, tracking
    )


def _resolved(view: LogIndex, e: ResolutionRecord.Recorded, tracking: Tracking) -> None:
    view.resolve_scenario(e.originator_id, e.slug, e.body, e.timestamp, tracking)


def _resolved_again(view: LogIndex, e: ResolutionRecord.Resolved, tracking: Tracking) -> None:
    view.resolve_scenario(e.originator_id, None, e.body, e.timestamp, tracking)


def _resolution_retracted(
    view: LogIndex, e: ResolutionRecord.Retracted, tracking: Tracking
) -> None:
    view.retract_resolution(e.originator_id, e.reason, e.timestamp, tracking)


def _backtest_requested(view: LogIndex, e: BacktestRecord.Requested, tracking: Tracking) -> None:
    view.request_backtest(e.originator_id, e.body, e.timestamp, tracking)


def _backtest_progressed(view: LogIndex, e: BacktestRecord.Progressed, tracking: Tracking) -> None:
    view.update_backtest(e.originator_id, tracking, progress=e.progress)


def _backtest_finished(view: LogIndex, e: BacktestRecord.Finished, tracking: Tracking) -> None:
    view.update_backtest(e.originator_id, tracking, result=e.body)


def _backtest_failed(view: LogIndex, e: BacktestRecord.Failed, tracking: Tracking) -> None:
    view.update_backtest(e.originator_id, tracking, error=e.error)


_HANDLERS: dict[type, Callable[[LogIndex, Any, Tracking], None]] = {
    BacktestRecord.Requested: _backtest_requested,
    BacktestRecord.Progressed: _backtest_progressed,
    BacktestRecord.Finished: _backtest_finished,
    BacktestRecord.Failed: _backtest_failed,
    EventRecord.Recorded: _recorded,
    EventRecord.Retracted: _retracted,
    ScenarioRecord.Defined: _defined,
    ScenarioRecord.Revised: _revised,
    ResolutionRecord.Recorded: _resolved,
    ResolutionRecord.Resolved: _resolved_again,
    ResolutionRecord.Retracted: _resolution_retracted,
}

_HANDLERS.update(dict.fromkeys(ALERT_HANDLERS, LogIndex.apply_alert_record))
