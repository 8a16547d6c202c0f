"""Issue 18 point 4 in a real headless Chromium against a real ``tradewinds serve
--demo``: an alert created from the Alerts view (by keyboard alone) is listed, its
webhook on loopback receives a delivery once an event crosses its threshold and the
view shows that delivery's status; it is changed and deleted (after a confirm
step) from the page; a 422 is shown at the field that caused it. The secret is
never shown back. Screenshots at 1280 and 390 px (nothing sticks out sideways)."""

import math
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.receiver import Receiver
from tests.e2e.test_alerts import notifier_serves
from tests.e2e.test_dashboard import MANUS, POLL_MS, WAIT_MS, browser, page, screenshots
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
__all__ = ["browser", "page"]  # the fixtures, shared with test_dashboard
SECRET = "dashboard-webhook-secret"
ENV = {"TRADEWINDS_WEBHOOK_ALLOW_PRIVATE": "1", "TRADEWINDS_WEBHOOK_RETRY_BASE_S": "0.2"}


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def expit(x: float) -> float:
    return 1 / (1 + math.exp(-x))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("dashboard-alerts") / "data"
    with ServerProcess(data, extra_args=("--demo",), env=ENV) as server:
        yield server


def open_alerts(page: Page, server: ServerProcess) -> None:
    page.goto(f"{server.base_url}/?poll={POLL_MS}#/alerts")
    expect(page.get_by_role("button", name="New alert")).to_be_visible(timeout=WAIT_MS)


def tab_to(page: Page, selector: str, limit: int = 120) -> None:
    """Press Tab until the focused element matches ``selector`` (at most ``limit`` times)."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    msg = f"Tab never reached {selector}"
    raise AssertionError(msg)


def mofcom_review(summary: str) -> dict[str, str]:
    """An event the Manus scenario's rule `mofcom-review` matches (Bayes factor 2)."""
    return {
        "kind": "regulatory_action",
        "occurred_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "summary": summary,
        "authority": "China Ministry of Commerce",
        "target_company": "Manus",
        "action": "formal investigation",
    }


def alerts_served(server: ServerProcess) -> dict[str, dict[str, object]]:
    listed = httpx.get(f"{server.base_url}/v1/alerts").json()["alerts"]
    return {a["id"]: a for a in listed}


def test_an_alert_made_by_keyboard_delivers_and_is_changed_and_deleted_on_the_page(
    demo: ServerProcess, page: Page
) -> None:
    before = httpx.get(f"{demo.base_url}/v1/forecasts/{MANUS}").json()["probability"]
    moved = expit(logit(before) + math.log(2))  # after one mofcom-review event
    threshold = round((before + moved) / 2 * 100, 1)
    assert before * 100 < threshold < moved * 100
    with Receiver() as receiver:
        open_alerts(page, demo)
        # Keyboard alone: Tab to "New alert", Enter, type, arrows and Space, Enter.
        tab_to(page, "#alert-new")
        page.keyboard.press("Enter")
        expect(page.locator("#alert-id")).to_be_focused()
        page.keyboard.type("manus-watch")
        page.keyboard.press("Tab")
        expect(page.locator("#alert-scope-all")).to_be_focused()
        page.keyboard.press("ArrowDown")
        expect(page.locator("#alert-scope-some")).to_be_checked()
        tab_to(page, f"#alert-scenario-{MANUS}")
        page.keyboard.press("Space")
        expect(page.locator(f"#alert-scenario-{MANUS}")).to_be_checked()
        tab_to(page, "#alert-crosses")
        page.keyboard.press("Control+A")
        page.keyboard.type(str(threshold))
        page.keyboard.press("Tab")
        expect(page.locator("#alert-url")).to_be_focused()
        page.keyboard.type(receiver.url)
        page.keyboard.press("Tab")
        page.keyboard.type(SECRET)
        page.keyboard.press("Enter")

        card = page.locator("li[data-alert-id='manus-watch']")
        expect(card).to_be_visible(timeout=WAIT_MS)
        stored = alerts_served(demo)["manus-watch"]
        assert stored["scenario_ids"] == [MANUS]
        assert stored["condition"] == {"crosses": threshold / 100}
        assert stored["url"] == receiver.url
        expect(card.locator("[data-condition]")).to_have_text(
            f"the probability crosses {threshold:.1f}%"
        )
        expect(card.locator("[data-secret]")).to_have_text("kept by the service, never shown")
        expect(card.locator("[data-url]")).to_have_text(receiver.url)

        # The deliveries, opened by keyboard, then refreshed while open.
        tab_to(page, "li[data-alert-id='manus-watch'] summary")
        page.keyboard.press("Enter")
        deliveries = card.locator(".alert-deliveries")
        expect(deliveries).to_contain_text("None yet", timeout=WAIT_MS)
        with httpx.Client(base_url=demo.base_url, timeout=30) as client:
            notifier_serves(client, MANUS)
            response = client.post("/v1/events", json=mofcom_review("MOFCOM opens a review"))
            assert response.status_code == 201, response.text
        receiver.wait_for(1)
        row = deliveries.locator("tbody tr")
        expect(row).to_have_attribute("data-status", "succeeded", timeout=WAIT_MS)
        served = httpx.get(f"{demo.base_url}/v1/alerts/manus-watch/deliveries").json()
        (delivery,) = served["deliveries"]
        expect(row.locator("td").nth(1)).to_have_text(MANUS)
        expect(row.locator("td").nth(2)).to_have_text("succeeded")
        expect(row.locator("td").nth(3)).to_have_text(str(delivery["attempts"]))
        expect(row.locator("td").nth(4)).to_have_text(str(delivery["last_status"]))
        assert SECRET not in page.content()
        screenshots(page, "alerts")

    # Change it: the form comes back filled, the secret is asked for again.
    card.get_by_role("button", name="Edit").click()
    expect(page.locator("#alert-id")).to_have_value("manus-watch")
    expect(page.locator("#alert-crosses")).to_have_value(str(threshold))
    expect(page.locator("#alert-secret")).to_have_value("")
    expect(page.locator(".alert-form")).to_contain_text("never shown back")
    page.locator("#alert-kind-moves").check()
    page.locator("#alert-moves").fill("12.5")
    page.locator("#alert-within").fill("2")
    page.locator("#alert-secret").fill(SECRET)
    page.get_by_role("button", name="Save changes").click()
    expect(card.locator("[data-condition]")).to_have_text(
        "the probability moves by 12.5 pp within 2 days", timeout=WAIT_MS
    )
    changed = alerts_served(demo)["manus-watch"]
    assert changed["version"] == 2
    assert changed["condition"] == {"moves_by": 0.125, "within": "P2D"}

    # Delete, by keyboard: a confirm step first ("Keep it" keeps it), then it is gone.
    tab_to(page, "li[data-alert-id='manus-watch'] [data-action=delete]")
    page.keyboard.press("Enter")
    expect(card.locator(".confirm")).to_contain_text("Delete alert manus-watch?")
    expect(card.locator("[data-action=confirm-delete]")).to_be_focused()
    page.keyboard.press("Tab")
    expect(card.locator("[data-action=keep]")).to_be_focused()
    page.keyboard.press("Enter")
    expect(card.locator("[data-action=delete]")).to_be_focused()
    assert "manus-watch" in alerts_served(demo)
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")  # on "Delete manus-watch", focused by the confirm step
    expect(page.locator("li[data-alert-id='manus-watch']")).to_have_count(0, timeout=WAIT_MS)
    expect(page.locator("#alert-new")).to_be_focused()
    assert "manus-watch" not in alerts_served(demo)
    expect(page.locator("#main .count")).to_have_text("No alerts yet.")


def test_an_unknown_scenario_is_refused_at_its_field_and_nothing_is_stored(
    demo: ServerProcess, page: Page
) -> None:
    open_alerts(page, demo)
    page.get_by_role("button", name="New alert").click()
    page.locator("#alert-id").fill("wrong-scenario")
    page.locator("#alert-scope-some").check()
    page.locator(f"#alert-scenario-{MANUS}").check()
    page.locator("#alert-other").fill("no-such-scenario")
    page.locator("#alert-url").fill("http://127.0.0.1:9/hook")
    page.locator("#alert-secret").fill(SECRET)
    page.locator("#alert-secret").press("Enter")
    other = page.locator("#alert-other")
    # scenario_ids[1] (the typed one, after the box): the message is at that field.
    expect(other).to_be_focused(timeout=WAIT_MS)
    expect(other).to_have_attribute("aria-invalid", "true")
    message_id = other.get_attribute("aria-describedby").split()[0]
    message = page.locator(f"#{message_id}")
    expect(message).to_contain_text("no scenario `no-such-scenario`")
    expect(page.locator("#alert-form-errors")).to_contain_text("scenario_ids[1]")
    expect(page.locator("#alert-form-errors")).to_have_attribute("role", "alert")
    expect(page.locator(f"#alert-scenario-{MANUS}")).not_to_have_attribute("aria-invalid", "true")
    assert "wrong-scenario" not in alerts_served(demo)
    screenshots(page, "alerts-422")
    # Fixed in place, it saves.
    other.fill("")
    page.locator("#alert-secret").fill(SECRET)
    page.get_by_role("button", name="Create alert").click()
    expect(page.locator("li[data-alert-id='wrong-scenario']")).to_be_visible(timeout=WAIT_MS)
    assert alerts_served(demo)["wrong-scenario"]["scenario_ids"] == [MANUS]
