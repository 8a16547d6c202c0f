"""JSON-lines logs for ``tradewinds serve``: one object per line, with the id of
the request being served (if any) on every line logged while serving it.

Only what a handler passes as ``extra={"fields": {...}}`` is added to a line;
nothing logs request bodies or keys at info level.
"""

import logging
import math
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import msgspec

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_encode = msgspec.json.Encoder().encode


class UtcMilliseconds:
    """``datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")``, the same
    string, with the date and time of day formatted once per second: half the cost of
    a line's formatting was its time (issue 19: an access line per request)."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, created: float) -> str:
        fraction, whole = math.modf(created)
        micros = round(fraction * 1e6)  # as datetime.fromtimestamp rounds
        second = int(whole)
        if micros >= 1_000_000:
            second, micros = second + 1, micros - 1_000_000
        if second != self._second:
            self._prefix = datetime.fromtimestamp(second, UTC).isoformat()[:19]
            self._second = second
        return f"{self._prefix}.{micros // 1000:03d}+00:00"


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._time = UtcMilliseconds()

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self._time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        current = request_id.get()
        if current is not None:
            line["request_id"] = current
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return _encode(line).decode()


def configure_json_logs(level: int = logging.INFO) -> None:
    """Every logger (ours, uvicorn's, litestar's) writes JSON lines to standard error.

    The lines hold no source location, thread or process, so records do not
    collect them (the logging HOWTO's "Optimization"): an access line is logged
    per request."""
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
