"""A tiny webhook receiver on loopback: records what it is sent, answers as told."""

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


class Receiver:
    """``statuses`` are answered in turn (the last one from then on)."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [200])
        self.received: list[Received] = []
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver._changed:
                    status = receiver.statuses[0]
                    if len(receiver.statuses) > 1:
                        receiver.statuses.pop(0)
                    receiver.received.append(Received(dict(self.headers.items()), body))
                    receiver._changed.notify_all()
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def answer(self, status: int) -> None:
        with self._changed:
            self.statuses = [status]

    def wait_for(self, count: int, timeout: float = 60) -> list[Received]:
        """Wait until ``count`` requests arrived (at most ``timeout``; then fail)."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.received) >= count, timeout):
                msg = f"{len(self.received)} webhook requests arrived, expected {count}"
                raise AssertionError(msg)
            return list(self.received)

    def __enter__(self) -> "Receiver":
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
