"""The Track record view shows the raw and the prequentially calibrated track
records side by side, each with its interval, and says in words whether the
calibration has earned trust: in a real headless Chromium against a real
``tradewinds serve --demo`` (the real history, its recorded_at reconstructed).
Screenshots at 1280 and 390 px go to test-artifacts/screenshots/."""

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_dashboard import browser, page, screenshots
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
__all__ = ["browser", "page"]


def as_served(client: httpx.Client) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.get("/v1/backtests?limit=200").json()["backtests"]
    return [b for b in found if b["request"].get("knowledge") == "as_served"]


def ci(interval: list[float]) -> str:
    return f"{interval[0]:.3f} to {interval[1]:.3f}"


def test_raw_and_calibrated_side_by_side_with_their_intervals_and_a_verdict(
    tmp_path: Path, page: Page
) -> None:
    with ServerProcess(tmp_path / "data", extra_args=("--demo",)) as server:
        page.goto(f"{server.base_url}/#/track-record")
        table = page.locator("#tr-compare-table")
        expect(table).to_be_visible(timeout=120_000)
        with httpx.Client(base_url=server.base_url) as client:
            records = as_served(client)
        (raw,) = [b for b in records if not b["request"].get("calibrated")]
        (cal,) = [b for b in records if b["request"].get("calibrated")]
        assert {k: v for k, v in cal["request"].items() if k != "calibrated"} == raw["request"]
        expect(page.locator("#tr-compare")).to_have_attribute("data-backtest", cal["id"])
        r, c = raw["scores"]["overall"], cal["scores"]["overall"]
        brier = table.locator("tbody tr").first.locator("td")
        expect(brier.nth(0)).to_have_text(f"{r['brier']:.3f}")
        expect(brier.nth(1)).to_have_text(ci(r["brier_ci"]))
        expect(brier.nth(2)).to_have_text(f"{c['brier']:.3f}")
        expect(brier.nth(3)).to_have_text(ci(c["brier_ci"]))
        before = {s["scenario_id"]: s["brier"] for s in raw["scores"]["scenarios"]}
        paired = [s["brier"] - before[s["scenario_id"]] for s in cal["scores"]["scenarios"]]
        mean = sum(paired) / len(paired)
        better = sum(d < 0 for d in paired)
        trust = page.locator("#tr-trust")
        sign = "+" if mean >= 0 else "\u2212"
        expect(trust).to_contain_text(f"{sign}{abs(mean):.3f} on average")
        expect(trust).to_contain_text(f"better on {better} of {len(paired)} scenarios")
        if c["brier_ci"][1] < r["brier_ci"][0]:
            expect(trust).to_contain_text("has earned trust")
        elif c["brier_ci"][0] > r["brier_ci"][1]:
            expect(trust).to_contain_text("do not trust it")
        else:
            expect(trust).to_contain_text("has not earned trust yet")
        assert c["uncalibrated_samples"] < c["n_samples"]
        screenshots(page, "trackrecord-calibrated")
