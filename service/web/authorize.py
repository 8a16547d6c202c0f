"""The middleware that enforces each route's scope (``service.access``).

A middleware rather than a litestar guard: a guard is given a copy of the route
handler on every call (and a plain function guard runs in a worker thread),
which costs more than the whole of a cached forecast poll. This reads the
same ``opt`` from the matched handler in the scope, and answers a refusal
through the one error map (``service.web.problems``) itself, inside the
middleware that logs and counts requests and sets ``X-Request-ID``.
"""

from typing import Any

from litestar import Request
from litestar.enums import ScopeType
from litestar.handlers import BaseRouteHandler, HTTPRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, Receive, Scope, Send

from service.access import (
    CALLER_WRITES,
    SCOPE_OPT,
    ApiKeys,
    Forbidden,
    Unauthenticated,
    authorize,
)
from service.access import Scope as KeyScope
from service.web.problems import EXCEPTION_HANDLERS


class Authorize(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    def __init__(self, keys: ApiKeys) -> None:
        self.keys = keys

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        handler = scope["route_handler"]
        granted = None
        try:
            if not _lists_methods(handler):
                granted = authorize(self.keys, handler.opt.get(SCOPE_OPT), scope["headers"])
        except (Unauthenticated, Forbidden) as refused:
            request: Request[Any, Any, Any] = Request(scope, receive)
            response = EXCEPTION_HANDLERS[type(refused)](request, refused)
            await response.to_asgi_response(app=None, request=request)(scope, receive, send)
            return
        if granted is not KeyScope.read:
            await next_app(scope, receive, send)
            return
        token = CALLER_WRITES.set(False)
        try:
            await next_app(scope, receive, send)
        finally:
            CALLER_WRITES.reset(token)


def _lists_methods(handler: BaseRouteHandler) -> bool:
    """litestar's own ``OPTIONS`` answer: public, as the ``Allow`` of a 405 and the
    OpenAPI document are (and a browser's CORS preflight carries no key)."""
    return (
        isinstance(handler, HTTPRouteHandler)
        and handler.http_methods == {"OPTIONS"}
        and handler.fn.__module__ == HTTPRoute.__module__
    )
