"""The dashboard's scenario page after a resolution was retracted: the status as
served, and a line saying which resolution was retracted and why."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import SCENARIO
from tests.e2e.test_dashboard import POLL_MS, WAIT_MS, browser, page  # noqa: F401
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e


@pytest.fixture
def corrected(tmp_path: Path) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path / "data") as server, httpx.Client(base_url=server.base_url) as c:
        assert c.put("/v1/scenarios/alpha", json=SCENARIO).status_code == 201
        resolution = {"outcome": "yes", "resolved_at": "2026-01-01T00:00:00Z", "note": "signed"}
        assert c.post("/v1/scenarios/alpha/resolution", json=resolution).status_code == 201
        retraction = {"reason": "the signing was a rumour"}
        assert (
            c.post("/v1/scenarios/alpha/resolution/retraction", json=retraction).status_code == 201
        )
        yield server


def test_a_retracted_resolution_is_shown_with_its_reason(
    page: Page,  # noqa: F811
    corrected: ServerProcess,
) -> None:
    page.goto(f"{corrected.base_url}/?poll={POLL_MS}#/scenario/alpha")
    line = page.locator("[data-retracted-resolution]")
    expect(line).to_be_visible(timeout=WAIT_MS)
    expect(line).to_contain_text('Resolution "yes" of')
    expect(line).to_contain_text("the signing was a rumour")
    status = page.locator(".facts dd.status")
    expect(status).to_have_class("status status-open")
    expect(status).not_to_contain_text("signed")
