"""A large backtest in a real server: the API keeps answering while it runs, and a
SIGTERM in the middle of it ends the process promptly and cleanly."""

import time
from pathlib import Path
from uuid import UUID

import httpx
import msgspec
import pytest

from service.bootstrap import open_eventlog
from service.cli.main import import_lines
from service.settings import Settings
from tests.e2e.helpers import http
from tests.support.server import ServerProcess
from tests.support.stores import Store

pytestmark = pytest.mark.e2e

SCENARIOS = 20
RULES = 100
SIGNALS = 5_000
LABELS = 50
SHUTDOWN_TIMEOUT_S = 5
# 64,000 grid points x 100 decaying rules x 20 scenarios: seconds of numpy work.
REQUEST = {"from": "2025-01-01T00:00:00Z", "to": "2026-11-01T00:00:00Z", "step": "PT15M"}
READ_TIMEOUT_S = 10.0  # generous: a starved API took many seconds per read


def large_store(settings: Settings) -> None:
    """Resolved scenarios of many decaying rules, each reading one label of the signals."""
    lines = [
        msgspec.json.encode(
            {"type": "event", "event": {
                "event_id": str(UUID(int=i + 1)), "kind": "signal",
                "occurred_at": f"{2025 + i % 2}-{1 + i % 10:02d}-{1 + i % 28:02d}T00:00:00Z",
                "summary": f"s{i}", "label": f"l{i % LABELS}"}}
        )
        for i in range(SIGNALS)
    ]  # fmt: skip
    for s in range(SCENARIOS):
        rules = [
            {"name": f"r{j}", "match": {"kind": "signal", "where": {"label": f"l{j % LABELS}"}},
             "bayes_factor": 1.01 + j / 1000, "half_life_days": 30}
            for j in range(RULES)
        ]  # fmt: skip
        definition = {
            "title": f"load {s}", "question": "?", "opens_at": "2025-01-01T00:00:00Z",
            "deadline": "2026-12-31T00:00:00Z", "prior": 0.3, "rules": rules,
        }  # fmt: skip
        slug = f"load-{s:03d}"
        resolution = {"outcome": "yes" if s % 2 else "no", "resolved_at": "2026-10-01T00:00:00Z"}
        lines.append(msgspec.json.encode({"type": "scenario", "scenario_id": slug,
                                          "definition": definition}))  # fmt: skip
        lines.append(msgspec.json.encode({"type": "resolution", "scenario_id": slug,
                                          "resolution": resolution}))  # fmt: skip
    import_lines(settings, lines)


@pytest.fixture
def loaded(tmp_path: Path, store: Store) -> tuple[Path, Settings, dict[str, str]]:
    data = tmp_path / "data"
    settings = store.settings(data)
    large_store(settings)
    env = {**store.server_env, "TRADEWINDS_SHUTDOWN_TIMEOUT_S": str(SHUTDOWN_TIMEOUT_S)}
    return data, settings, env


def start_backtest(client: httpx.Client) -> str:
    response = client.post("/v1/backtests", json=REQUEST)
    assert response.status_code == 202, response.text
    backtest_id: str = response.json()["id"]
    return backtest_id


def wait_running(client: httpx.Client, backtest_id: str, timeout: float = 60.0) -> None:
    """Until the run is under way (claimed, computing, not finished)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/v1/backtests/{backtest_id}").json()
        assert body["status"] not in ("done", "failed"), "the run ended before it was seen"
        if body["status"] == "running":
            return
        time.sleep(0.05)
    raise TimeoutError(backtest_id)


def children(pid: int) -> set[int]:
    """The process's child processes (of every thread), from /proc."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(c) for c in (task / "children").read_text().split())
    return found


def test_the_api_keeps_answering_while_a_large_backtest_runs_in_a_worker_process(
    loaded: tuple[Path, Settings, dict[str, str]],
) -> None:
    data, _, env = loaded
    with ServerProcess(data, env=env) as server, http(server.base_url) as client:
        assert server.process is not None
        before = children(server.process.pid)
        backtest_id = start_backtest(client)
        wait_running(client, backtest_id)
        deadline = time.monotonic() + 60
        while not children(server.process.pid) - before:
            status = client.get(f"/v1/backtests/{backtest_id}").json()["status"]
            assert status == "running", f"{status} without a worker process"
            assert time.monotonic() < deadline, "no worker process"
            time.sleep(0.02)
        answered: dict[str, int] = {}
        reads = ("/health/live", "/v1/forecasts", "/v1/forecasts/load-000")
        deadline = time.monotonic() + 300
        body = client.get(f"/v1/backtests/{backtest_id}").json()
        while body["status"] not in ("done", "failed") and time.monotonic() < deadline:
            for path in reads:
                response = client.get(path, timeout=READ_TIMEOUT_S)
                assert response.status_code == 200, (path, response.text)
                if body["status"] == "running":
                    answered[path] = answered.get(path, 0) + 1
            body = client.get(f"/v1/backtests/{backtest_id}").json()
        assert body["status"] == "done", body
        assert body["scores"]["overall"]["n_scenarios"] == SCENARIOS
        assert set(answered) == set(reads), "no read was answered while the backtest ran"


def test_sigterm_during_a_backtest_exits_promptly_with_0_and_releases_it(
    loaded: tuple[Path, Settings, dict[str, str]],
) -> None:
    data, settings, env = loaded
    server = ServerProcess(data, env=env).start()
    try:
        with http(server.base_url) as client:
            backtest_id = start_backtest(client)
            wait_running(client, backtest_id)
        started = time.monotonic()
        code = server.stop(timeout=SHUTDOWN_TIMEOUT_S + 10)
        took = time.monotonic() - started
    finally:
        server.kill()
    assert code == 0, f"exit {code} after {took:.1f} s"
    with open_eventlog(settings) as log:
        assert log.catch_up(30)
        record = log.get(UUID(backtest_id))
        state = log.index.backtests[UUID(backtest_id)]
    assert state.status in ("queued", "running")  # left for the next runner, not failed
    assert record.lease_until is not None
    assert record.lease_until <= log.committer.now()  # released: no waiting for the lease
