"""Event drafts: which stored events a draft would be a possible duplicate of,
storing nothing (the dashboard's "looks like" check while an analyst types)."""

from uuid import UUID

from litestar import Controller, post
from litestar.params import JSONBody

from domain.events import WorldEvent
from service.access import Scope, needs
from service.web.bodies import strict_json_body
from service.web.deps import TradewindsDep
from service.web.responses import problem_responses
from service.wire import Wire

DESCRIPTION = (
    "Takes an event body (as POST /v1/events) and stores nothing. Answers the ids of the"
    " stored events it would name as possible_duplicates were it appended now: same kind"
    " and identifying fields, occurred within a day, not retracted; in log order, the"
    " latest ten at most. Validation errors are those of POST /v1/events. Needs the write"
    " scope: only a writer drafts events, and the answer is part of writing one."
)


class DuplicateCheck(Wire):
    possible_duplicates: list[UUID]


class EventDraftsController(Controller):
    path = "/v1/events"
    tags = ["events"]
    before_request = staticmethod(strict_json_body)

    @post(
        "/duplicates",
        status_code=200,
        summary="The possible duplicates of an event draft (stores nothing)",
        description=DESCRIPTION,
        opt=needs(Scope.write),
        responses=problem_responses(415),
    )
    async def duplicates(
        self, data: JSONBody[WorldEvent], tradewinds: TradewindsDep
    ) -> DuplicateCheck:
        return DuplicateCheck(possible_duplicates=await tradewinds.possible_duplicates(data))
