"""The dashboard's events view marks an event that looks like an earlier one
("Possible duplicate of …"), in a real headless Chromium against a real server
(the browser and page fixtures are ``test_dashboard``'s)."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_dashboard import WAIT_MS, browser, page, screenshots  # noqa: F401  (fixtures)
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data: Path = tmp_path_factory.mktemp("dashboard-duplicates") / "data"
    with ServerProcess(data) as started:
        yield started


def approval(summary: str, occurred_at: str, product: str = "H200") -> dict[str, object]:
    return {
        "kind": "export_approval",
        "occurred_at": occurred_at,
        "summary": summary,
        "authority": "US Commerce (BIS)",
        "category": "ai_chip",
        "product": product,
        "destination": "CN",
    }


def test_an_event_like_an_earlier_one_is_marked_with_it(
    page: Page,  # noqa: F811
    server: ServerProcess,
) -> None:
    posted = []
    for body in (
        approval("Commerce clears H200 sales to China", "2025-12-08T20:00:00Z"),
        approval("Commerce clears H20 sales to China", "2025-12-08T21:00:00Z", product="H20"),
        approval("Reuters: US to allow H200 exports to China", "2025-12-09T09:00:00Z"),
    ):
        response = httpx.post(f"{server.base_url}/v1/events", json=body)
        assert response.status_code == 201, response.text
        posted.append(response.json())
    first, other, again = (p["event_id"] for p in posted)
    assert posted[2]["possible_duplicates"] == [first]

    page.goto(f"{server.base_url}/?poll=60000#/events")
    items = page.locator("ol.event-list > li")
    expect(items).to_have_count(3, timeout=WAIT_MS)
    mark = page.locator(f'li[data-event-id="{again}"] .duplicate')
    expect(mark).to_have_text(
        "Possible duplicate of “Commerce clears H200 sales to China” (2025-12-08)"
    )
    expect(mark).to_have_attribute("data-duplicate-of", first)
    for unmarked in (first, other):
        expect(page.locator(f'li[data-event-id="{unmarked}"] .duplicate')).to_have_count(0)
    screenshots(page, "events-duplicate")
