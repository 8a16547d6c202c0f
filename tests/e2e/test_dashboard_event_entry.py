"""Event entry in the dashboard's events view, in a real headless Chromium against a
real ``tradewinds serve``: the "Add an event" form is built from the served OpenAPI
schema, checks for look-alikes while the analyst types (storing nothing), saves,
shows a refusal's messages next to their fields, works by keyboard alone and at
390 px; the list sorts by occurrence or recording and retracts; a read key sees no
write control. The browser fixture and helpers are ``test_dashboard``'s."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_dashboard import SIZES, WAIT_MS, browser, pct, screenshots  # noqa: F401
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e

TIME_ZONE = "Asia/Kolkata"  # UTC+05:30 all year: the page must send UTC
READ_KEY, WRITE_KEY = "entry-read-key", "entry-write-key"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data: Path = tmp_path_factory.mktemp("dashboard-event-entry") / "data"
    with ServerProcess(data) as started:
        yield started


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data: Path = tmp_path_factory.mktemp("dashboard-event-entry-keyed") / "data"
    keys = f"{READ_KEY}:read,{WRITE_KEY}:write"
    with ServerProcess(data, env={"TRADEWINDS_API_KEYS": keys}) as started:
        yield started


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:  # noqa: F811
    """A new context per test, in a time zone away from UTC."""
    context = browser.new_context(viewport=SIZES["desktop"], timezone_id=TIME_ZONE)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], errors


def approval(summary: str, occurred_at: str, product: str = "H200") -> dict[str, Any]:
    return {
        "kind": "export_approval",
        "occurred_at": occurred_at,
        "summary": summary,
        "authority": "US Commerce (BIS)",
        "category": "ai_chip",
        "product": product,
        "destination": "CN",
    }


def post(server: ServerProcess, body: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = httpx.post(f"{server.base_url}/v1/events", json=body, headers=headers)
    assert response.status_code == 201, response.text
    receipt: dict[str, Any] = response.json()
    return receipt


def all_events(server: ServerProcess, key: str | None = None) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    found: list[dict[str, Any]] = []
    after = 0
    while True:
        answer = httpx.get(
            f"{server.base_url}/v1/events", params={"after": after, "limit": 1000}, headers=headers
        ).json()
        found.extend(answer["events"])
        if answer["next_after"] is None or not answer["events"]:
            return found
        after = answer["next_after"]


def open_events(page: Page, server: ServerProcess) -> None:
    page.goto(f"{server.base_url}/?poll=1000#/events")
    expect(page.locator("#event-form")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#new-event-kind option")).not_to_have_count(1)


def fill_approval(page: Page, summary: str, occurred_local: str, product: str = "H200") -> None:
    page.locator("#new-event-kind").select_option("export_approval")
    page.locator("#ev-occurred_at").fill(occurred_local)
    page.locator("#ev-summary").fill(summary)
    page.locator("#ev-authority").fill("US Commerce (BIS)")
    page.locator("#ev-category").select_option("ai_chip")
    page.locator("#ev-product").fill(product)
    page.locator("#ev-destination").fill("CN")


def test_the_form_has_each_kinds_fields_from_the_served_schema(
    page: Page, server: ServerProcess
) -> None:
    schema = httpx.get(f"{server.base_url}/schema/openapi.json").json()
    body = schema["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    mapping = body["schema"]["discriminator"]["mapping"]
    open_events(page, server)
    kinds = page.locator("#new-event-kind option").evaluate_all(
        "(os) => os.map((o) => o.value).filter(Boolean)"
    )
    assert kinds == list(mapping)
    filters = page.locator("#event-kind option").evaluate_all(
        "(os) => os.map((o) => o.value).filter(Boolean)"
    )
    assert filters == list(mapping)
    page.locator("#new-event-kind").select_option("tariff_change")
    tariff = schema["components"]["schemas"]["TariffChange"]
    shown = page.locator("#event-form [data-field]").evaluate_all(
        "(fs) => fs.map((f) => f.dataset.field).filter((f) => !f.includes('.'))"
    )
    assert set(shown) == set(tariff["properties"]) - {"kind", "event_id"}
    for name in tariff["required"]:
        if name != "kind":
            expect(page.locator(f'[data-field="{name}"] label .required')).to_have_count(1)
    expect(page.locator('[data-field="sector"] label .required')).to_have_count(1)
    expect(page.locator('[data-field="direction"] label .required')).to_have_count(0)
    # enums with few values are a <select>; country codes an input searching the schema's list
    status = page.locator("#ev-status option")
    expect(status).to_have_count(1 + len(tariff["properties"]["status"]["enum"]))
    countries = tariff["properties"]["imposing"]["enum"]
    expect(page.locator("#ev-imposing")).to_have_attribute("list", "ev-imposing-values")
    expect(page.locator("#ev-imposing-values option")).to_have_count(len(countries))
    rate = tariff["properties"]["rate_after_pct"]
    expect(page.locator("#ev-rate_after_pct")).to_have_attribute("type", "number")
    expect(page.locator("#ev-rate_after_pct")).to_have_attribute("max", str(rate["maximum"]))
    expect(page.locator("#ev-occurred_at")).to_have_attribute("type", "datetime-local")
    expect(page.locator('[data-field="occurred_at"] .offset')).to_have_text("your time, UTC+05:30")
    screenshots(page, "event-entry-form")


def test_an_event_typed_into_the_form_is_stored_in_utc_and_moves_the_forecast(
    page: Page, server: ServerProcess
) -> None:
    scenario = {
        "title": "Chip approvals to China continue",
        "question": "Will more chip approvals follow?",
        "opens_at": "2025-09-01T00:00:00Z",
        "deadline": "2030-06-30T00:00:00Z",
        "prior": 0.2,
        "rules": [
            {
                "name": "chip approvals",
                "match": {"kind": "export_approval", "where": {"product": "B30A"}},
                "bayes_factor": 3,
            }
        ],
    }
    put = httpx.put(f"{server.base_url}/v1/scenarios/chip-approvals-2030", json=scenario)
    assert put.status_code == 201, put.text
    before = httpx.get(f"{server.base_url}/v1/forecasts/chip-approvals-2030").json()
    open_events(page, server)
    fill_approval(page, "Commerce clears B30A sales to China", "2025-12-09T14:30", "B30A")
    tags = page.locator("#ev-tags")
    tags.fill("nvidia")
    tags.press("Enter")
    tags.fill("blackwell, chips")
    expect(page.locator('[data-field="tags"] .chips li')).to_have_count(3)
    page.locator("#ev-source-name").fill("Reuters")
    page.locator("#ev-source-url").fill("https://www.reuters.com/")
    page.locator("#ev-summary").press("Enter")

    saved = page.locator("#event-saved")
    expect(saved).to_contain_text("Saved at position", timeout=WAIT_MS)
    stored = [
        e for e in all_events(server) if e["summary"] == "Commerce clears B30A sales to China"
    ]
    assert len(stored) == 1
    event = stored[0]
    expect(saved).to_contain_text(event["event_id"])
    assert event["occurred_at"] == "2025-12-09T09:00:00Z"  # 14:30 at UTC+05:30
    assert (event["product"], event["destination"], event["category"]) == ("B30A", "CN", "ai_chip")
    assert event["tags"] == ["nvidia", "blackwell", "chips"]
    assert event["source"] == {"name": "Reuters", "url": "https://www.reuters.com/"}

    after = httpx.get(
        f"{server.base_url}/v1/forecasts/chip-approvals-2030",
        params={"min_position": event["position"]},
    ).json()
    assert pct(after["probability"]) != pct(before["probability"])
    item = page.locator(f'li[data-event-id="{event["event_id"]}"]')
    expect(item.locator(".moved-list")).to_contain_text(scenario["title"], timeout=WAIT_MS)
    page.locator("nav a[data-view=overview]").click()
    shown = page.locator('li[data-scenario-id="chip-approvals-2030"] [data-probability]')
    expect(shown).to_have_text(pct(after["probability"]), timeout=WAIT_MS)


def head(server: ServerProcess) -> tuple[int, int]:
    """The last event's position and the forecasts' position: what a write moves."""
    events = all_events(server)
    forecasts = httpx.get(f"{server.base_url}/v1/forecasts").json()
    return (events[-1]["position"] if events else 0, forecasts["position"])


def test_a_possible_duplicate_is_shown_before_saving_and_the_check_stores_nothing(
    page: Page, server: ServerProcess
) -> None:
    first = post(
        server, approval("Commerce clears H100 sales to China", "2025-11-03T20:00:00Z", "H100")
    )
    open_events(page, server)
    at_start = head(server)
    fill_approval(page, "Reuters: US to allow H100 exports", "2025-11-04T09:00", "h100 ")
    looks = page.locator("#looks-like")
    expect(looks.locator(f'li[data-event-id="{first["event_id"]}"]')).to_contain_text(
        "Commerce clears H100 sales to China · export approval · occurred 2025-11-03",
        timeout=WAIT_MS,
    )
    page.locator("#ev-product").fill("H800")  # no longer alike
    expect(looks).to_contain_text("No stored event looks like this draft.", timeout=WAIT_MS)
    assert head(server) == at_start  # the checks stored nothing
    page.locator("#ev-product").fill("H100")
    expect(looks.locator(f'li[data-event-id="{first["event_id"]}"]')).to_have_count(
        1, timeout=WAIT_MS
    )
    screenshots(page, "event-entry-looks-like")
    assert head(server) == at_start
    page.get_by_role("button", name="Add the event").click()
    saved = page.locator("#event-saved")
    expect(saved).to_contain_text("Possible duplicate of an earlier event", timeout=WAIT_MS)
    expect(saved.locator(f'li[data-event-id="{first["event_id"]}"]')).to_have_count(1)
    assert head(server)[0] > at_start[0]


def test_a_refused_event_shows_each_message_next_to_its_field(
    page: Page, server: ServerProcess
) -> None:
    open_events(page, server)
    count = len(all_events(server))
    page.locator("#new-event-kind").select_option("tariff_change")
    page.locator("#ev-summary").fill("A tariff with nothing else")
    page.locator("#ev-summary").press("Enter")
    problems = page.locator("#event-form-problems")
    expect(problems).to_be_visible(timeout=WAIT_MS)
    expect(problems).to_contain_text("The event was not saved")
    for name in ("imposing", "target", "sector", "rate_before_pct", "rate_after_pct", "status"):
        error = page.locator(f"#ev-{name}-error")
        expect(error).to_contain_text(f"requires the field `{name}`")
        expect(page.locator(f"#ev-{name}")).to_have_attribute("aria-invalid", "true")
        described = page.locator(f"#ev-{name}").get_attribute("aria-describedby") or ""
        assert f"ev-{name}-error" in described.split()
    expect(page.locator("#ev-imposing")).to_be_focused()  # the first invalid field
    expect(page.locator("#ev-summary-error")).to_be_hidden()

    for name, value in (("imposing", "US"), ("sector", "semiconductors"), ("status", "effective")):
        locator = page.locator(f"#ev-{name}")
        if name == "status":
            locator.select_option(value)
        else:
            locator.fill(value)
    page.locator("#ev-target").fill("CN, ZZ")
    page.locator("#ev-rate_before_pct").fill("10")
    page.locator("#ev-rate_after_pct").fill("25")
    page.locator("#ev-sector").press("Enter")
    expect(page.locator("#ev-target-error")).to_contain_text("got `ZZ`", timeout=WAIT_MS)
    expect(page.locator("#ev-target")).to_be_focused()
    screenshots(page, "event-entry-refused")

    page.get_by_role("button", name="Remove ZZ").click()
    page.locator("#ev-source-url").fill("ftp://example.org/tariffs")
    page.locator("#ev-sector").press("Enter")
    expect(page.locator("#ev-source-url-error")).to_contain_text("http:// or https://")
    expect(page.locator("#ev-source-url")).to_be_focused()
    expect(page.locator("#ev-target-error")).to_be_hidden()
    assert len(all_events(server)) == count


def listed_ids(page: Page, ids: list[str]) -> list[str]:
    """The order in which the page lists these events (others left out)."""
    shown: list[str] = page.locator("ol.event-list > li").evaluate_all(
        "(lis) => lis.map((li) => li.dataset.eventId)"
    )
    return [i for i in shown if i in ids]


def test_the_list_sorts_by_recording_or_by_occurrence(page: Page, server: ServerProcess) -> None:
    # recorded in this order, occurred in another
    occurred = ["2025-03-02T00:00:00Z", "2025-03-05T00:00:00Z", "2025-03-01T00:00:00Z"]
    receipts = [
        post(
            server, {"kind": "signal", "occurred_at": at, "summary": f"sort {i}", "label": f"s{i}"}
        )
        for i, at in enumerate(occurred)
    ]
    ids = [r["event_id"] for r in receipts]
    open_events(page, server)
    expect(page.locator(f'li[data-event-id="{ids[2]}"]')).to_be_visible(timeout=WAIT_MS)
    assert listed_ids(page, ids) == [ids[2], ids[1], ids[0]]  # newest recorded first (default)
    expect(page.locator("#event-sort")).to_have_value("recorded")
    page.get_by_label("Order").select_option("occurred")
    expect(page.locator("ol.event-list")).to_have_attribute(
        "aria-label", "Events, latest occurred first"
    )
    assert listed_ids(page, ids) == [ids[1], ids[0], ids[2]]
    expect(page.locator("p.count")).to_contain_text("latest occurred first")
    page.get_by_label("Order").select_option("recorded")
    assert listed_ids(page, ids) == [ids[2], ids[1], ids[0]]


def test_an_event_is_retracted_from_the_list_by_keyboard(page: Page, server: ServerProcess) -> None:
    receipt = post(
        server,
        {
            "kind": "signal",
            "occurred_at": "2025-04-01T00:00:00Z",
            "summary": "to retract",
            "label": "r",
        },
    )
    open_events(page, server)
    item = page.locator(f'li[data-event-id="{receipt["event_id"]}"]')
    expect(item).to_be_visible(timeout=WAIT_MS)
    retract = item.get_by_role("button", name="Retract")
    page.locator("#view-title").focus()
    tab_until(page, "document.activeElement.getAttribute('aria-label')", "Retract “to retract”")
    page.keyboard.press("Enter")
    reason = item.get_by_label("Reason for the retraction")
    expect(reason).to_be_focused()
    page.keyboard.press("Escape")  # changed my mind: the form closes, the focus goes back
    expect(reason).to_have_count(0)
    expect(retract).to_be_focused()
    page.keyboard.press("Space")
    expect(reason).to_be_focused()
    page.keyboard.press("Enter")  # no reason: refused on the page, nothing sent
    expect(item.locator(".field-error")).to_have_text("Say why the event is retracted.")
    page.keyboard.type("misreported: the agency denied it")
    screenshots(page, "event-entry-retract")
    reason.focus()
    page.keyboard.press("Enter")
    expect(item.locator("h2")).to_have_class("retracted", timeout=WAIT_MS)
    expect(item).to_contain_text("Retracted")
    expect(item).to_contain_text("misreported: the agency denied it")
    expect(retract).to_have_count(0)
    stored = httpx.get(f"{server.base_url}/v1/events/{receipt['event_id']}").json()
    assert stored["retracted"]["reason"] == "misreported: the agency denied it"


def tab_until(page: Page, probe: str, wanted: str) -> None:
    """Press Tab until ``probe`` (a script expression about the focused element) gives
    ``wanted``."""
    for _ in range(80):
        if page.evaluate(f"() => document.activeElement && ({probe})") == wanted:
            return
        page.keyboard.press("Tab")
    pytest.fail(f"Tab never reached {wanted}")


def tab_to(page: Page, element_id: str) -> None:
    """Press Tab until the element with this id has the focus."""
    tab_until(page, "document.activeElement.id", element_id)


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_form_works_by_keyboard_alone(page: Page, server: ServerProcess, size: str) -> None:
    page.set_viewport_size(SIZES[size])
    open_events(page, server)
    page.locator("#view-title").focus()
    summary = f"Keyboard-only negotiation ({size})"
    tab_to(page, "new-event-kind")
    page.keyboard.type("negotiation")  # a closed <select> picks by typing
    expect(page.locator("#new-event-kind")).to_have_value("negotiation")
    tab_to(page, "ev-summary")
    page.keyboard.type(summary)
    tab_to(page, "ev-parties")
    page.keyboard.type("United States")
    page.keyboard.press("Enter")  # adds a party, does not submit
    page.keyboard.type("China,")
    expect(page.locator('[data-field="parties"] .chips li')).to_have_count(2)
    page.keyboard.type("Mexico")
    page.keyboard.press("Enter")
    page.keyboard.press("Shift+Tab")  # back to the last chip's remove button
    expect(page.locator(":focus")).to_have_attribute("aria-label", "Remove Mexico")
    page.keyboard.press("Space")
    expect(page.locator('[data-field="parties"] .chips li')).to_have_count(2)
    tab_to(page, "ev-stage")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#ev-stage")).to_have_value("breakdown")
    tab_to(page, "ev-venue")
    page.keyboard.type("Geneva")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= SIZES[size]["width"]
    page.keyboard.press("Enter")  # submits
    expect(page.locator("#event-saved")).to_contain_text("Saved at position", timeout=WAIT_MS)
    stored = [e for e in all_events(server) if e["summary"] == summary]
    assert len(stored) == 1
    assert (stored[0]["parties"], stored[0]["stage"], stored[0]["venue"]) == (
        ["United States", "China"],
        "breakdown",
        "Geneva",
    )
    if size == "phone":
        screenshots(page, "event-entry-keyboard")


def test_a_read_key_sees_no_write_control_and_a_write_key_gets_the_form(
    page: Page, keyed: ServerProcess
) -> None:
    post(
        keyed,
        {"kind": "signal", "occurred_at": "2025-05-01T00:00:00Z", "summary": "keyed", "label": "k"},
        WRITE_KEY,
    )
    page.goto(f"{keyed.base_url}/?poll=1000#/events")
    dialog = page.locator("#key-dialog")
    expect(dialog).to_be_visible(timeout=WAIT_MS)
    page.get_by_label("API key", exact=True).fill(READ_KEY)
    page.get_by_role("button", name="Use this key").click()
    items = page.locator("ol.event-list > li")
    expect(items).to_have_count(1, timeout=WAIT_MS)
    ask = page.get_by_role("button", name="Enter a write key to add an event")
    expect(ask).to_be_visible()
    expect(page.locator("#event-form")).to_have_count(0)
    expect(page.locator("[data-write]")).to_have_count(0)
    expect(page.get_by_role("button", name="Retract")).to_have_count(0)
    screenshots(page, "event-entry-read-key")

    ask.click()
    expect(dialog).to_be_visible()
    page.get_by_label("API key", exact=True).fill(WRITE_KEY)
    page.get_by_role("button", name="Use this key").click()
    expect(page.locator("#event-form")).to_be_visible(timeout=WAIT_MS)
    expect(items.first.get_by_role("button", name="Retract")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator('.write-gate[data-write="write"]')).to_have_count(1)
    expect(page.locator('[data-write="write"]:not(.write-gate)')).to_have_count(2)
