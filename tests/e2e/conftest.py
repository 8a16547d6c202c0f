"""Real ``tradewinds serve`` processes for the end-to-end tests."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.server import ServerProcess
from tests.support.stores import Store

StartServer = Callable[[], ServerProcess]
LOG_TAIL_LINES = 80


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def start_server(
    request: pytest.FixtureRequest, data_dir: Path, store: Store
) -> Iterator[StartServer]:
    """Starts a new server process on the test's store and data directory (a new port
    each time).
    Every process still running at the end is killed; the tail of the server log is
    attached to the test's report."""
    started: list[ServerProcess] = []

    def start() -> ServerProcess:
        server = ServerProcess(data_dir, env=store.server_env)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.kill()
    if started and started[0].log_path.exists():
        lines = started[0].log_path.read_text(errors="replace").splitlines()
        request.node.add_report_section(
            "teardown", "server log (tail)", "\n".join(lines[-LOG_TAIL_LINES:])
        )
