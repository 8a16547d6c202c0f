"""``GET /v1/access``: what the presented key may do, so a client (the dashboard)
shows only the forms its key can use rather than forms that can only fail.

Public, like health: it says nothing about any key but the one presented.
"""

from collections.abc import Iterable

from litestar import Request, get
from litestar.handlers import HTTPRouteHandler

from service.access import PUBLIC, ApiKeys, Scope, needs, presented_key
from service.wire import Wire


class Access(Wire):
    """``scope`` is what the presented key may do (``read`` < ``write`` <
    ``admin``); with no keys configured every route is open, so ``admin``.
    ``presented`` tells a key the service does not know (``scope`` null) from
    no key at all."""

    keys_required: bool
    presented: bool
    scope: str | None


def access_of(keys: ApiKeys, headers: Iterable[tuple[bytes, bytes]]) -> Access:
    if not keys:
        return Access(keys_required=False, presented=False, scope=Scope.admin.name)
    key = presented_key(headers)
    scope = keys.scope_of(key) if key is not None else None
    return Access(
        keys_required=True,
        presented=key is not None,
        scope=scope.name if scope is not None else None,
    )


def access_route(keys: ApiKeys) -> HTTPRouteHandler:
    @get(
        "/v1/access",
        opt=needs(PUBLIC),
        tags=["operations"],
        summary="What the presented API key may do (its scope), or that none is needed",
    )
    async def access(request: Request) -> Access:  # type: ignore[type-arg]
        return access_of(keys, request.scope["headers"])

    return access
