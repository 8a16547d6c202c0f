"""The dashboard's Track record view in a real headless Chromium against a real
``tradewinds serve`` of the demo timeline imported as if lived through (events
recorded as they happened, some late): it computes (or reuses) a backtest of the whole
history as served and shows what the API answers for it; without an admin key it
says why it cannot compute one and shows the stored one. Screenshots at 1280 and
390 px go to test-artifacts/screenshots/."""

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from service.cli.main import demo_lines
from tests.e2e.test_dashboard import READ_KEY, WAIT_MS, browser, page, screenshots
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
__all__ = ["browser", "page"]  # the fixtures, shared with test_dashboard
ADMIN_KEY = "trackrecord-admin-key"


def lived(entry: dict[str, Any], n: int) -> datetime:
    """When the entry would have been recorded had the service run through the
    demo's history: a scenario when it opened, an event six hours after it occurred
    (every fifth ten days late), a resolution half a day after it was settled."""
    if entry["type"] == "scenario":
        return datetime.fromisoformat(entry["definition"]["opens_at"])
    if entry["type"] == "resolution":
        return datetime.fromisoformat(entry["resolution"]["resolved_at"]) + timedelta(hours=12)
    late = timedelta(days=10) if n % 5 == 0 else timedelta(hours=6)
    return datetime.fromisoformat(entry["event"]["occurred_at"]) + late


def lived_timeline(path: Path) -> Path:
    entries = [json.loads(line) for line in demo_lines()]
    stamped = sorted(
        ((lived(e, n), n, e) for n, e in enumerate(entries)), key=lambda x: (x[0], x[1])
    )
    lines = [json.dumps({**e, "recorded_at": t.astimezone(UTC).isoformat()}) for t, _, e in stamped]
    path.write_text("\n".join(lines) + "\n")
    return path


def lived_data(root: Path) -> Path:
    """A store holding the demo timeline as if the service had been running through it."""
    timeline = lived_timeline(root / "lived.jsonl")
    command = [sys.executable, "-m", "service.cli.main", "import", str(timeline)]
    subprocess.run([*command, "--data-dir", str(root / "data")], check=True, timeout=120)
    return root / "data"


@pytest.fixture(scope="module")
def lived_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lived store, imported once per module; each server gets its own copy."""
    return lived_data(tmp_path_factory.mktemp("trackrecord-lived"))


def copy_of(store: Path, root: Path) -> Path:
    """A copy of ``store``'s data directory (no server has opened it)."""
    return Path(shutil.copytree(store, root / "data"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, lived_store: Path) -> Iterator[ServerProcess]:
    with ServerProcess(copy_of(lived_store, tmp_path_factory.mktemp("trackrecord"))) as server:
        yield server


def track_records(client: httpx.Client) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.get("/v1/backtests?limit=200").json()["backtests"]
    return [
        b
        for b in found
        if b["request"].get("knowledge") == "as_served" and not b["request"].get("calibrated")
    ]


def finished(client: httpx.Client, backtest_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/v1/backtests/{backtest_id}").json()
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.2)
    raise TimeoutError(backtest_id)


def shots(page: Page, name: str) -> None:
    screenshots(page, name)


def test_the_track_record_is_computed_over_the_whole_history_and_shown(
    demo: ServerProcess, page: Page
) -> None:
    page.goto(f"{demo.base_url}/#/track-record")
    expect(page.get_by_role("heading", name="Track record", level=1)).to_be_visible()
    expect(page.locator("#tr-overall")).to_be_visible(timeout=WAIT_MS * 4)
    with httpx.Client(base_url=demo.base_url) as client:
        (record,) = track_records(client)
        scenarios = client.get("/v1/scenarios").json()["scenarios"]
        series = client.get(f"/v1/backtests/{record['id']}/series").json()["series"]
    request = record["request"]
    opens = [s["definition"].get("opens_at") or s["first_recorded_at"] for s in scenarios]
    first = min(datetime.fromisoformat(t) for t in opens)
    assert datetime.fromisoformat(request["from"]) == first
    assert request["step"] == "P1D"
    overall = record["scores"]["overall"]
    brier_row = page.locator("#tr-overall tbody tr").first
    expect(brier_row.locator("td").nth(0)).to_have_text(f"{overall['brier']:.3f}")
    lo, hi = overall["brier_ci"]
    expect(brier_row.locator("td").nth(1)).to_have_text(f"{lo:.3f} to {hi:.3f}")
    if overall["few_scenarios"]:
        expect(page.locator("#tr-few")).to_contain_text(f"Only {overall['n_scenarios']}")
    cards = page.locator(".said-card")
    expect(cards).to_have_count(len(record["scores"]["scenarios"]))
    for item in series:
        card = page.locator(f'.said-card[data-scenario="{item["scenario_id"]}"]')
        path = card.locator("svg.said path.line").get_attribute("d") or ""
        assert path.count("L") + path.count("M") == len(item["points"])
        said = "happened" if item["outcome"] else "did not happen"
        label = card.locator("svg.said").get_attribute("aria-label") or ""
        assert label.endswith(f"it {said}.")
    image = page.locator("img.reliability")
    expect(image).to_have_attribute("src", re.compile(r"^blob:"))
    page.wait_for_function(
        "() => document.querySelector('img.reliability').naturalWidth > 0", timeout=WAIT_MS
    )
    shots(page, "trackrecord")


def test_the_latest_track_record_is_reused_not_computed_again(
    demo: ServerProcess, page: Page
) -> None:
    with httpx.Client(base_url=demo.base_url) as client:
        if not track_records(client):
            body = client.post(
                "/v1/backtests",
                json={
                    "from": "2025-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z",
                    "step": "P1D", "knowledge": "as_served",
                },
            ).json()  # fmt: skip
            finished(client, body["id"])
        before = track_records(client)
        page.goto(f"{demo.base_url}/#/track-record")
        expect(page.locator("#tr-status")).to_have_attribute(
            "data-backtest", before[0]["id"], timeout=WAIT_MS
        )
        page.wait_for_timeout(500)
        assert len(track_records(client)) == len(before)


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory, lived_store: Path) -> Iterator[ServerProcess]:
    data = copy_of(lived_store, tmp_path_factory.mktemp("trackrecord-keys"))
    keys = f"{READ_KEY}:read,{ADMIN_KEY}:admin"
    with ServerProcess(data, env={"TRADEWINDS_API_KEYS": keys}) as server:
        yield server


def test_without_an_admin_key_it_says_so_and_shows_the_stored_track_record(
    keyed: ServerProcess, page: Page
) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=keyed.base_url, headers=admin) as client:
        window = {"from": "2025-01-01T00:00:00Z", "to": "2026-08-01T00:00:00Z", "step": "P1D"}
        body = client.post("/v1/backtests", json={**window, "knowledge": "as_served"}).json()
        stored = finished(client, body["id"])
    page.goto(f"{keyed.base_url}/#/track-record")
    page.get_by_label("API key", exact=True).fill(READ_KEY)
    page.get_by_role("button", name="Use this key").click()
    expect(page.locator("#tr-status")).to_have_attribute(
        "data-backtest", stored["id"], timeout=WAIT_MS
    )
    expect(page.locator("#tr-overall")).to_be_visible()
    expect(page.get_by_role("button", name="Compute it again now")).to_have_count(0)
    page.get_by_role("button", name="Enter an admin key to compute the track record again").click()
    expect(page.locator("#key-message")).to_contain_text("admin scope")
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("button", name="Compute it again now")).to_have_count(0)
    expect(page.locator("#tr-overall")).to_be_visible()
    shots(page, "trackrecord-no-admin")


def test_a_history_imported_just_now_has_nothing_served_to_score(
    tmp_path: Path, page: Page
) -> None:
    """The demo timeline imported now: nothing was served before, so the record is
    empty however the scenarios resolved, and the page says why."""
    timeline = tmp_path / "timeline.jsonl"
    timeline.write_bytes(b"\n".join(demo_lines()) + b"\n")
    command = [sys.executable, "-m", "service.cli.main", "import", str(timeline)]
    subprocess.run([*command, "--data-dir", str(tmp_path / "data")], check=True, timeout=120)
    with ServerProcess(tmp_path / "data") as server:
        page.goto(f"{server.base_url}/#/track-record")
        expect(page.locator("#tr-results")).to_contain_text("Nothing to score yet", timeout=WAIT_MS)
        with httpx.Client(base_url=server.base_url) as client:
            (record,) = track_records(client)
        assert record["scores"]["overall"] is None
        assert record["scores"]["scenarios"] == []


def test_the_demo_s_track_record_is_the_real_history(tmp_path: Path, page: Page) -> None:
    """``--demo`` loads the real history with its reconstructed recorded_at, then the
    timeline recorded now: the track record scores the history's 37 questions and
    none of the timeline's, which nothing served before it resolved."""
    with ServerProcess(tmp_path / "data", extra_args=("--demo",)) as server:
        page.goto(f"{server.base_url}/#/track-record")
        expect(page.locator("#tr-overall")).to_contain_text("37", timeout=60_000)
        with httpx.Client(base_url=server.base_url) as client:
            (record,) = track_records(client)
            history = {
                s["id"]
                for s in client.get("/v1/scenarios").json()["scenarios"]
                if "history" in s["definition"].get("tags", [])
            }
    scored = {s["scenario_id"] for s in record["scores"]["scenarios"]}
    assert len(history) == 37
    assert scored == history
    assert record["scores"]["overall"]["n_scenarios"] == 37
