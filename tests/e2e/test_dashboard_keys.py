"""Issue 18 point 5 in a real headless Chromium against a real ``tradewinds serve
--demo`` started with read, write and admin keys: a read-only key never sees a
control that can only fail (no write form, no Save/Delete/Retract/Resolve button;
only buttons that ask for a key); a write key does not see the admin views; a key
of the right scope entered through such a button draws the form in place, without
a reload; the key lives in sessionStorage only; "Forget key" takes the forms away.

Every write control carries ``data-write="write"|"admin"`` (session.js's writeGate
puts it on the box it draws a form into; views put it on per-row controls), so
"no write control" is "no element matching [data-write]", backed by a look for
forms and write-sounding buttons that are not marked."""

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_dashboard import MANUS, WAIT_MS, browser, page
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
__all__ = ["browser", "page"]  # the fixtures, shared with test_dashboard
READ, WRITE, ADMIN = "keys-test-read", "keys-test-write", "keys-test-admin"
KEY_STORAGE = "tradewinds.apiKey"
ALERT = "keys-test-alert"
VIEWS = {
    "overview": ("#/", "li.scenario"),
    "scenario": (f"#/scenario/{MANUS}", "[data-probability]"),
    "events": ("#/events", "li[data-event-id]"),
    "backtests": ("#/backtests", "#h-recent"),
    "track-record": ("#/track-record", "#tr-status"),
    "alerts": ("#/alerts", ".write-gate"),
    "editor": (f"#/scenario/{MANUS}/edit", ".write-gate"),
    "new-scenario": ("#/scenarios/new", ".write-gate"),
}
# Buttons that write (or open a form that does), whatever view they are on.
WRITE_WORDS = re.compile(
    r"^(save|delete|retract|resolve|create|edit|new |start backtest|compute it again|try the)",
    re.IGNORECASE,
)

# Every [data-write] element; visible forms in <main> other than filters; visible
# write-sounding buttons that are not ask-key buttons.
WRITE_CONTROLS = """(words) => {
  const re = new RegExp(words, "i");
  const visible = (el) => el.getClientRects().length > 0 && !el.closest("[hidden], dialog");
  const out = [...document.querySelectorAll("[data-write]")].map((el) =>
    `[data-write=${el.dataset.write}] ${el.tagName} ${el.textContent.slice(0, 60)}`);
  for (const form of document.querySelectorAll("main form:not(.filters)")) {
    const name = form.getAttribute("aria-labelledby") || form.className;
    if (visible(form)) out.push(`form ${name}`);
  }
  for (const b of document.querySelectorAll("main button, main [role=button]")) {
    if (visible(b) && !b.classList.contains("ask-key") && re.test(b.textContent.trim()))
      out.push(`button ${b.textContent.trim()}`);
  }
  return out;
}"""


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("dashboard-keys") / "data"
    keys = f"{READ}:read,{WRITE}:write,{ADMIN}:admin"
    env = {"TRADEWINDS_API_KEYS": keys, "TRADEWINDS_WEBHOOK_ALLOW_PRIVATE": "1"}
    with ServerProcess(data, extra_args=("--demo",), env=env) as server:
        body = {"condition": {"crosses": 0.5}, "url": "http://127.0.0.1:9/hook", "secret": "s"}
        admin = {"Authorization": f"Bearer {ADMIN}"}
        created = httpx.put(f"{server.base_url}/v1/alerts/{ALERT}", json=body, headers=admin)
        assert created.status_code == 201, created.text
        yield server


def enter_key(page: Page, key: str) -> None:
    """Answer the key dialog (it is open) with ``key``."""
    expect(page.locator("#key-dialog")).to_be_visible(timeout=WAIT_MS)
    page.get_by_label("API key", exact=True).fill(key)
    page.get_by_role("button", name="Use this key").click()
    expect(page.locator("#key-dialog")).to_be_hidden(timeout=WAIT_MS)


def open_with(page: Page, server: ServerProcess, key: str, view: str) -> None:
    """Open the page at ``view``, give ``key`` when asked, wait until the view drew."""
    hash_, ready = VIEWS[view]
    page.goto(f"{server.base_url}/?live=poll&poll=60000{hash_}")
    enter_key(page, key)
    expect(page.locator(ready).first).to_be_attached(timeout=WAIT_MS)
    settle(page)


def go(page: Page, view: str) -> None:
    hash_, ready = VIEWS[view]
    page.evaluate("(h) => { location.hash = h; }", hash_)
    expect(page.locator(ready).first).to_be_attached(timeout=WAIT_MS)
    settle(page)


def settle(page: Page) -> None:
    """Wait until every write gate has drawn (a form or the ask-key button) and the
    view's first requests are answered."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('.write-gate')].every((g) => g.childElementCount)",
        timeout=WAIT_MS,
    )
    page.wait_for_timeout(700)


def write_controls(page: Page) -> list[str]:
    """Every write control on the page, marked or not (described, for the message)."""
    found: list[str] = page.evaluate(WRITE_CONTROLS, WRITE_WORDS.pattern)
    return found


@pytest.mark.parametrize("view", list(VIEWS))
def test_a_read_key_sees_no_write_control_on_any_view(
    keyed: ServerProcess, page: Page, view: str
) -> None:
    open_with(page, keyed, READ, view)
    assert write_controls(page) == []
    for gate in page.locator(".write-gate").all():
        expect(gate.locator("> *")).to_have_count(1)
        expect(gate.locator("button.ask-key")).to_have_text(re.compile(r"^Enter an? \w+ key to "))
    expect(page.locator("#nav-alerts")).to_be_hidden()


def test_a_write_key_is_not_shown_the_alerts_but_asked_for_an_admin_key(
    keyed: ServerProcess, page: Page
) -> None:
    open_with(page, keyed, WRITE, "alerts")
    expect(page.locator("#nav-alerts")).to_be_hidden()
    expect(page.locator("#alerts-need-admin")).to_be_visible()
    expect(page.locator("[data-write='admin']")).to_have_count(0)
    expect(page.locator(f"[data-alert-id='{ALERT}']")).to_have_count(0)
    ask = page.locator(".write-gate button.ask-key")
    expect(ask).to_have_text("Enter an admin key to see and edit alerts")
    assert write_controls(page) == []


def test_an_admin_key_given_through_the_ask_key_button_draws_the_forms_in_place(
    keyed: ServerProcess, page: Page
) -> None:
    open_with(page, keyed, READ, "alerts")
    page.evaluate("() => { window.notReloaded = true; }")
    ask = page.locator(".write-gate button.ask-key")
    ask.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#key-message")).to_contain_text("admin scope")
    page.keyboard.type(ADMIN)
    page.keyboard.press("Enter")
    expect(page.locator(f"[data-alert-id='{ALERT}']")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator(".write-gate")).to_have_attribute("data-write", "admin")
    expect(page.get_by_role("button", name="New alert")).to_be_visible()
    expect(page.locator("#nav-alerts")).to_be_visible()
    expect(page.locator("#alerts-need-admin")).to_be_hidden()
    assert page.evaluate("() => window.notReloaded === true")

    # The key is in this tab's sessionStorage only.
    stored = page.evaluate(
        "() => [JSON.stringify(sessionStorage), JSON.stringify(localStorage), document.cookie]"
    )
    assert ADMIN in stored[0]
    assert ADMIN not in stored[1]
    assert stored[2] == ""
    assert page.context.cookies() == []
    assert page.evaluate("(k) => sessionStorage.getItem(k)", KEY_STORAGE) == ADMIN

    # Forget key: the forms go (and with no key the page asks for a read key again).
    page.get_by_role("button", name="Forget key").click()
    expect(page.locator("[data-write]")).to_have_count(0, timeout=WAIT_MS)
    expect(page.locator(f"[data-alert-id='{ALERT}']")).to_have_count(0)
    expect(page.locator("#nav-alerts")).to_be_hidden()
    assert page.evaluate("(k) => sessionStorage.getItem(k)", KEY_STORAGE) is None
    assert page.evaluate("() => window.notReloaded === true")


def test_an_admin_key_is_never_asked_for_a_key_on_any_view(
    keyed: ServerProcess, page: Page
) -> None:
    open_with(page, keyed, ADMIN, "overview")
    for view in VIEWS:
        go(page, view)
        expect(page.locator("button.ask-key")).to_have_count(0)
        for gate in page.locator(".write-gate").all():
            expect(gate).to_have_attribute("data-write", re.compile("^(write|admin)$"))
        expect(page.locator("#key-dialog")).to_be_hidden()
    expect(page.locator("#nav-alerts")).to_be_visible()
    go(page, "alerts")
    row = page.locator(f"[data-alert-id='{ALERT}'] [data-write='admin']")
    expect(row.get_by_role("button", name="Edit")).to_be_visible()
    expect(row.get_by_role("button", name="Delete")).to_be_visible()


def test_a_write_key_gets_event_entry_but_not_the_editor_or_resolutions(
    keyed: ServerProcess, page: Page
) -> None:
    open_with(page, keyed, WRITE, "events")
    expect(page.locator("#event-form")).to_be_visible()
    for view in ("scenario", "editor", "new-scenario", "backtests", "track-record"):
        go(page, view)
        expect(page.locator("[data-write='admin']")).to_have_count(0)
        for gate in page.locator(".write-gate[data-scope='admin']").all():
            expect(gate.locator("button.ask-key")).to_have_text(re.compile(r"^Enter an admin key"))
    go(page, "scenario")
    expect(page.get_by_role("button", name=re.compile("^(Resolve|Retract)"))).to_have_count(0)
