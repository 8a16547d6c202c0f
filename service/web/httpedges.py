"""HTTP at the edges, in front of litestar's router: ``HEAD``, ``OPTIONS`` and ``Host``.

litestar 2 routes a method only to a handler declared for it, so ``HEAD`` on a
``GET`` route is a 405; its automatic ``OPTIONS`` answer lists the methods of
the first handler registered on a path only (litestar-org/litestar#4169, fixed
in 3.0); and a request without ``Host`` is served. Routing happens before
litestar's middleware (which sees the matched handler), so this wraps the
router itself (``install``):

- ``HEAD`` is routed as ``GET`` (same handler, same scope needed, same status
  and headers, ``Content-Length`` included) and the answer ends after its
  headers: the body is never sent, and a streaming handler sees the client
  leave. The access log and metrics say ``HEAD`` (``request_method``).
- An ``Allow`` header (a 405, or an ``OPTIONS`` answer) lists every method of
  the path, with ``HEAD`` wherever ``GET`` is.
- An HTTP/1.1 request without exactly one ``Host`` header is a 400 (RFC 9112
  §3.2); litestar already refuses a malformed value. HTTP/1.0 may omit it.
"""

from collections.abc import Iterable
from typing import Any, cast

from litestar import Litestar, Request
from litestar.enums import ScopeType
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from service.web.problems import problem

_HEAD = "tradewinds.head"  # set in the scope of a HEAD request routed as GET
_HOST = b"host"
_ALLOW = b"allow"


def request_method(scope: Scope) -> str:
    """The method the client sent (``HEAD`` for one routed as ``GET``)."""
    if cast("dict[str, Any]", scope).get(_HEAD):
        return "HEAD"
    return str(scope["method"])  # type: ignore[typeddict-item]  # HTTP scopes only


def _allowed(methods: Iterable[str]) -> str:
    found = set(methods)
    if "GET" in found:
        found.add("HEAD")
    return ", ".join(sorted(found))


class HttpEdges:
    """The ASGI app that wraps litestar's router (see the module docstring)."""

    def __init__(self, router: ASGIApp, app: Litestar) -> None:
        self._router = router
        self._app = app
        self._methods: dict[str, set[str]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self._router(scope, receive, send)
            return
        if scope.get("http_version") == "1.1":
            hosts = len([name for name, _ in scope["headers"] if name == _HOST])
            if hosts != 1:
                detail = "no Host header" if hosts == 0 else "more than one Host header"
                await self._refuse(scope, receive, send, f"{detail}: HTTP/1.1 needs exactly one")
                return
        if scope["method"] == "HEAD":
            await self._head(scope, receive, send)
        else:
            await self._router(scope, receive, self._complete_allow(scope, send))

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, detail: str) -> None:
        request: Request[Any, Any, Any] = Request(scope, receive)
        response = problem(400, detail, headers={"Connection": "close"})
        await response.to_asgi_response(app=None, request=request)(scope, receive, send)

    async def _head(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Route as GET; end the answer after its headers and drop whatever follows.

        The server keeps its own scope (method ``HEAD``), so it sends no body and
        expects none; once the answer is complete its ``receive`` says the client
        left, which ends a streaming handler."""
        as_get = cast("Scope", {**scope, "method": "GET", _HEAD: True})
        ended = False
        send_allow = self._complete_allow(as_get, send)

        async def headers_only(message: Message) -> None:
            nonlocal ended
            if ended:
                return
            if message["type"] == "http.response.start":
                await send_allow(message)
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                ended = True

        await self._router(as_get, receive, headers_only)

    def _complete_allow(self, scope: Scope, send: Send) -> Send:
        """``send`` that completes the ``Allow`` of an OPTIONS answer or a 405."""
        options = scope["method"] == "OPTIONS"  # type: ignore[typeddict-item]  # HTTP only

        async def send_complete_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and (options or message["status"] == 405):
                message["headers"] = self._with_allow(scope, list(message.get("headers") or ()))
            await send(message)

        return send_complete_allow

    def _with_allow(self, scope: Scope, headers: list[tuple[bytes, bytes]]) -> list[Any]:
        """The headers with ``Allow`` (if there is one) listing every method of the
        matched path (the router sets ``path_template`` on a match), or, without a
        match, the methods it named, with ``HEAD`` wherever there is ``GET``."""
        named = [
            m.strip() for n, v in headers if n.lower() == _ALLOW for m in v.decode().split(",")
        ]
        if not named:
            return headers
        kept = [(n, v) for n, v in headers if n.lower() != _ALLOW]
        template = cast("dict[str, Any]", scope).get("path_template")
        methods = self._path_methods().get(template, set()) if template else set()
        return [*kept, (_ALLOW, _allowed([*methods, *named]).encode())]

    def _path_methods(self) -> dict[str, set[str]]:
        """Every HTTP method of each route path (built on first use, when all routes
        are registered)."""
        if self._methods is None:
            methods: dict[str, set[str]] = {}
            for route in self._app.routes:
                if isinstance(route, HTTPRoute):
                    methods.setdefault(route.path_format, set()).update(route.methods)
            self._methods = methods
        return self._methods


def install(app: Litestar) -> None:
    """Put ``HttpEdges`` in front of the app's router (and litestar's error handling
    around routing, so a 404 or 405 passes through it too)."""
    app.asgi_handler = HttpEdges(app.asgi_handler, app)
