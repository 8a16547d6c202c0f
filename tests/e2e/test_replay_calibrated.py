"""``tradewinds replay --check`` with a calibration in force: the rebuilt forecasts,
``calibrated`` included, equal the live ones byte for byte."""

from pathlib import Path

import httpx
import pytest

from tests.e2e.helpers import http
from tests.e2e.test_replay_check import replay_check
from tests.service.calibrationdata import World, closed_world
from tests.support.server import ServerProcess
from tests.support.stores import Store

pytestmark = pytest.mark.e2e


def test_rebuilt_calibrated_forecasts_equal_the_live_ones(tmp_path: Path, store: Store) -> None:
    data = tmp_path / "data"
    with ServerProcess(data, env=store.server_env) as server, http(server.base_url) as client:
        world: World = closed_world(client, 6)  # type: ignore[arg-type]
        world.scenario("still-open", "2031-01-01T00:00:00Z", 0.3)
        world.signal("still-open", "2025-05-01T00:00:00Z")
        forecast = httpx.get(f"{server.base_url}/v1/forecasts/still-open").json()
        assert forecast["calibrated"] is not None
        result = replay_check(data, server.base_url, store.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "identical" in result.stdout
