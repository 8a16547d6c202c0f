"""Liveness and readiness, answered from memory (never a round trip to the store).

Live: every worker thread the service needs is running (``service.workers.registry``); a
dead one fails it, naming the thread, so the orchestrator restarts the process.
A store that is down does not fail it: a restart would not bring the store back,
and the service recovers by itself when the store does.

Ready: the index has caught up with the store, the projection is following it,
and the store takes writes (the last commit did not fail for want of the store or
of disk space, or the writer's own probe found it back).
"""

from litestar import Response, get
from litestar.openapi.datastructures import ResponseSpec

from service.access import PUBLIC, needs
from service.web.deps import TradewindsDep
from service.web.schemas import Health
from service.wire import Wire


class Liveness(Wire, omit_defaults=True):
    status: str
    dead: list[str] = []


@get(
    "/health/live",
    tags=["operations"],
    summary="The process is up and its worker threads run",
    opt=needs(PUBLIC),
    responses={
        503: ResponseSpec(
            data_container=Liveness,
            description="a worker thread has died: restart the process",
            generate_examples=False,
        )
    },
)
async def live(tradewinds: TradewindsDep) -> Response[Liveness]:
    dead = tradewinds.dead_workers()
    if dead:
        return Response(Liveness(status="failed", dead=dead), status_code=503)
    return Response(Liveness(status="live"), status_code=200)


@get(
    "/health/ready",
    tags=["operations"],
    summary="Caught up with the store, following it, and the store takes writes",
    opt=needs(PUBLIC),
    responses={
        503: ResponseSpec(
            data_container=Health,
            description="catching up, the projection is restarting, or the store is "
            "unavailable or full",
            generate_examples=False,
        )
    },
)
async def ready(tradewinds: TradewindsDep) -> Response[Health]:
    why = tradewinds.not_ready_because()
    body = Health(
        status="ready" if why is None else why[0],
        position=tradewinds.position,
        head_at_start=tradewinds.head_at_start,
        details=None if why is None else {"reason": why[1]},
    )
    return Response(body, status_code=200 if why is None else 503)
