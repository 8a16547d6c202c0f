"""Per request: a request id, the access log line and the request metrics.

The id is the client's ``X-Request-ID`` when it is sane (1..128 of
``[A-Za-z0-9._:-]``), else a new one; it is returned in ``X-Request-ID`` and is
on every log line written while serving the request. The access line holds the
method, the route template, the status, the time taken and the id: never a
body, a query string or a header value.
"""

import itertools
import logging
import re
from time import perf_counter
from uuid import uuid4

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from service.jsonlog import request_id
from service.web.httpedges import request_method
from service.web.metrics import Metrics

access = logging.getLogger("tradewinds.access")
REQUEST_ID = b"x-request-id"
_SANE_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
# New ids: this process's random prefix and a counter (unique across replicas in
# practice, and cheaper per request than a uuid4).
_PREFIX = uuid4().hex[:16]
_numbers = itertools.count(1)
NO_RESPONSE = 499  # the client went away before an answer (nginx's "client closed request")


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == REQUEST_ID:
            return value.decode() if _SANE_ID.match(value) else None
    return None


class Observe(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    def __init__(self, metrics: Metrics, *, access_log: bool = True) -> None:
        self.metrics = metrics
        self.access_log = access_log

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        started = perf_counter()
        rid = _incoming_id(scope) or f"{_PREFIX}{next(_numbers):016x}"
        token = request_id.set(rid)
        status = NO_RESPONSE
        id_header = (REQUEST_ID, rid.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        try:
            await next_app(scope, receive, send_with_id)
        except BaseException:
            status = 500 if status == NO_RESPONSE else status
            raise
        finally:
            seconds = perf_counter() - started
            method = request_method(scope)
            route = scope.get("path_template") or "unmatched"
            self.metrics.observe_request(method, route, status, seconds)
            if self.access_log:
                access.info(
                    "%s %s %d",
                    method,
                    route,
                    status,
                    extra={
                        "fields": {
                            "method": method,
                            "route": route,
                            "path": scope["path"],
                            "status": status,
                            "duration_ms": round(seconds * 1000, 3),
                        }
                    },
                )
            request_id.reset(token)
