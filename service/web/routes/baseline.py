"""A trivial route for benchmarks: N bytes of JSON, cached, no work.

Off unless ``TRADEWINDS_BENCHMARK_ROUTES=1``; not in the OpenAPI document. The
forecast benchmark compares ``GET /v1/forecasts`` with it in the same server.
"""

from functools import lru_cache
from typing import Annotated

from litestar import Response, get
from litestar.params import QueryParameter


@lru_cache(maxsize=16)
def _payload(size: int) -> bytes:
    return b'{"x":"' + b"x" * max(size - 8, 0) + b'"}'


@get("/_bench/bytes", include_in_schema=False)
async def same_bytes(
    size: Annotated[int, QueryParameter(ge=8, le=10_000_000)] = 1000,
) -> Response[bytes]:
    return Response(_payload(size), media_type="application/json")
