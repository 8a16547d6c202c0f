"""The dashboard's rule table shows each rule's group and the scenario's timing
shape (issue 16, point 1), in a real headless Chromium against a real server."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_dashboard import POLL_MS, WAIT_MS, browser, page  # noqa: F401 (fixtures)
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e

SCENARIO = {
    "title": "Grouped steers",
    "question": "Will Beijing sign off by 2027?",
    "opens_at": "2025-01-01T00:00:00Z",
    "deadline": "2027-01-01T00:00:00Z",
    "prior": 0.3,
    "timing_shape": 3,
    "rules": [
        {
            "name": "state media steer",
            "match": {"kind": "signal", "where": {"label": "media"}},
            "bayes_factor": 2,
            "repeat_discount": 0.5,
            "group": "beijing-steer",
        },
        {
            "name": "officials steer",
            "match": {"kind": "signal", "where": {"label": "officials"}},
            "bayes_factor": 2,
            "repeat_discount": 0.5,
            "group": "beijing-steer",
        },
        {
            "name": "restrictions",
            "match": {"kind": "signal", "where": {"label": "restriction"}},
            "bayes_factor": 0.5,
        },
    ],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data: Path = tmp_path_factory.mktemp("dashboard-groups") / "data"
    with ServerProcess(data) as running:
        response = httpx.put(f"{running.base_url}/v1/scenarios/grouped-steers", json=SCENARIO)
        assert response.status_code == 201, response.text
        yield running


def test_the_rule_table_shows_groups_and_the_timing_shape(
    page: Page,  # noqa: F811 (the fixture)
    server: ServerProcess,
) -> None:
    page.goto(f"{server.base_url}/?poll={POLL_MS}#/scenario/grouped-steers")
    table = page.locator("section[data-key='h-rules'] table")
    expect(table).to_be_visible(timeout=WAIT_MS)
    expect(table.locator("caption")).to_contain_text("shape a = 3 (the outcome tends to come late)")
    expect(table.locator("thead th")).to_contain_text(["Group"])
    groups = table.locator("tbody td[data-label='Group']")
    expect(groups).to_have_text(["beijing-steer", "beijing-steer", "alone"])
