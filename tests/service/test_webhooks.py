"""Webhook targets: which addresses are refused, and that a delivery connects to the
address that was checked (one resolution per attempt, no second look-up to rebind)."""

import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from service.workers import webhooks
from service.workers.webhooks import RefusedTarget, check_target, post_to_target, resolve_target

NOT_PUBLIC = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # shared address space (RFC 6598)
    "100.127.255.254",
    "0.0.0.0",
    "224.0.0.1",  # multicast
    "192.0.2.1",  # documentation
    "198.18.0.1",  # benchmarking
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fd00::1",
    "ff0e::1",
    "2001:db8::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:100.64.0.1",
    "::ffff:169.254.169.254",
    "::7f00:1",  # IPv4-compatible 127.0.0.1
    "2002:7f00:1::1",  # 6to4 embedding 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 embedding 169.254.169.254
    "2002:6440:1::1",  # 6to4 embedding 100.64.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 embedding 169.254.169.254
    "64:ff9b:1::a00:1",  # local-use NAT64 embedding 10.0.0.1
]
PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "2002:808:808::1",  # 6to4 embedding 8.8.8.8
    "64:ff9b::808:808",
]


def literal_url(address: str) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}:8080/hook"


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_addresses_that_are_not_global_are_refused(address: str) -> None:
    with pytest.raises(RefusedTarget, match="TRADEWINDS_WEBHOOK_ALLOW_PRIVATE"):
        check_target(literal_url(address), allow_private=False)
    check_target(literal_url(address), allow_private=True)


@pytest.mark.parametrize("address", PUBLIC)
def test_global_addresses_are_accepted(address: str) -> None:
    target = resolve_target(literal_url(address), allow_private=False)
    assert [str(a) for a in target.addresses] == [address]


def test_a_name_is_refused_if_any_of_its_addresses_is_not_public(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: ["8.8.8.8", "100.64.0.1"])
    with pytest.raises(RefusedTarget, match=r"100\.64\.0\.1"):
        check_target("https://hooks.example.com/x", allow_private=False)


class Rebinding:
    """A name whose first answer is ``first`` and every later answer ``then``."""

    def __init__(self, first: list[str], then: list[str]) -> None:
        self.answers = [first]
        self.then = then
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        return self.answers.pop(0) if self.answers else self.then


class Receiver:
    """A real HTTP server on 127.0.0.1 that records the Host header of each POST."""

    def __init__(self) -> None:
        self.hosts: list[str | None] = []
        hosts = self.hosts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                hosts.append(self.headers.get("host"))
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def test_the_connection_goes_to_the_address_that_was_checked(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The receiver listens on 127.0.0.1 only; 127.0.0.2 refuses connections.
    rebinding = Rebinding(first=["127.0.0.1"], then=["127.0.0.2"])
    monkeypatch.setattr(webhooks, "resolve", rebinding)
    url = f"http://rebind.invalid:{receiver.port}/hook"
    target = resolve_target(url, allow_private=True)
    with httpx.Client(trust_env=False, timeout=10) as client:
        response = post_to_target(client, target, b"{}", {"Content-Type": "application/json"})
    assert response.status_code == 204
    assert rebinding.calls == [("rebind.invalid", receiver.port)]
    assert receiver.hosts == [f"rebind.invalid:{receiver.port}"]


def test_each_checked_address_is_tried_until_one_connects(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: ["127.0.0.2", "127.0.0.1"])
    target = resolve_target(f"http://hooks.invalid:{receiver.port}/x", allow_private=True)
    with httpx.Client(trust_env=False, timeout=10) as client:
        assert post_to_target(client, target, b"{}", {}).status_code == 204
    assert receiver.hosts == [f"hooks.invalid:{receiver.port}"]


def test_https_names_the_url_host_to_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The TLS server name (and so the certificate check) is the URL's host, not the
    address connected to: seen in the ClientHello by a real TLS listener."""
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: ["127.0.0.1"])
    seen: list[str | None] = []
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)

    def remember(sock: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
        seen.append(name)

    context.sni_callback = remember  # type: ignore[assignment]

    def accept_one() -> None:
        conn, _ = listener.accept()
        try:
            context.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            pass  # no certificate: the handshake fails after the ClientHello
        finally:
            conn.close()

    thread = threading.Thread(target=accept_one, daemon=True)
    thread.start()
    target = resolve_target(f"https://hooks.example.com:{port}/x", allow_private=True)
    with httpx.Client(trust_env=False, timeout=10) as client, pytest.raises(httpx.HTTPError):
        post_to_target(client, target, b"{}", {})
    thread.join(10)
    listener.close()
    assert seen == ["hooks.example.com"]


def make_certificate(directory: Path, name: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for ``name`` signed by it (openssl)."""
    ca_key, ca, key, request, cert = (
        directory / f for f in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem")
    )
    extensions = directory / "server.ext"
    extensions.write_text(f"subjectAltName=DNS:{name}\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for command in (
        ["req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "1", "-subj", "/CN=test CA"],
        ["req", *ec, "-keyout", key, "-out", request, "-subj", f"/CN={name}"],
        ["x509", "-req", "-in", request, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
         "-out", cert, "-days", "1", "-extfile", extensions],
    ):  # fmt: skip
        subprocess.run(["openssl", *map(str, command)], check=True, capture_output=True)
    return ca, cert, key


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_https_verifies_the_certificate_against_the_url_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Connected to 127.0.0.1, the certificate is still checked against the URL's name:
    accepted for the name it was issued to, refused for another name."""
    ca, cert, key = make_certificate(tmp_path, "hooks.example.test")
    receiver = Receiver()
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    receiver.server.socket = server_context.wrap_socket(receiver.server.socket, server_side=True)
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: ["127.0.0.1"])
    trusted = ssl.create_default_context(cafile=str(ca))
    try:
        with httpx.Client(trust_env=False, timeout=10, verify=trusted) as client:
            good = resolve_target(
                f"https://hooks.example.test:{receiver.port}/x", allow_private=True
            )
            assert post_to_target(client, good, b"{}", {}).status_code == 204
            other = resolve_target(
                f"https://other.example.test:{receiver.port}/x", allow_private=True
            )
            with pytest.raises(httpx.ConnectError, match="certificate"):
                post_to_target(client, other, b"{}", {})
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
    assert receiver.hosts == [f"hooks.example.test:{receiver.port}"]
