"""Mirroring a live service's log over HTTP: ``GET /v1/log`` in two pages (the second
resumed at the first's last position) piped into ``tradewinds import`` of another
store gives the same log, and forecasts rebuilt from it equal the live ones."""

import os
import subprocess
from pathlib import Path

import httpx
import msgspec
import pytest

from tests.e2e.helpers import SCENARIO, http, signal
from tests.support.server import TRADEWINDS, ServerProcess
from tests.support.stores import Store

pytestmark = pytest.mark.e2e


def tradewinds(
    args: list[str], store_url: str | None, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "TRADEWINDS_DATABASE_URL": store_url or ""}
    return subprocess.run(
        [str(TRADEWINDS), *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
        env=env,
    )


def write(client: httpx.Client) -> None:
    """Records after the demo's: a scenario revised, resolved, retracted and resolved
    anew, events, one retracted, so the second page holds later versions of records
    whose first version is in the first."""
    scenario = "/v1/scenarios/log-mirror"
    assert client.put(scenario, json=SCENARIO).status_code == 201
    for i in range(5):
        assert client.post("/v1/events", json=signal(f"s{i}")).status_code == 201
    assert client.put(scenario, json={**SCENARIO, "prior": 0.3}).status_code == 200
    first = client.get("/v1/events", params={"limit": 1}).json()["events"][0]["event_id"]
    answer = client.post(f"/v1/events/{first}/retraction", json={"reason": "mirror test"})
    assert answer.status_code == 201
    resolution = {"outcome": "no", "resolved_at": "2026-06-30T00:00:00Z"}
    assert client.post(f"{scenario}/resolution", json=resolution).status_code == 201
    retraction = {"reason": "too early"}
    assert client.post(f"{scenario}/resolution/retraction", json=retraction).status_code == 201
    anew = {**resolution, "outcome": "yes"}
    assert client.post(f"{scenario}/resolution", json=anew).status_code == 201


def last_position(lines: bytes) -> int:
    position: int = msgspec.json.decode(lines.splitlines()[-1])["position"]
    return position


def test_two_pages_imported_into_another_store_mirror_the_log(tmp_path: Path, store: Store) -> None:
    live_data, mirror_data = tmp_path / "live", tmp_path / "mirror"
    mirror_url = store.new_url()
    with ServerProcess(live_data, extra_args=("--demo",), env=store.server_env) as live:
        with http(live.base_url) as client:
            write(client)
            whole = client.get("/v1/log", params={"limit": 10_000})
            assert whole.status_code == 200, whole.text
            count = len(whole.content.splitlines())
            first = client.get("/v1/log", params={"limit": count // 2})
            page = tmp_path / "page1.jsonl"
            page.write_bytes(first.content)
            imported = tradewinds(["import", str(page), "--data-dir", str(mirror_data)], mirror_url)
            assert imported.returncode == 0, imported.stderr
            # the second page as `curl ... | tradewinds import /dev/stdin` would send it
            resume = {"after": last_position(first.content), "limit": 10_000}
            with client.stream("GET", "/v1/log", params=resume) as second:
                assert second.headers["content-type"] == "application/x-ndjson"
                rest = b"".join(second.iter_bytes())
            piped = ["import", "/dev/stdin", "--data-dir", str(mirror_data)]
            imported = tradewinds(piped, mirror_url, stdin=rest)
            assert imported.returncode == 0, imported.stderr
        check = ["replay", "--check", "--data-dir", str(mirror_data), "--url", live.base_url]
        checked = tradewinds(check, mirror_url)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert b"identical" in checked.stdout
    assert first.content + rest == whole.content
    assert len(first.content.splitlines()) == count // 2
    exported = [
        tradewinds(["export", "--data-dir", str(data)], url)
        for data, url in ((live_data, store.url), (mirror_data, mirror_url))
    ]
    assert [e.returncode for e in exported] == [0, 0], [e.stderr for e in exported]
    live_log, mirror_log = (e.stdout for e in exported)
    assert mirror_log == live_log == whole.content
    assert b'"type":"resolution_retraction"' in rest
