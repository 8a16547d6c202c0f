"""A backtest that was running when the server died is finished after a restart."""

import time
from pathlib import Path
from uuid import UUID

import httpx
import msgspec
import pytest

from service.bootstrap import open_eventlog
from service.cli.main import import_lines
from service.settings import Settings
from tests.support.server import ServerProcess
from tests.support.stores import Store

pytestmark = pytest.mark.e2e

LEASE_S = 2  # a killed runner's lease: the restarted one takes over after it expires
# Fine enough a grid that the run is still going when the server is killed.
REQUEST = {"from": "2025-01-01T00:00:00Z", "to": "2026-11-01T00:00:00Z", "step": "PT15M"}


def heavy_store(settings: Settings, scenarios: int = 60) -> None:
    """Resolved scenarios whose rules match many demo events: a run takes a while."""
    lines = []
    for i in range(scenarios):
        definition = {
            "title": f"load {i}", "question": "?", "opens_at": "2025-01-01T00:00:00Z",
            "deadline": "2026-12-31T00:00:00Z", "prior": 0.3,
            "rules": [
                {"name": kind, "match": {"kind": kind}, "bayes_factor": 1.1 + i / 100,
                 "half_life_days": 30}
                for kind in ("negotiation", "tariff_change", "export_approval", "signal")
            ],
        }  # fmt: skip
        lines.append(msgspec.json.encode({"type": "scenario", "scenario_id": f"load-{i:03d}",
                                          "definition": definition}))  # fmt: skip
        resolution = {"outcome": "yes", "resolved_at": "2026-10-01T00:00:00Z"}
        lines.append(msgspec.json.encode({"type": "resolution", "scenario_id": f"load-{i:03d}",
                                          "resolution": resolution}))  # fmt: skip
    import_lines(settings, lines)


def status_in_store(settings: Settings, backtest_id: str) -> str:
    """The backtest's status as the log in the store tells it (no server running)."""
    with open_eventlog(settings) as log:
        assert log.catch_up(30)
        return log.index.backtests[UUID(backtest_id)].status


def test_a_killed_backtest_is_finished_after_restart(tmp_path: Path, store: Store) -> None:
    data = tmp_path / "data"
    settings = store.settings(data)
    heavy_store(settings)
    env = {**store.server_env, "TRADEWINDS_BACKTEST_LEASE_S": str(LEASE_S)}
    server = ServerProcess(data, extra_args=("--demo",), env=env).start()
    try:
        response = httpx.post(f"{server.base_url}/v1/backtests", json=REQUEST, timeout=10)
        assert response.status_code == 202
        backtest_id = response.json()["id"]
    finally:
        server.kill()
    assert status_in_store(settings, backtest_id) in ("queued", "running")

    with ServerProcess(data, env=env) as restarted:
        deadline = time.monotonic() + 120
        body = httpx.get(f"{restarted.base_url}/v1/backtests/{backtest_id}").json()
        while body["status"] not in ("done", "failed") and time.monotonic() < deadline:
            time.sleep(0.2)
            body = httpx.get(f"{restarted.base_url}/v1/backtests/{backtest_id}").json()
    assert body["status"] == "done", body
    assert body["scores"]["overall"]["n_scenarios"] >= 1
    assert body["request"] == {**REQUEST, "step": "PT900S"}  # durations come back canonical
