"""Forecast changes as a stream subscriber receives them: Server-Sent Events.

Event ids: a change caused by records has the id of the newest record the
forecast depends on (its ``position``); a change caused by the tick alone has
the head's position. Several changes can share an id (one event moving several
scenarios; one tick moving all of them): only the last event of such a run
carries ``id:``, so a client cut off inside the run resumes before it and gets
the whole run again (at least once, never a gap).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import msgspec

from service.queries.views import Calibrated, Forecast
from service.wire import Wire


class StreamForecast(Wire):
    """The ``data`` of a ``forecast`` event."""

    scenario_id: str
    probability: float | None
    interval80: tuple[float, float] | None
    interval95: tuple[float, float] | None
    status: Literal["open", "resolved_yes", "resolved_no", "annulled", "expired"]
    position: int
    as_of: datetime
    calibrated: Calibrated | None = None
    """The calibrated numbers at ``as_of`` (``Forecast.calibrated``); null in the
    events replayed to a resuming client (``streamreplay``)."""


def stream_forecast(forecast: Forecast, position: int, as_of: float) -> StreamForecast:
    return StreamForecast(
        scenario_id=forecast.scenario_id,
        probability=forecast.probability,
        interval80=forecast.interval80,
        interval95=forecast.interval95,
        status=forecast.status,
        position=position,
        as_of=datetime.fromtimestamp(as_of, UTC),
        calibrated=forecast.calibrated,
    )


class StreamReset(Wire):
    """The ``data`` of a ``reset`` event: the forecast events that follow (up to the
    next event with an id) are the whole current state at ``position``."""

    position: int
    reason: Literal["start", "horizon", "ahead"]


_encoder = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class Served:
    """What was served for one scenario, and why it changed."""

    forecast: StreamForecast
    event_id: int
    cause: Literal["records", "tick"]

    @property
    def key(self) -> tuple[float | None, str]:
        return (self.forecast.probability, self.forecast.status)

    def encoded(self, *, with_id: bool) -> bytes:
        data = _encoder.encode(self.forecast)
        if with_id:
            return b"event: forecast\nid: %d\ndata: %s\n\n" % (self.event_id, data)
        return b"event: forecast\ndata: %s\n\n" % data


@dataclass(frozen=True, slots=True)
class Change:
    """A scenario's served probability moved: from ``before`` (None: first seen) to
    ``after``, by the records in (``since``, ``after.forecast.position``] or the tick."""

    before: Served | None
    after: Served
    since: int


def sse_run(changes: Iterable[Served]) -> bytes:
    """Encode changes (in id order); ``id:`` only on the last of each run of equal ids."""
    items = list(changes)
    parts = [
        item.encoded(with_id=i + 1 == len(items) or items[i + 1].event_id != item.event_id)
        for i, item in enumerate(items)
    ]
    return b"".join(parts)


def reset_event(
    position: int, reason: Literal["start", "horizon", "ahead"], with_id: bool
) -> bytes:
    data = _encoder.encode(StreamReset(position=position, reason=reason))
    if with_id:
        return b"event: reset\nid: %d\ndata: %s\n\n" % (position, data)
    return b"event: reset\ndata: %s\n\n" % data
