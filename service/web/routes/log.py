"""``GET /v1/log``: the whole log over HTTP, as the lines of ``tradewinds export``.

Another system mirrors the log without database access: it asks for the lines
after the last position it holds, appends them (``tradewinds import`` reads them),
and asks again. The lines are ``service.commands.exchange.export_entries``' (alert
webhook secrets left out, as ``tradewinds export`` without ``--with-secrets``),
framed by ``jsonlines``; the store is read in chunks in worker threads and each
chunk is sent before the next is read, so a long log neither stalls the event loop
nor sits in memory.
"""

from collections.abc import AsyncIterator, Iterator
from itertools import islice
from typing import Annotated

import msgspec
from anyio import to_thread
from litestar import get
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter
from litestar.response import Stream

from domain.entries import LogEntry
from service.access import Scope, needs
from service.application import Tradewinds
from service.web.deps import TradewindsDep
from service.web.responses import problem_responses

NDJSON = "application/x-ndjson"
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
CHUNK = 500
"""Lines read from the store (in one worker thread) and sent at a time."""

_encoder = msgspec.json.Encoder()

_LOG_DESCRIPTION = (
    "JSON Lines, one record a line in position order, each with `type` and `position`: "
    "exactly the lines of `tradewinds export` (events, event retractions, scenario "
    "versions, resolutions and their retractions, Idempotency-Keys, alert definitions and "
    "deletions; webhook secrets and deliveries are never included). At most `limit` "
    "lines; fewer means the log ends there. To resume, ask again with `after` = the "
    "`position` of the last line received. `tradewinds import FILE` reads the lines."
)


def _chunks(entries: Iterator[LogEntry]) -> Iterator[bytes]:
    """The encoded lines of up to ``CHUNK`` entries at a time (blocking: reads the store)."""
    while chunk := list(islice(entries, CHUNK)):
        yield b"".join(_encoder.encode(entry) + b"\n" for entry in chunk)


async def _lines(tradewinds: Tradewinds, after: int, limit: int) -> AsyncIterator[bytes]:
    entries = islice(tradewinds.log_entries(after, page=min(limit, 1000)), limit)
    chunks = _chunks(entries)
    while (chunk := await to_thread.run_sync(next, chunks, None)) is not None:
        yield chunk


@get(
    "/v1/log",
    summary="The log's records after a position, as JSON Lines (the export's lines)",
    media_type=NDJSON,
    opt=needs(Scope.admin),
    tags=["log"],
    responses={
        200: ResponseSpec(
            data_container=str,
            description=_LOG_DESCRIPTION,
            media_type=NDJSON,
            generate_examples=False,
        ),
        **problem_responses(),
    },
)
async def get_log(
    tradewinds: TradewindsDep,
    after: Annotated[
        int,
        QueryParameter(ge=0, description="only records after this position (exclusive)"),
    ] = 0,
    limit: Annotated[
        int, QueryParameter(ge=1, le=MAX_LIMIT, description="at most this many lines")
    ] = DEFAULT_LIMIT,
) -> Stream:
    return Stream(
        _lines(tradewinds, after, limit),
        media_type=NDJSON,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
