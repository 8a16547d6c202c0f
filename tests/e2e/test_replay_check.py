"""``tradewinds replay --check`` against a real server: identical, and able to differ."""

import os
import subprocess
from pathlib import Path

import httpx
import pytest

from service.cli.main import demo_lines, import_lines
from tests.support.server import TRADEWINDS, ServerProcess
from tests.support.stores import Store

pytestmark = pytest.mark.e2e


def replay_check(
    data_dir: Path, url: str, store_url: str | None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRADEWINDS_DATABASE_URL": store_url or ""}
    return subprocess.run(
        [str(TRADEWINDS), "replay", "--check", "--data-dir", str(data_dir), "--url", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def test_rebuilt_forecasts_equal_the_live_ones(tmp_path: Path, store: Store) -> None:
    data = tmp_path / "data"
    with ServerProcess(data, extra_args=("--demo",), env=store.server_env) as server:
        event = {
            "kind": "purchase_ban",
            "occurred_at": "2026-02-01T00:00:00Z",
            "summary": "Beijing formally bars state firms from buying Nvidia accelerators",
            "authority": "Chinese government",
            "target_company": "Nvidia",
            "scope": "formal",
        }
        assert httpx.post(f"{server.base_url}/v1/events", json=event).status_code == 201
        result = replay_check(data, server.base_url, store.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "identical" in result.stdout


def test_a_store_that_differs_from_the_live_one_fails_the_check(
    tmp_path: Path, store: Store
) -> None:
    live_data = tmp_path / "live"
    other_data = tmp_path / "other"
    other_url = store.new_url()
    other_env = {} if other_url is None else {"TRADEWINDS_DATABASE_URL": other_url}
    with ServerProcess(other_data, extra_args=("--demo",), env=other_env) as other:
        first = httpx.get(f"{other.base_url}/v1/events", params={"limit": 1}).json()
        event_id = first["events"][0]["event_id"]
        retraction = {"reason": "only in the other store"}
        url = f"{other.base_url}/v1/events/{event_id}/retraction"
        assert httpx.post(url, json=retraction).status_code == 201
    with ServerProcess(live_data, extra_args=("--demo",), env=store.server_env) as live:
        result = replay_check(other_data, live.base_url, other_url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "DIFFERENT" in result.stdout


def test_a_rebuild_alone_ends(tmp_path: Path, store: Store) -> None:
    """``tradewinds replay`` without ``--check`` stops what it started (it hung at exit)."""
    data = tmp_path / "data"
    import_lines(store.settings(data), demo_lines())
    env = {**os.environ, "TRADEWINDS_DATABASE_URL": store.url or ""}
    done = subprocess.run(
        [str(TRADEWINDS), "replay", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("rebuilt in ")
