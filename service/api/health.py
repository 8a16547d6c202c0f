"""Liveness and readiness (ready once the index has caught up with the store at start)."""

from litestar import Response, get
from litestar.openapi.datastructures import ResponseSpec

from service.access import PUBLIC, needs
from service.api.deps import Log
from service.api.schemas import Health


@get("/health/live", tags=["operations"], summary="The process is up", opt=needs(PUBLIC))
async def live() -> dict[str, str]:
    return {"status": "live"}


@get(
    "/health/ready",
    tags=["operations"],
    summary="Caught up with the store",
    opt=needs(PUBLIC),
    responses={
        503: ResponseSpec(
            data_container=Health, description="not caught up yet", generate_examples=False
        )
    },
)
async def ready(log: Log) -> Response[Health]:
    is_ready = log.ready()
    body = Health(
        status="ready" if is_ready else ("failed" if log.projection_failed else "catching up"),
        position=log.index.position,
        head_at_start=log.head_at_start,
    )
    return Response(body, status_code=200 if is_ready else 503)
