"""Load for the read side, on raw keep-alive sockets like ``benchmarks.httpload``.

``httpload`` finds the end of every answer by its ``Content-Length``; a 304 has none
(it never has a body), so the GET load here reads the status first. The append-then-read
pairs are paced (open loop): each pair starts at its scheduled time on an idle connection
of a pool that grows when all are busy, so a slow answer does not delay the next pair.
"""

import asyncio
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import msgspec

from benchmarks.httpload import LoadResult

_HEADER_END = b"\r\n\r\n"
_NO_BODY = frozenset({204, 304})

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def get_request(host: str, port: int, path: str, headers: Mapping[str, str] | None = None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    msg = f"response without Content-Length: {head[:200]!r}"
    raise ValueError(msg)


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(_HEADER_END)
    status = int(head[9:12])
    if status in _NO_BODY or status < 200:
        return status, b""
    return status, await reader.readexactly(_content_length(head[:-4]))


async def _connect(host: str, port: int) -> Connection:
    reader, writer = await asyncio.open_connection(host, port)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return reader, writer


def _check(status: int, body: bytes, expect: int) -> None:
    if status != expect:
        msg = f"unexpected HTTP {status} (expected {expect}): {body[:300]!r}"
        raise RuntimeError(msg)


# --- closed loop: N connections, one request in flight on each ------------------------------


async def _client(
    host: str, port: int, raw: bytes, deadline: float, latencies: list[float], expect: int
) -> None:
    reader, writer = await _connect(host, port)
    try:
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            writer.write(raw)
            status, body = await read_response(reader)
            done = time.perf_counter()
            _check(status, body, expect)
            latencies.append(done - sent)
    finally:
        writer.close()


async def _concurrent(
    host: str, port: int, raw: bytes, clients: int, seconds: float, expect: int
) -> LoadResult:
    latencies: list[float] = []
    cpu0 = time.process_time()
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(
        *(_client(host, port, raw, deadline, latencies, expect) for _ in range(clients))
    )
    elapsed = time.perf_counter() - start
    return LoadResult(len(latencies), elapsed, latencies, time.process_time() - cpu0)


def concurrent_gets(
    host: str, port: int, raw: bytes, *, clients: int, seconds: float, expect: int = 200
) -> LoadResult:
    """``clients`` connections send the same request ``raw`` for ``seconds``, each with one
    in flight; every answer must have status ``expect``."""
    return asyncio.run(_concurrent(host, port, raw, clients, seconds, expect))


# --- open loop: paced append-then-read pairs ----------------------------------------------


class _Position(msgspec.Struct):
    position: int


_position = msgspec.json.Decoder(_Position)


@dataclass
class PairResult:
    """Per pair: from sending the POST to the GET's body, the POST alone, the GET alone."""

    total_s: list[float] = field(default_factory=list)
    post_s: list[float] = field(default_factory=list)
    get_s: list[float] = field(default_factory=list)
    late_s: list[float] = field(default_factory=list)  # start after its scheduled time
    connections: int = 0
    client_cpu_s: float = 0.0
    elapsed_s: float = 0.0


MakePost = Callable[[int], bytes]
MakeGet = Callable[[int, int], bytes]


async def _pair(
    pool: list[Connection],
    host: str,
    port: int,
    i: int,
    make_post: MakePost,
    make_get: MakeGet,
    result: PairResult,
    scheduled: float,
) -> None:
    if pool:
        reader, writer = pool.pop()
    else:
        reader, writer = await _connect(host, port)
        result.connections += 1
    raw = make_post(i)
    sent = time.perf_counter()
    result.late_s.append(sent - scheduled)
    writer.write(raw)
    status, body = await read_response(reader)
    posted = time.perf_counter()
    _check(status, body, 201)
    position = _position.decode(body).position
    writer.write(make_get(i, position))
    status, body = await read_response(reader)
    done = time.perf_counter()
    _check(status, body, 200)
    shown = _position.decode(body).position
    if shown < position:
        msg = f"GET showed position {shown}, before the append's {position}"
        raise RuntimeError(msg)
    result.total_s.append(done - sent)
    result.post_s.append(posted - sent)
    result.get_s.append(done - posted)
    pool.append((reader, writer))


async def _paced(
    host: str, port: int, make_post: MakePost, make_get: MakeGet, rate: float, seconds: float
) -> PairResult:
    result = PairResult()
    pool: list[Connection] = []
    tasks: list[asyncio.Task[None]] = []
    cpu0 = time.process_time()
    start = time.perf_counter()
    count = int(rate * seconds)
    for i in range(count):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(
            asyncio.create_task(_pair(pool, host, port, i, make_post, make_get, result, scheduled))
        )
    await asyncio.gather(*tasks)
    result.elapsed_s = time.perf_counter() - start
    result.client_cpu_s = time.process_time() - cpu0
    for _, writer in pool:
        writer.close()
    return result


def paced_pairs(
    host: str,
    port: int,
    make_post: MakePost,
    make_get: MakeGet,
    *,
    rate: float,
    seconds: float,
) -> PairResult:
    """``rate`` pairs per second for ``seconds``: ``POST make_post(i)`` (201, a receipt with
    ``position``), then on the same connection ``GET make_get(i, position)`` (200, a body
    whose ``position`` is at least the receipt's)."""
    return asyncio.run(_paced(host, port, make_post, make_get, rate, seconds))
