"""A small HTTP/1.1 keep-alive load generator on raw sockets.

httpx costs a few hundred microseconds of client CPU per request, as much as
the server's own work for a single append, so the load generator writes
pre-built requests to the socket and parses only the status line and
Content-Length of each answer. The client's CPU time is measured with every
run, so a report can show whether the client, not the server, was the limit.
"""

import asyncio
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

MakeRequest = Callable[[int], bytes]
Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]
_HEADER_END = b"\r\n\r\n"
_NO_BODY = frozenset({204, 304})


def post_request(host: str, port: int, path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    msg = f"response without Content-Length: {head[:200]!r}"
    raise ValueError(msg)


def _status(head: bytes) -> int:
    return int(head[9:12])


class HttpConnection:
    """One keep-alive connection on a blocking socket."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buffer = bytearray()

    def request(self, raw: bytes) -> tuple[int, bytes]:
        self.sock.sendall(raw)
        buffer = self._buffer
        while (end := buffer.find(_HEADER_END)) < 0:
            self._receive()
        head = bytes(buffer[:end])
        total = end + 4 + _content_length(head)
        while len(buffer) < total:
            self._receive()
        body = bytes(buffer[end + 4 : total])
        del buffer[:total]
        return _status(head), body

    def _receive(self) -> None:
        chunk = self.sock.recv(262144)
        if not chunk:
            msg = "server closed the connection"
            raise ConnectionError(msg)
        self._buffer += chunk

    def close(self) -> None:
        self.sock.close()


@dataclass
class LoadResult:
    requests: int
    elapsed_s: float
    latencies_s: list[float]
    client_cpu_s: float
    errors: int = 0

    @property
    def rate(self) -> float:
        return self.requests / self.elapsed_s


def check_status(status: int, body: bytes, expect: int) -> None:
    if status != expect:
        msg = f"unexpected HTTP {status} (expected {expect}): {body[:300]!r}"
        raise RuntimeError(msg)


async def connect(host: str, port: int) -> Connection:
    reader, writer = await asyncio.open_connection(host, port)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return reader, writer


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Status and body of one answer; a 204/304 (or 1xx) has no body to wait for."""
    head = await reader.readuntil(_HEADER_END)
    status = int(head[9:12])
    if status in _NO_BODY or status < 200:
        return status, b""
    return status, await reader.readexactly(_content_length(head[:-4]))


def sequential(
    host: str,
    port: int,
    make_request: MakeRequest,
    *,
    seconds: float,
    max_requests: int = 1_000_000,
    expect: int = 201,
) -> LoadResult:
    """One client, one request at a time, until ``seconds`` pass or ``max_requests``."""
    conn = HttpConnection(host, port)
    latencies: list[float] = []
    try:
        cpu0 = time.process_time()
        start = time.perf_counter()
        deadline = start + seconds
        now = start
        i = 0
        while now < deadline and i < max_requests:
            raw = make_request(i)
            sent = time.perf_counter()
            status, body = conn.request(raw)
            now = time.perf_counter()
            check_status(status, body, expect)
            latencies.append(now - sent)
            i += 1
        elapsed = now - start
        cpu = time.process_time() - cpu0
    finally:
        conn.close()
    return LoadResult(len(latencies), elapsed, latencies, cpu)


async def _client(
    host: str,
    port: int,
    make_request: MakeRequest,
    first: int,
    stride: int,
    deadline: float,
    latencies: list[float],
    expect: int,
) -> None:
    reader, writer = await connect(host, port)
    i = first
    try:
        while time.perf_counter() < deadline:
            raw = make_request(i)
            sent = time.perf_counter()
            writer.write(raw)
            status, body = await read_response(reader)
            done = time.perf_counter()
            check_status(status, body, expect)
            latencies.append(done - sent)
            i += stride
    finally:
        writer.close()


async def _concurrent(
    host: str, port: int, make_request: MakeRequest, clients: int, seconds: float, expect: int
) -> LoadResult:
    latencies: list[float] = []
    cpu0 = time.process_time()
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(
        *(
            _client(host, port, make_request, k, clients, deadline, latencies, expect)
            for k in range(clients)
        )
    )
    elapsed = time.perf_counter() - start
    return LoadResult(len(latencies), elapsed, latencies, time.process_time() - cpu0)


def concurrent(
    host: str,
    port: int,
    make_request: MakeRequest,
    *,
    clients: int,
    seconds: float,
    expect: int = 201,
) -> LoadResult:
    """``clients`` connections, each with one request in flight, for ``seconds``.

    Requests still in flight at the deadline are completed and counted, and the
    elapsed time runs until the last answer."""
    return asyncio.run(_concurrent(host, port, make_request, clients, seconds, expect))
