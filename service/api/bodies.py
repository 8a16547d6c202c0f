"""JSON request bodies: the media type, and a strict decode against the route's body type.

litestar converts a body to the handler's ``JSONBody[T]`` with msgspec in lax mode
(``strict=False``), which takes ``0`` for a time, ``"12"`` for a number and
``"true"`` for a boolean, and it reads any media type as JSON. The contract says
those are wrong types (422) and that bodies are JSON, so routes with a JSON body
run this hook first (``before_request`` on their controllers): a body that is not
``application/json`` (or ``+json``) is a 415, one that msgspec cannot decode
strictly into ``T`` raises msgspec's own error, which ``problems`` maps to 400
(not JSON) or 422 (naming the field). litestar's decode then sees only bodies that
pass, so its answer does not change for them.
"""

from functools import cache
from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import HTTPException

BODY = "data"


@cache
def _decoder(body_type: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(body_type)


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def strict_json_body(request: Request[Any, Any, Any]) -> None:
    """``before_request``: 415 unless a body is JSON; strict decode into the body type."""
    body = request.route_handler.parsed_fn_signature.parameters.get(BODY)
    if body is None:
        return
    raw = await request.body()
    if not raw:  # an empty body keeps litestar's own answer (a 400 problem)
        return
    media_type = request.content_type[0]
    if not _is_json(media_type):
        shown = media_type or "no Content-Type"
        msg = f"the body must be application/json, not {shown}"
        raise HTTPException(status_code=415, detail=msg)
    try:
        _decoder(body.annotation).decode(raw)
    except msgspec.ValidationError:
        msgspec.json.decode(raw)  # a body that is not JSON at all is a 400, not a 422
        raise
