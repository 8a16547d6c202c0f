"""The time of a JSON log line is formatted once per second and completed per line:
the same string ``datetime.isoformat`` writes, at every instant."""

import logging
import math
from datetime import UTC, datetime

import pytest

from service.jsonlog import JsonFormatter, UtcMilliseconds

INSTANTS = [
    0.0,
    1.0,
    1_733_500_000.0,
    1_733_500_000.0005,  # half a millisecond
    1_733_500_000.9994999,
    1_733_500_000.9999995,  # rounds up to the next second
    1_733_500_059.999,
    1_733_529_599.9999996,  # rounds up to the next day
    math.nextafter(1_733_500_001.0, 0.0),
    4_102_444_799.1234567,
]


@pytest.mark.parametrize("created", INSTANTS)
def test_the_time_is_isoformats_to_the_millisecond(created: float) -> None:
    expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    assert UtcMilliseconds()(created) == expected


def test_one_formatter_keeps_the_time_right_across_seconds_and_back() -> None:
    times = UtcMilliseconds()
    for created in [*INSTANTS, *reversed(INSTANTS), 1_733_500_000.25, 1_733_500_000.75]:
        assert times(created) == datetime.fromtimestamp(created, UTC).isoformat(
            timespec="milliseconds"
        )


def test_a_line_carries_the_records_time() -> None:
    record = logging.LogRecord("tradewinds.access", logging.INFO, "", 0, "GET / %d", (200,), None)
    record.created = 1_733_500_000.9999995
    line = JsonFormatter().format(record)
    assert '"time":"2024-12-06T15:46:41.000+00:00"' in line
