"""Operations against real ``tradewinds serve`` processes: the loopback rule without
keys, keys on a public address, JSON logs, slow clients cut off, and a SIGTERM
that finishes the request in flight, refuses new ones and exits 0."""

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

from tests.e2e.helpers import http, list_all, signal
from tests.support.server import TRADEWINDS, ServerProcess, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

KEYS = "e2e-reader:read,e2e-writer:write"
NO_KEYS = {"TRADEWINDS_API_KEYS": "", "TRADEWINDS_API_KEYS_FILE": ""}


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    """Servers a test starts; any still running at the end is killed."""
    started: list[ServerProcess] = []
    yield started
    for server in started:
        server.kill()


def start(
    servers: list[ServerProcess], data_dir: Path, env: dict[str, str], *args: str
) -> ServerProcess:
    server = ServerProcess(data_dir, env=env, extra_args=args)
    servers.append(server)
    return server.start()


def log_lines(server: ServerProcess) -> list[dict[str, object]]:
    return [json.loads(line) for line in server.log_path.read_text().splitlines() if line]


def test_without_keys_it_refuses_a_public_address(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            str(TRADEWINDS),
            "serve",
            *("--host", "0.0.0.0", "--port", str(free_port())),
            *("--data-dir", str(tmp_path / "data")),
        ],
        env={**os.environ, **NO_KEYS},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "refusing to listen on 0.0.0.0 without API keys" in done.stderr


def test_without_keys_it_serves_loopback_and_says_so(
    tmp_path: Path, servers: list[ServerProcess]
) -> None:
    server = start(servers, tmp_path / "data", NO_KEYS)
    with http(server.base_url) as client:
        assert client.get("/v1/events").status_code == 200
    assert server.stop() == 0
    messages = [str(line["message"]) for line in log_lines(server)]
    assert any("no API keys configured" in m and "loopback" in m for m in messages)


def test_with_keys_it_serves_a_public_address_and_checks_them(
    tmp_path: Path, servers: list[ServerProcess]
) -> None:
    server = start(servers, tmp_path / "data", {"TRADEWINDS_API_KEYS": KEYS}, "--host", "0.0.0.0")
    reader = {"Authorization": "Bearer e2e-reader"}
    writer = {"Authorization": "Bearer e2e-writer", "X-Request-ID": "e2e-append-1"}
    with http(server.base_url) as client:
        assert client.get("/v1/events").status_code == 401
        assert client.post("/v1/events", json=signal(), headers=reader).status_code == 403
        appended = client.post("/v1/events", json=signal("e2e payload"), headers=writer)
        assert appended.status_code == 201
        assert appended.headers["x-request-id"] == "e2e-append-1"
        assert client.get("/v1/events", headers=reader).status_code == 200
        assert client.get("/metrics").status_code == 200
    assert server.stop() == 0

    lines = log_lines(server)  # every line is JSON (json.loads above)
    (access,) = [line for line in lines if line.get("request_id") == "e2e-append-1"]
    assert (access["method"], access["route"], access["status"]) == ("POST", "/v1/events", 201)
    text = server.log_path.read_text()
    for secret in ("e2e-reader", "e2e-writer", "e2e payload"):
        assert secret not in text
    assert not any(line["logger"] == "uvicorn.access" for line in lines)


def read_answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


@pytest.mark.parametrize(
    "partial",
    [
        b"GET /v1/events HTTP/1.1\r\nHost: x\r\nX-Slow: ",
        b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 200\r\n\r\n{"kind": ',
    ],
    ids=["headers never finished", "body never finished"],
)
def test_a_client_that_never_finishes_its_request_is_cut_off(
    tmp_path: Path, servers: list[ServerProcess], partial: bytes
) -> None:
    server = start(servers, tmp_path / "data", {**NO_KEYS, "TRADEWINDS_REQUEST_TIMEOUT_S": "1"})
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        sock.sendall(partial)
        answer = read_answer(sock)  # returns only because the server closes the connection
    assert answer.startswith(b"HTTP/1.1 408 ")
    with http(server.base_url) as client:
        assert client.get("/v1/events").json()["events"] == []


def test_headers_over_the_limit_are_refused(tmp_path: Path, servers: list[ServerProcess]) -> None:
    server = start(servers, tmp_path / "data", {**NO_KEYS, "TRADEWINDS_MAX_HEADER_BYTES": "2048"})
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        sock.sendall(b"GET /v1/events HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 4096 + b"\r\n\r\n")
        assert read_answer(sock).startswith(b"HTTP/1.1 431 ")
    with http(server.base_url) as client:
        assert client.get("/v1/events", headers={"X-Fine": "a" * 1000}).status_code == 200


def refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
            return not sock.recv(1024)
    except OSError:
        return True


def test_sigterm_finishes_the_request_in_flight_refuses_new_ones_and_exits_0(
    tmp_path: Path, servers: list[ServerProcess]
) -> None:
    """A POST whose headers the app has read (it answered ``100 Continue``) but whose
    body has not arrived when SIGTERM does: the server stops accepting connections,
    waits for the body, answers 201, exits 0, and the event is in the store."""
    data_dir = tmp_path / "data"
    server = start(servers, data_dir, NO_KEYS)
    body = json.dumps(signal("in flight at SIGTERM", with_id=True)).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        sock.sendall(
            b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Expect: 100-continue\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n"
        )
        assert sock.recv(1024).startswith(b"HTTP/1.1 100 ")
        assert server.process is not None
        server.process.terminate()
        deadline = time.monotonic() + 30
        while not refused(server.port):  # waits for the listening socket to close
            assert time.monotonic() < deadline, "still accepting connections after SIGTERM"
            time.sleep(0.05)
        sock.sendall(body)
        answer = read_answer(sock)
    assert answer.startswith(b"HTTP/1.1 201 "), answer
    receipt = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert server.process.wait(timeout=30) == 0

    again = start(servers, data_dir, NO_KEYS)
    with http(again.base_url) as client:
        (stored,) = list_all(client)
    assert stored["event_id"] == receipt["event_id"] == json.loads(body)["event_id"]
    assert stored["position"] == receipt["position"]


def read_response(sock: BinaryIO, *, head: bool = False) -> tuple[int, dict[str, str], bytes]:
    """One response from a kept-alive connection (a HEAD answer has no body)."""
    status = int(sock.readline().split()[1])
    headers = {}
    while (line := sock.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    length = 0 if head else int(headers.get("content-length", "0"))
    return status, headers, sock.read(length)


def test_http_edges_through_a_real_server(tmp_path: Path, servers: list[ServerProcess]) -> None:
    """HEAD answers like GET without a body (the connection stays usable), OPTIONS lists
    every method, an HTTP/1.1 request without Host is a 400, and a NUL byte in a
    dashboard path is a 404 with no traceback in the log."""
    server = start(servers, tmp_path / "data", NO_KEYS)
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        stream = sock.makefile("rb")
        sock.sendall(b"HEAD /v1/forecasts HTTP/1.1\r\nHost: x\r\n\r\n")
        head_status, head_headers, _ = read_response(stream, head=True)
        sock.sendall(b"GET /v1/forecasts HTTP/1.1\r\nHost: x\r\n\r\n")
        get_status, get_headers, body = read_response(stream)
        sock.sendall(b"HEAD /v1/forecasts/stream HTTP/1.1\r\nHost: x\r\n\r\n")
        stream_status, stream_headers, _ = read_response(stream, head=True)
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(stream)[0] == 200  # the endless stream's HEAD has ended
    assert stream_status == 200
    assert stream_headers["content-type"].startswith("text/event-stream")
    assert (head_status, get_status) == (200, 200)
    assert head_headers["content-length"] == get_headers["content-length"] == str(len(body))
    assert head_headers["content-type"] == get_headers["content-type"] == "application/json"
    with http(server.base_url) as client:
        options = client.options("/v1/events")
        assert options.status_code == 204
        assert {m.strip() for m in options.headers["allow"].split(",")} == {
            "GET",
            "HEAD",
            "OPTIONS",
            "POST",
        }
        nul = client.get("/dashboard/%00")
        assert nul.status_code == 404
        assert nul.headers["content-type"] == "application/problem+json"
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(b"GET /health/live HTTP/1.1\r\n\r\n")
        assert read_answer(sock).startswith(b"HTTP/1.1 400 ")
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(b"GET /health/live HTTP/1.0\r\n\r\n")
        assert read_answer(sock).startswith(b"HTTP/1.1 200 ")
    assert server.stop() == 0
    log = server.log_path.read_text()
    assert "Traceback" not in log
    assert not [line for line in log_lines(server) if line.get("level") == "error"]
