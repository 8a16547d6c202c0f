"""Issue 18 point 3, resolutions from the scenario page, in a real headless Chromium
against a real ``tradewinds serve``: the service's checks come back at their fields
(a resolved_at in the future is a 422 at resolved_at, a resolution recorded
meanwhile is a 409 at the outcome), and a wrong resolution is retracted and
resolved anew from the page, by keyboard alone, with the time typed in the
analyst's own zone sent in UTC. Screenshots at 1280 and 390 px go to
test-artifacts/screenshots/resolve-*.png."""

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.helpers import SCENARIO
from tests.e2e.test_dashboard import (
    ADMIN_KEY,
    POLL_MS,
    READ_KEY,
    SIZES,
    WAIT_MS,
    browser,
    screenshots,
)
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
__all__ = ["browser"]  # the fixture, shared with test_dashboard
ZONE = "Asia/Kolkata"  # UTC+05:30 all year: a local time is never its UTC time


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path / "data") as server, httpx.Client(base_url=server.base_url) as c:
        assert c.put("/v1/scenarios/alpha", json=SCENARIO).status_code == 201
        yield server


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page in a time zone that is not UTC (the datetime inputs are local)."""
    context = browser.new_context(viewport=SIZES["desktop"], timezone_id=ZONE)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], errors


def open_scenario(page: Page, server: ServerProcess, live: str = f"poll={POLL_MS}") -> None:
    page.goto(f"{server.base_url}/?{live}#/scenario/alpha")
    expect(page.locator("form.resolve, form.retract")).to_be_visible(timeout=WAIT_MS)


def tab_to(page: Page, selector: str, limit: int = 200) -> None:
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def test_a_wrong_resolution_is_retracted_and_resolved_anew_by_keyboard(
    page: Page, server: ServerProcess
) -> None:
    open_scenario(page, server)
    expect(page.locator("#res-at-hint")).to_contain_text("your time, UTC+05:30")
    # A wrong "yes", by keyboard: the outcome is the first choice, the date typed locally.
    page.locator("#res-at").fill("2026-03-01T05:30")  # 2026-03-01 00:00 UTC in Kolkata
    expect(page.locator("#res-at-hint")).to_contain_text("sent as 2026-03-01 00:00 UTC")
    tab_to(page, "#res-note")
    page.keyboard.type("signed (it was not)")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("form.retract")).to_be_visible(timeout=WAIT_MS)
    with httpx.Client(base_url=server.base_url) as client:
        first = client.get("/v1/scenarios/alpha").json()["resolution"]
        assert (first["outcome"], first["resolved_at"]) == ("yes", "2026-03-01T00:00:00Z")
        assert first["note"] == "signed (it was not)"
        expect(page.locator(".facts dd.status")).to_have_class("status status-resolved_yes")
        screenshots(page, "resolve-retract")

        tab_to(page, "#ret-reason")
        page.keyboard.type("the signing was a rumour")
        tab_to(page, "[data-retract-resolution]")
        page.keyboard.press("Enter")
        expect(page.locator("form.resolve")).to_be_visible(timeout=WAIT_MS)
        expect(page.locator("[data-retracted-resolution]")).to_contain_text(
            "the signing was a rumour"
        )
        view = client.get("/v1/scenarios/alpha").json()
        assert view["resolution"] is None
        assert [r["retracted"]["reason"] for r in view["retracted_resolutions"]] == [
            "the signing was a rumour"
        ]

        # Resolved anew: "no", chosen with the arrow keys.
        tab_to(page, "#res-outcome")
        page.keyboard.press("ArrowDown")
        expect(page.locator("#res-outcome")).to_have_value("no")
        page.locator("#res-at").fill("2026-04-01T05:30")
        tab_to(page, "[data-resolve]")
        page.keyboard.press("Enter")
        expect(page.locator("form.retract")).to_be_visible(timeout=WAIT_MS)
        again = client.get("/v1/scenarios/alpha").json()["resolution"]
        assert (again["outcome"], again["resolved_at"]) == ("no", "2026-04-01T00:00:00Z")
    expect(page.locator(".facts dd.status")).to_have_class("status status-resolved_no")
    screenshots(page, "resolve-again")


def test_the_services_checks_are_shown_at_their_fields(page: Page, server: ServerProcess) -> None:
    # No live updates: the page must not learn of the resolution made behind its back
    # (below) before it tries its own.
    open_scenario(page, server, "live=poll&poll=600000")
    when = page.locator("#res-at")
    when.fill("2099-01-01T00:00")  # the future: a 422 at resolved_at
    page.locator("[data-resolve]").click()
    error = page.locator(".field-error[data-error-for='resolved_at']")
    expect(error).to_be_visible(timeout=WAIT_MS)
    with httpx.Client(base_url=server.base_url) as client:
        served = client.post(
            "/v1/scenarios/alpha/resolution",
            json={"outcome": "yes", "resolved_at": "2098-12-31T18:30:00Z"},
        )
        assert served.status_code == 422
        message = next(e["message"] for e in served.json()["errors"] if e["field"] == "resolved_at")
        stable = message.split(" and now")[0]  # "now" is when each request was answered
        expect(error).to_contain_text(stable)
        expect(error).to_contain_text("got 2098-12-31T18:30:00Z")  # local 2099-01-01 00:00, in UTC
        expect(when).to_have_attribute("aria-invalid", "true")
        expect(when).to_be_focused()
        expect(page.locator("form.resolve .form-errors[role=alert]")).to_contain_text(stable)

        # Resolved behind the page's back: the page's own attempt is a 409 at the outcome.
        done = {"outcome": "no", "resolved_at": "2026-01-01T00:00:00Z"}
        assert client.post("/v1/scenarios/alpha/resolution", json=done).status_code == 201
    when.fill("2026-02-01T00:00")
    page.locator("[data-resolve]").click()
    conflict = page.locator(".field-error[data-error-for='outcome']")
    expect(conflict).to_contain_text(re.compile(r"resolv", re.IGNORECASE), timeout=WAIT_MS)
    expect(page.locator("form.resolve .form-errors[role=alert]")).to_be_visible()


@pytest.mark.parametrize("key", [READ_KEY, ADMIN_KEY])
def test_a_read_key_sees_no_edit_link_nor_resolution_form(
    page: Page, tmp_path: Path, key: str
) -> None:
    keys = f"{READ_KEY}:read,{ADMIN_KEY}:admin"
    env = {"TRADEWINDS_API_KEYS": keys}
    with ServerProcess(tmp_path / "data", env=env) as server:
        with httpx.Client(base_url=server.base_url) as client:
            auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
            assert client.put("/v1/scenarios/alpha", json=SCENARIO, headers=auth).status_code == 201
        page.add_init_script(f"sessionStorage.setItem('tradewinds.apiKey', {key!r})")
        page.goto(f"{server.base_url}/?poll={POLL_MS}#/scenario/alpha")
        expect(page.locator(".facts")).to_be_visible(timeout=WAIT_MS)
        if key == ADMIN_KEY:
            expect(page.locator("[data-edit-scenario]")).to_be_visible(timeout=WAIT_MS)
            expect(page.locator("form.resolve")).to_be_visible()
            return
        asks = page.locator("button.ask-key")
        expect(asks).to_have_count(2, timeout=WAIT_MS)
        expect(asks.nth(0)).to_have_text("Enter an admin key to edit this scenario")
        expect(asks.nth(1)).to_have_text("Enter an admin key to resolve this scenario")
        expect(page.locator("[data-edit-scenario], form.resolve, form.retract")).to_have_count(0)
        page.goto(f"{server.base_url}/?poll={POLL_MS}#/scenario/alpha/edit")
        expect(page.locator("button.ask-key")).to_have_text(
            "Enter an admin key to edit this scenario", timeout=WAIT_MS
        )
        expect(page.locator("form.editor")).to_have_count(0)
