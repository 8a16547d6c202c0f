"""Load for the read side, on raw keep-alive sockets like ``benchmarks.httpload``.

The closed-loop GET load is ``httpload.concurrent`` with one fixed request. The append-then-read
pairs are paced (open loop): each pair starts at its scheduled time on an idle connection
of a pool that grows when all are busy, so a slow answer does not delay the next pair.
"""

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import msgspec

from benchmarks.httpload import (
    Connection,
    LoadResult,
    check_status,
    concurrent,
    connect,
    read_response,
)


def get_request(host: str, port: int, path: str, headers: Mapping[str, str] | None = None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# --- closed loop: N connections, one request in flight on each ------------------------------


def concurrent_gets(
    host: str, port: int, raw: bytes, *, clients: int, seconds: float, expect: int = 200
) -> LoadResult:
    """``clients`` connections send the same request ``raw`` for ``seconds``, each with one
    in flight; every answer must have status ``expect``."""
    return concurrent(host, port, lambda _: raw, clients=clients, seconds=seconds, expect=expect)


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
        reader, writer = await connect(host, port)
        result.connections += 1
    raw = make_post(i)
    sent = time.perf_counter()
    result.late_s.append(sent - scheduled)
    writer.write(raw)
    status, body = await read_response(reader)
    posted = time.perf_counter()
    check_status(status, body, 201)
    position = _position.decode(body).position
    writer.write(make_get(i, position))
    status, body = await read_response(reader)
    done = time.perf_counter()
    check_status(status, body, 200)
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


# --- paced GETs of several routes, a bounded number in flight ------------------------------


async def _paced_client(
    host: str, port: int, raw: bytes, first: float, interval: float, end: float
) -> list[tuple[float, int]]:
    """One connection: a request every ``interval`` from ``first`` until ``end``, each
    after the previous answer (a late answer delays the next, so the server never has
    more than one request from it). Each answer's latency and status: 200, or 503 (a
    read the server refused past its budget, which counts with its latency)."""
    reader, writer = await connect(host, port)
    latencies: list[tuple[float, int]] = []
    scheduled = first
    try:
        while scheduled < end:
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent = time.perf_counter()
            writer.write(raw)
            status, body = await read_response(reader)
            latencies.append((time.perf_counter() - sent, status))
            if status != 503:
                check_status(status, body, 200)
            scheduled = max(scheduled + interval, time.perf_counter())
    finally:
        writer.close()
    return latencies


async def _paced_gets(
    host: str, port: int, requests: Mapping[str, bytes], rate: float, clients: int, seconds: float
) -> dict[str, list[tuple[float, int]]]:
    start = time.perf_counter()
    interval = clients / rate
    names = list(requests)
    runs = await asyncio.gather(
        *(
            _paced_client(host, port, requests[name], start + k / rate, interval, start + seconds)
            for name in names
            for k in range(clients)
        )
    )
    return {
        name: [x for run in runs[i * clients : (i + 1) * clients] for x in run]
        for i, name in enumerate(names)
    }


def paced_gets(
    host: str,
    port: int,
    requests: Mapping[str, bytes],
    *,
    rate: float,
    seconds: float,
    clients: int = 2,
) -> dict[str, list[tuple[float, int]]]:
    """Each request of ``requests`` about ``rate`` times a second for ``seconds``, spread
    over ``clients`` connections with one request in flight each (a stalled server gets
    fewer requests, not an ever-growing backlog); every answer 200 or 503. Per name,
    the latencies in seconds from sending to the whole body, with each status."""
    return asyncio.run(_paced_gets(host, port, requests, rate, clients, seconds))
