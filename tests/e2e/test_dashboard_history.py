"""The overview of ``tradewinds serve --demo`` with the real history loaded: the open
scenarios come first and the closed ones (37 of them from the history alone) are
collapsed under them, most recently closed first; a search that finds closed ones
shows them. Screenshots at 1280 and 390 px go to test-artifacts/screenshots/."""

from datetime import datetime

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_dashboard import WAIT_MS, browser, demo, page, screenshots
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
__all__ = ["browser", "demo", "page"]  # the fixtures, shared with test_dashboard
CLOSED = {"resolved_yes", "resolved_no", "annulled"}


def test_closed_scenarios_are_collapsed_under_the_open_ones(
    page: Page, demo: ServerProcess
) -> None:
    page.goto(f"{demo.base_url}/?poll=60000#/")
    forecasts = httpx.get(f"{demo.base_url}/v1/forecasts").json()["forecasts"]
    scenarios = httpx.get(f"{demo.base_url}/v1/scenarios").json()["scenarios"]
    closed = {f["scenario_id"] for f in forecasts if f["status"] in CLOSED}
    assert len(closed) >= 37
    expect(page.locator("li.scenario")).to_have_count(len(forecasts), timeout=WAIT_MS)

    expect(page.locator("li.scenario:visible")).to_have_count(len(forecasts) - len(closed))
    visible = page.locator("li.scenario:visible").evaluate_all(
        "(lis) => lis.map((li) => li.dataset.scenarioId)"
    )
    assert not set(visible) & closed
    summary = page.locator("details.closed-scenarios summary")
    expect(summary).to_contain_text(f"Closed: {len(closed)} resolved or annulled")
    screenshots(page, "overview-with-history")

    summary.click()
    expect(page.locator("li.scenario:visible")).to_have_count(len(forecasts))
    expect(page.locator("ul.closed li.scenario .interval").last).to_contain_text("resolved")
    shown = page.locator("ul.closed li.scenario").evaluate_all(
        "(lis) => lis.map((li) => li.dataset.scenarioId)"
    )
    resolved = {s["id"]: s["resolution"]["resolved_at"] for s in scenarios if s["id"] in closed}
    newest_first = sorted(
        closed, key=lambda slug: datetime.fromisoformat(resolved[slug]), reverse=True
    )
    assert [datetime.fromisoformat(resolved[s]) for s in shown] == [
        datetime.fromisoformat(resolved[s]) for s in newest_first
    ]

    summary.click()
    page.get_by_label("Search").fill("huawei")
    huawei = {
        s["id"]
        for s in scenarios
        if "huawei" in f"{s['definition']['title']} {s['definition']['question']} {s['id']}".lower()
    }
    assert huawei <= closed
    assert huawei
    expect(page.locator("li.scenario:visible")).to_have_count(len(huawei))
    expect(summary).to_contain_text(f"Closed: {len(huawei)} of {len(closed)}")
