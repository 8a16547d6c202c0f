"""Running the app under uvicorn: bounded request reading, our own access log,
and a SIGTERM that drains and exits 0.

uvicorn closes idle keep-alive connections (``timeout_keep_alive``) but puts no
bound on how long a client may take to send a request: a client that opens a
connection and trickles its headers (or its body) holds it for ever. The
protocol below closes a connection whose request is not complete (headers and
body) ``request_timeout_s`` after it began, answering 408 if nothing was answered
yet, and one whose headers exceed ``max_header_bytes`` (431).

On SIGTERM uvicorn stops listening, lets in-flight requests finish (up to
``shutdown_timeout_s``), then runs the lifespan's shutdown: the group committer
commits what was submitted, the projection stops after the last position it
applied, the store closes. uvicorn then re-raises the signal so that the
process dies of it (exit -15); the handler installed here beforehand makes that
re-raise a no-op, so a clean shutdown exits 0.
"""

import asyncio
import ipaddress
import logging
import signal
import socket
import sys
from types import FrameType
from typing import Any

import uvicorn
from litestar import Litestar
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service.settings import Settings

logger = logging.getLogger("service.serving")

_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-length: 0\r\nconnection: close\r\n\r\n"
)


class BoundedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for receiving each request
    and a bound on the size of its headers (set by ``bounded_protocol``)."""

    request_timeout_s: float = 30.0
    max_header_bytes: int = 16 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._receiving = False  # a request has begun and is not complete yet
        self._in_headers = False
        self._header_bytes = 0
        self._tail = b""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._begin()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._receiving:
            self._begin()
        if self._in_headers:
            seen = self._tail + data  # the blank line may straddle two reads
            end = seen.find(b"\r\n\r\n")
            self._header_bytes += len(data) if end < 0 else end + 4 - len(self._tail)
            self._tail = seen[-3:]
            if self._header_bytes > self.max_header_bytes:
                self._reject(_TOO_LARGE)
                return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._in_headers = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._receiving = False
        self._disarm()
        super().on_message_complete()

    def _begin(self) -> None:
        self._receiving = True
        self._in_headers = True
        self._header_bytes = 0
        self._tail = b""
        self._disarm()
        self._deadline = self.loop.call_later(self.request_timeout_s, self._timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self) -> None:
        self._deadline = None
        logger.info("closed a connection whose request was not complete in time")
        self._reject(_TIMEOUT)

    def _reject(self, answer: bytes) -> None:
        self._disarm()
        if self.transport.is_closing():
            return
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(answer)
        self.transport.close()


def bounded_protocol(settings: Settings) -> type[asyncio.Protocol]:
    return type(
        "BoundedHttpProtocol",
        (BoundedHttpProtocol,),
        {
            "request_timeout_s": settings.request_timeout_s,
            "max_header_bytes": settings.max_header_bytes,
        },
    )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _already_shut_down(signum: int, frame: FrameType | None) -> None:
    """uvicorn re-raises the signal it shut down on; it has been handled."""


def share_interpreter(settings: Settings) -> None:
    """Let the event loop take the interpreter back from the CPU-bound worker threads
    every ``gil_switch_interval_s`` (see ``Settings``)."""
    sys.setswitchinterval(settings.gil_switch_interval_s)


def uvicorn_config(app: Any, settings: Settings) -> uvicorn.Config:
    """uvicorn's settings for ``app``: uvloop (named, so that a missing uvloop stops the
    server instead of leaving it on asyncio's own loop, as uvicorn's ``auto`` would),
    the bounded httptools protocol, and no access log of uvicorn's (``Observe`` writes
    ours)."""
    return uvicorn.Config(
        app,
        loop="uvloop",
        host=settings.host,
        port=settings.port,
        http=bounded_protocol(settings),
        log_config=None,
        log_level="info",
        access_log=False,
        server_header=False,
        timeout_keep_alive=settings.keep_alive_s,
        limit_concurrency=settings.max_connections,
        timeout_graceful_shutdown=settings.shutdown_timeout_s,
    )


def running_on(config: uvicorn.Config) -> dict[str, str]:
    """The event loop this thread runs and the HTTP parser of ``config``'s protocol."""
    loop = type(asyncio.get_running_loop())
    protocol = config.http_protocol_class
    parser = "httptools" if issubclass(protocol, HttpToolsProtocol) else protocol.__name__
    return {"loop": f"{loop.__module__}.{loop.__qualname__}", "http": parser}


class Server(uvicorn.Server):
    """uvicorn's server, saying at startup which loop and HTTP parser serve requests."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        found = running_on(self.config)
        logger.info("serving on %s with %s", found["loop"], found["http"], extra={"fields": found})
        await super().startup(sockets)


def serve(app: Litestar, settings: Settings) -> None:
    share_interpreter(settings)
    config = uvicorn_config(app, settings)
    signal.signal(signal.SIGTERM, _already_shut_down)
    Server(config).run()
