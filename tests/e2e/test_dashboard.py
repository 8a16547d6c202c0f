"""The dashboard (``GET /``) in a real headless Chromium against a real
``tradewinds serve --demo``: what it shows is what the API serves, it updates
without a reload, its waterfall adds up, the keyboard reaches every control, and
with API keys it asks for one.

Debian's chromium (``.ci/ensure-chromium`` installs it), driven by Playwright
(never ``playwright install``). Screenshots at 1280x800 and 390x844 go to
``test-artifacts/screenshots/`` (git-ignored) for a person to look at.
"""

import math
import os
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from service.settings import Settings
from tests.service.test_backtest_scores_api import store_old_result
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).parents[2] / "test-artifacts" / "screenshots"
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
POLL_MS = 1000  # the page's poll interval in these tests (?poll=)
WAIT_MS = 15_000  # how long an expectation may wait for the page to catch up
MANUS = "manus-mofcom-action-2027"  # timing "none": no time term, stable between ticks
NVIDIA = "china-formal-nvidia-ban-2027"  # timing "uniform": has a time term
READ_KEY, ADMIN_KEY = "dashboard-read-key", "dashboard-admin-key"
MINUS = "\u2212"  # the page writes negative log-odds with a real minus sign


def pct(p: float | None) -> str:
    """As the page writes a probability (format.js: ``(p * 100).toFixed(1)``, which
    rounds the exact binary value half up)."""
    if p is None:
        return "—"
    return f"{Decimal(p * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"


def pp(d: float) -> str:
    """As the page writes percentage points (format.js ``points`` of ``d / 100``)."""
    v = Decimal(d / 100 * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    if v == 0:
        return "±0.0 pp"
    return f"{'+' if d > 0 else MINUS}{abs(v)} pp"


def expit(x: float) -> float:
    return 1 / (1 + math.exp(-x))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: run .ci/ensure-chromium (as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        # launch() starts from a fresh temporary user data dir, removed on close.
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("dashboard") / "data"
    with ServerProcess(data, extra_args=("--demo",)) as server:
        yield server


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A new browser context per test: its own sessionStorage and cookies."""
    context = browser.new_context(viewport=SIZES["desktop"])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], errors


def screenshots(page: Page, name: str) -> None:
    """Full-page screenshots at both sizes (the page is left at the desktop size).
    At both, nothing may stick out sideways: wide tables scroll inside their own box."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for size, viewport in SIZES.items():
        page.set_viewport_size(viewport)
        page.wait_for_timeout(150)  # let layout settle after the resize
        page.screenshot(path=SCREENSHOTS / f"{name}-{size}.png", full_page=True)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"{name} is {width} px wide at {size}"
    page.set_viewport_size(SIZES["desktop"])


def open_overview(page: Page, server: ServerProcess) -> None:
    page.goto(f"{server.base_url}/?poll={POLL_MS}#/")
    expect(page.locator("li.scenario").first).to_be_visible(timeout=WAIT_MS)


def test_the_page_and_its_files_are_served_without_a_key_and_offline(
    demo: ServerProcess,
) -> None:
    with httpx.Client(base_url=demo.base_url) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        for path in ("/", "/dashboard/app.js", "/dashboard/dashboard.css"):
            first = client.get(path)
            assert first.status_code == 200
            assert first.headers["cache-control"] == "no-cache"
            etag = first.headers["etag"]
            again = client.get(path, headers={"If-None-Match": etag})
            assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
        assert client.get("/dashboard/nothing.js").status_code == 404
    assert "http" not in page.text.replace(demo.base_url, "")  # nothing from elsewhere


def test_the_overview_shows_every_scenario_as_the_api_serves_it(
    page: Page, demo: ServerProcess
) -> None:
    open_overview(page, demo)
    forecasts = httpx.get(f"{demo.base_url}/v1/forecasts").json()["forecasts"]
    expect(page.locator("li.scenario")).to_have_count(len(forecasts))
    expect(page.locator("li.scenario svg.spark path.line")).to_have_count(len(forecasts))
    # One snapshot of what the page shows, and the API's answer for the same as_of.
    shown = page.evaluate(
        """() => ({
          asOf: document.querySelector("ul.scenarios").dataset.asOf,
          rows: [...document.querySelectorAll("li.scenario")].map((li) => ({
            id: li.dataset.scenarioId,
            title: li.querySelector("h2").textContent,
            probability: li.querySelector("[data-probability]").textContent,
            status: li.querySelector(".status").textContent.trim(),
          })),
        })"""
    )
    served = httpx.get(f"{demo.base_url}/v1/forecasts", params={"as_of": shown["asOf"]}).json()
    expected = {
        f["scenario_id"]: (f["title"], pct(f["probability"]), f["status"])
        for f in served["forecasts"]
    }
    got = {r["id"]: (r["title"], r["probability"], r["status"]) for r in shown["rows"]}
    assert got.keys() == expected.keys()
    words = {
        "open": "Open",
        "resolved_yes": "Resolved: yes",
        "resolved_no": "Resolved: no",
        "expired": "Expired",
        "annulled": "Annulled",
    }
    for scenario_id, (title, probability, status) in expected.items():
        assert got[scenario_id][:2] == (title, probability), scenario_id
        assert got[scenario_id][2].endswith(words[status]), scenario_id
    screenshots(page, "overview")

    scenarios = httpx.get(f"{demo.base_url}/v1/scenarios").json()["scenarios"]
    tagged = {sc["id"] for sc in scenarios if "nvidia" in sc["definition"].get("tags", [])}
    page.get_by_label("Tag", exact=True).select_option("nvidia")
    expect(page.locator("li.scenario:visible")).to_have_count(len(tagged))
    visible = page.locator("li.scenario:visible").evaluate_all(
        "(lis) => lis.map((li) => li.dataset.scenarioId)"
    )
    assert set(visible) == tagged
    page.get_by_label("Tag", exact=True).select_option("")
    page.get_by_label("Open only").check()
    open_count = sum(f["status"] == "open" for f in served["forecasts"])
    expect(page.locator("li.scenario:visible")).to_have_count(open_count)
    page.get_by_label("Search").fill("manus")
    expect(page.locator("li.scenario:visible")).to_have_count(1)
    expect(page.locator("li.scenario:visible h2")).to_have_text(expected[MANUS][0])


def test_the_waterfall_adds_up_to_the_served_probability(page: Page, demo: ServerProcess) -> None:
    for scenario_id in (MANUS, NVIDIA):
        page.goto(f"{demo.base_url}/?poll={POLL_MS}#/scenario/{scenario_id}")
        table = page.locator("table.waterfall")
        expect(table).to_be_visible(timeout=WAIT_MS)
        shown = page.evaluate(
            """() => {
              const t = document.querySelector("table.waterfall");
              const rows = [...t.querySelectorAll("tbody tr")];
              return {
                kinds: rows.map((r) => r.dataset.kind),
                logOdds: rows.map((r) => Number(r.dataset.logOdds)),
                effects: rows.map((r) => r.querySelector("[data-effect]").textContent),
                sum: t.querySelector("[data-logit-sum]").textContent,
                probability: t.querySelector("[data-final-probability]").textContent,
                headline: document.querySelector(".headline [data-probability]").textContent,
                asOf: document.querySelector(".facts").textContent,
              };
            }"""
        )
        served = httpx.get(f"{demo.base_url}/v1/forecasts/{scenario_id}").json()
        kinds = [c["kind"] for c in served["contributions"]]
        assert shown["kinds"] == kinds
        # The exact numbers the page drew add up to the served logit and probability ...
        assert math.fsum(shown["logOdds"]) == pytest.approx(served["logit"], abs=1e-9)
        assert expit(math.fsum(shown["logOdds"])) == pytest.approx(served["probability"], 1e-9)
        assert shown["probability"] == shown["headline"] == pct(served["probability"])
        # ... and so do the rounded ones it wrote, within their rounding.
        written = [
            float(e.replace("▲", "").replace("▼", "").replace(MINUS, "-").strip())
            for e in shown["effects"]
        ]
        total = float(shown["sum"].replace(MINUS, "-"))
        assert abs(sum(written) - total) <= 0.0005 * (len(written) + 1)
        assert total == pytest.approx(served["logit"], abs=0.0005)
        if scenario_id == NVIDIA:
            assert kinds[-1] == "time"
    marks = page.locator("svg.history path.mark")
    expect(marks).to_have_count(sum(k == "event" for k in kinds))
    expect(page.locator("svg.history path.band95")).to_have_count(1)
    expect(page.locator("svg.history path.band80")).to_have_count(1)
    screenshots(page, "scenario")


@pytest.mark.parametrize(
    ("scenario_id", "closed_as"),
    [
        ("tech-grand-bargain-2026", "expired at its deadline"),
        ("us-h20-approval-2025", "resolved yes"),
    ],
)
def test_a_closed_scenario_is_explained_just_before_it_closed(
    page: Page, demo: ServerProcess, scenario_id: str, closed_as: str
) -> None:
    """Issue 15, point 5: the waterfall of a closed scenario (the grand bargain
    expired at its deadline and was resolved "no" a second later) has bars, says when
    it is explained, and shows each event's effect now and when it happened."""
    page.goto(f"{demo.base_url}/?poll=60000#/scenario/{scenario_id}")
    table = page.locator("table.waterfall")
    expect(table).to_be_visible(timeout=WAIT_MS)
    served = httpx.get(f"{demo.base_url}/v1/forecasts/{scenario_id}").json()
    explained = served["explained"]
    assert served["status"] != "open"
    at = f"{explained['at'][:10]} {explained['at'][11:19]} UTC"
    expect(page.locator("p.explained")).to_have_text(
        f"Explained at {at}, just before it closed ({closed_as}),"
        f" when it was {pct(explained['probability'])}."
    )
    expect(page.get_by_text("No contributions to show")).to_have_count(0)
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(len(served["contributions"]))
    events = [c for c in served["contributions"] if c["kind"] == "event"]
    assert events
    expect(
        table.locator("tbody svg.wbar rect.up, tbody svg.wbar rect.down, tbody svg.wbar rect.prior")
    ).to_have_count(len(served["contributions"]) + len(events))
    expect(table.locator("tbody svg.wbar rect.then")).to_have_count(len(events))
    shown = rows.evaluate_all("(trs) => trs.map((tr) => Number(tr.dataset.pp))")
    assert math.fsum(shown) == pytest.approx(100 * explained["probability"], abs=1e-9)
    then = table.locator("[data-then] .pp").all_text_contents()
    assert then == [pp(c["pp_then"]) for c in events]
    expect(table.locator("[data-final-probability]")).to_have_text(pct(explained["probability"]))
    screenshots(page, f"scenario-closed-{scenario_id}")


def tab_through(page: Page) -> tuple[set[str], set[str], list[str]]:
    """Every visible interactive element of the page, the ones Tab reaches (from the
    top of the document, until focus comes back round), and any reached element
    without a visible focus outline."""
    page.evaluate(
        """() => {
          const selector = 'a[href], button, input, select, textarea, summary, [tabindex]';
          let n = 0;
          for (const el of document.querySelectorAll(selector)) {
            el.dataset.tabProbe = String(n++);
          }
          document.activeElement?.blur();
        }"""
    )
    interactive = set(
        page.evaluate(
            """() => [...document.querySelectorAll('[data-tab-probe]')]
                .filter((el) => el.tabIndex >= 0 && !el.disabled
                  && !el.closest('[hidden], dialog:not([open])')
                  && !el.closest('details:not([open]) > :not(summary)')
                  && el.getClientRects().length > 0)
                .map((el) => el.dataset.tabProbe)"""
        )
    )
    reached: list[str] = []
    unmarked: list[str] = []
    for _ in range(3 * len(interactive) + 10):  # a date input takes a Tab per part
        page.keyboard.press("Tab")
        probe = page.evaluate(
            """() => {
              const el = document.activeElement;
              if (!el || el === document.body) return null;
              const style = getComputedStyle(el);
              const visible = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
              return [el.dataset.tabProbe ?? el.tagName, visible];
            }"""
        )
        if probe is None:
            continue
        if reached and probe[0] == reached[0]:
            break
        if reached and probe[0] == reached[-1]:
            continue
        reached.append(probe[0])
        if not probe[1]:
            unmarked.append(probe[0])
    return interactive, set(reached), unmarked


@pytest.mark.parametrize("view", ["#/", f"#/scenario/{NVIDIA}", "#/events", "#/backtests"])
def test_tab_reaches_every_control_with_a_visible_focus(
    page: Page, demo: ServerProcess, view: str
) -> None:
    page.goto(f"{demo.base_url}/?live=poll&poll=60000{view}")  # networkidle: no stream
    expect(page.locator("#view-title")).to_be_visible(timeout=WAIT_MS)
    page.wait_for_load_state("networkidle")
    interactive, reached, unmarked = tab_through(page)
    assert len(interactive) >= 4
    assert interactive - reached == set()
    assert unmarked == []


@pytest.mark.parametrize("live", ["stream", "poll"])
def test_a_new_event_changes_the_shown_probability_without_a_reload(
    page: Page, demo: ServerProcess, live: str
) -> None:
    """Over the forecast stream, and over ETag polling (the fallback)."""
    page.goto(f"{demo.base_url}/?poll={POLL_MS}&live={live}#/")
    expect(page.locator("body")).to_have_attribute("data-live", live, timeout=WAIT_MS)
    shown = page.locator(f'li[data-scenario-id="{MANUS}"] [data-probability]')
    before = httpx.get(f"{demo.base_url}/v1/forecasts/{MANUS}").json()
    expect(shown).to_have_text(pct(before["probability"]), timeout=WAIT_MS)
    page.evaluate("() => { window.notReloaded = true; }")
    title_link = page.locator(f'li[data-scenario-id="{MANUS}"] h2 a')
    title_link.focus()
    occurred = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    receipt = httpx.post(
        f"{demo.base_url}/v1/events",
        json={
            "kind": "regulatory_action",
            "occurred_at": occurred,
            "summary": f"MOFCOM opens a formal investigation into the Manus deal ({live})",
            "authority": "China Ministry of Commerce",
            "target_company": "Manus",
            "action": "formal investigation",
        },
    )
    assert receipt.status_code == 201, receipt.text
    after = httpx.get(
        f"{demo.base_url}/v1/forecasts/{MANUS}",
        params={"min_position": receipt.json()["position"]},
    ).json()
    assert pct(after["probability"]) != pct(before["probability"])
    expect(shown).to_have_text(pct(after["probability"]), timeout=WAIT_MS)
    assert page.evaluate("() => window.notReloaded") is True
    expect(title_link).to_be_focused()  # the update did not take the keyboard focus away
    expect(page.locator("#announcer")).to_contain_text(pct(after["probability"]))


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("dashboard-keyed") / "data"
    keys = f"{READ_KEY}:read,{ADMIN_KEY}:admin"
    with ServerProcess(data, extra_args=("--demo",), env={"TRADEWINDS_API_KEYS": keys}) as server:
        yield server


def test_with_api_keys_the_page_asks_for_a_read_key_and_keeps_it_in_the_tab(
    page: Page, keyed: ServerProcess
) -> None:
    assert httpx.get(f"{keyed.base_url}/v1/forecasts").status_code == 401
    page.goto(f"{keyed.base_url}/?poll={POLL_MS}#/")
    dialog = page.locator("#key-dialog")
    expect(dialog).to_be_visible(timeout=WAIT_MS)
    expect(dialog).to_contain_text("read scope")
    screenshots(page, "key-dialog")
    page.get_by_role("button", name="Cancel").click()  # declined: asked again only on request
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name="Enter API key").click()
    expect(dialog).to_be_visible()
    page.get_by_label("API key", exact=True).fill("not-a-key")
    page.get_by_role("button", name="Use this key").click()
    expect(dialog).to_be_visible()  # refused: asked again
    page.get_by_label("API key", exact=True).fill(READ_KEY)
    page.get_by_role("button", name="Use this key").click()
    expect(dialog).to_be_hidden()
    forecasts = httpx.get(
        f"{keyed.base_url}/v1/forecasts", headers={"Authorization": f"Bearer {READ_KEY}"}
    ).json()["forecasts"]
    expect(page.locator("li.scenario")).to_have_count(len(forecasts), timeout=WAIT_MS)
    # The stream is read with fetch, so the key goes along as a header there too.
    expect(page.locator("body")).to_have_attribute("data-live", "stream")
    storage = page.evaluate(
        "() => [JSON.stringify(sessionStorage), JSON.stringify(localStorage), document.cookie]"
    )
    assert READ_KEY in storage[0]
    assert READ_KEY not in storage[1]
    assert storage[2] == ""


def all_events(server: ServerProcess, **params: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after = 0
    while True:
        page = httpx.get(
            f"{server.base_url}/v1/events", params={"after": after, "limit": 1000, **params}
        ).json()
        found.extend(page["events"])
        if page["next_after"] is None or not page["events"]:
            return found
        after = page["next_after"]


def test_the_events_view_lists_the_latest_first_with_what_each_moved(
    page: Page, demo: ServerProcess
) -> None:
    page.goto(f"{demo.base_url}/?poll=60000#/events")
    items = page.locator("ol.event-list > li")
    expect(items.first).to_be_visible(timeout=WAIT_MS)
    events = all_events(demo)
    newest = [e["event_id"] for e in reversed(events)][:50]
    assert items.evaluate_all("(lis) => lis.map((li) => li.dataset.eventId)") == newest
    # The MOFCOM review of the Manus deal moved the Manus scenario by ln 2.
    review = page.locator('li[data-event-id="7f3a0000-0000-4000-8000-000000000055"]')
    expect(review.locator(".moved-list")).to_contain_text("+0.693")
    expect(review.locator(".moved-list a").first).to_have_attribute("href", f"#/scenario/{MANUS}")
    screenshots(page, "events")

    page.get_by_label("Kind").select_option("negotiation")
    newest_of_kind = [e["event_id"] for e in reversed(all_events(demo, kind="negotiation"))]
    negotiations = newest_of_kind[:50]
    # The view shows 50 before and after the filter: wait for the filtered list itself.
    expect(items.first).to_have_attribute("data-event-id", negotiations[0], timeout=WAIT_MS)
    expect(items).to_have_count(len(negotiations), timeout=WAIT_MS)
    assert items.evaluate_all("(lis) => lis.map((li) => li.dataset.eventId)") == negotiations


def test_a_backtest_asks_for_an_admin_key_then_shows_progress_and_scores(
    page: Page, keyed: ServerProcess
) -> None:
    page.goto(f"{keyed.base_url}/?poll=60000#/backtests")
    dialog = page.locator("#key-dialog")
    expect(dialog).to_be_visible(timeout=WAIT_MS)
    page.get_by_label("API key", exact=True).fill(READ_KEY)
    page.get_by_role("button", name="Use this key").click()
    # A read key is not shown a form that can only fail: it is offered an admin key.
    expect(page.get_by_role("button", name="Start backtest")).to_have_count(0)
    page.get_by_role("button", name="Enter an admin key to start a backtest").click()
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("admin scope")
    page.get_by_label("API key", exact=True).fill(ADMIN_KEY)
    page.get_by_role("button", name="Use this key").click()
    page.get_by_label("From").fill("2025-01-01")
    page.get_by_label("To").fill("2026-11-01")
    page.get_by_label("Step").select_option("P30D")
    page.get_by_role("button", name="Start backtest").click()
    expect(page).to_have_url(re.compile(r"#/backtests/[0-9a-f-]{36}$"), timeout=WAIT_MS)
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "done", timeout=60_000)
    backtest_id = page.url.rsplit("/", 1)[1]
    served = httpx.get(
        f"{keyed.base_url}/v1/backtests/{backtest_id}",
        headers={"Authorization": f"Bearer {READ_KEY}"},
    ).json()
    assert served["request"]["step"] == "P30D"
    scenario_rows = page.locator("table").nth(1).locator("tbody tr")
    expect(scenario_rows).to_have_count(len(served["scores"]["scenarios"]))
    image = page.locator("img.reliability")
    expect(image).to_have_attribute("src", re.compile("^blob:"), timeout=WAIT_MS)
    page.wait_for_function("() => document.querySelector('img.reliability').naturalWidth > 0")
    screenshots(page, "backtest")


def finished_backtest(server: ServerProcess, **request: Any) -> dict[str, Any]:
    """Start a backtest through the API and wait (bounded) for its answer."""
    window = {"from": "2025-01-01T00:00:00Z", "to": "2026-11-01T00:00:00Z", "step": "P7D"}
    started = httpx.post(f"{server.base_url}/v1/backtests", json={**window, **request})
    assert started.status_code == 202, started.text
    path = f"{server.base_url}/v1/backtests/{started.json()['id']}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body: dict[str, Any] = httpx.get(path).json()
        if body["status"] in ("done", "failed"):
            assert body["status"] == "done", body
            return body
        time.sleep(0.1)
    raise TimeoutError(path)


def verdict_word(interval: list[float]) -> str:
    lo, hi = interval
    return "Worse than" if lo > 0 else "Better than" if hi < 0 else "Not distinguishable from"


def effect(x: float) -> str:
    """The word the page puts before a rule's effect."""
    return "no effect" if signed(x) == "±0.000" else "helped" if x > 0 else "hurt"


def signed(x: float) -> str:
    """As the page writes a rule's effect: three decimals, a real minus sign."""
    text = f"{abs(x):.3f}"
    if float(text) == 0:
        return "±0.000"
    return f"{'+' if x > 0 else MINUS}{text}"


def test_a_finished_backtest_says_in_words_how_it_did_and_ranks_each_scenarios_rules(
    page: Page, demo: ServerProcess
) -> None:
    served = finished_backtest(demo)
    overall = served["scores"]["overall"]
    page.goto(f"{demo.base_url}/?poll=60000#/backtests/{served['id']}")
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "done", timeout=WAIT_MS)

    sentences = page.locator(".verdicts li")
    expect(sentences).to_have_count(len(served["summary"]))
    shown = [t.split(maxsplit=1)[1] for t in sentences.all_inner_texts()]  # after the mark
    assert shown == served["summary"]
    prior = next(s for s in shown if " the prior alone: " in s)
    assert prior.startswith(verdict_word(overall["vs_prior_ci"]))
    half = next(s for s in shown if " always-50%: " in s)
    assert half.startswith(verdict_word(overall["vs_half_ci"]))
    assert any(f"Brier {overall['brier']:.3f} vs {overall['brier_timing']:.3f}" in s for s in shown)

    murphy = page.get_by_role("table", name=re.compile("^Murphy decomposition"))
    for term, label in (("reliability", "Reliability"), ("resolution", "Resolution")):
        row = murphy.get_by_role("row", name=re.compile(f"^{label}"))
        expect(row).to_contain_text(f"{overall['murphy'][term]:.3f}")
    expect(murphy).to_contain_text("lower is better")
    expect(murphy).to_contain_text("higher is better")
    expect(murphy).to_contain_text("not in the model's control")

    words = set()
    for scenario in served["scores"]["scenarios"]:
        card = page.locator(f'.rule-card[data-scenario="{scenario["scenario_id"]}"]')
        ranked = sorted(scenario["rules"], key=lambda r: (-r["delta_brier"], r["rule"]))
        rows = card.locator("tbody tr")
        assert rows.evaluate_all("(trs) => trs.map((tr) => tr.dataset.rule)") == [
            r["rule"] for r in ranked
        ]
        for row, rule in ((rows.first, ranked[0]), (rows.last, ranked[-1])):
            words.add(effect(rule["delta_brier"]))
            expect(row).to_contain_text(effect(rule["delta_brier"]))
            expect(row).to_contain_text(signed(rule["delta_brier"]))
    assert {"helped", "hurt"} <= words
    page.wait_for_function("() => document.querySelector('img.reliability').naturalWidth > 0")
    screenshots(page, "backtest-in-words")


def test_a_backtest_stored_before_the_more_scores_shows_what_it_has(
    page: Page, tmp_path: Path
) -> None:
    backtest_id = uuid.uuid4()
    data = tmp_path / "data"
    store_old_result(Settings(data_dir=data), backtest_id)
    with ServerProcess(data) as server:
        page.goto(f"{server.base_url}/?poll=60000#/backtests/{backtest_id}")
        status = page.locator("[data-status]")
        expect(status).to_have_attribute("data-status", "done", timeout=WAIT_MS)
        overall = page.get_by_role("table", name=re.compile("^Over every scenario"))
        expect(overall.get_by_role("row", name=re.compile("^Brier score"))).to_contain_text("0.200")
        expect(page.locator(".verdicts li").first).to_have_text(
            re.compile(r"Brier 0\.200 over 2 scenarios \(lower is better")
        )
        expect(page.get_by_text("stored before the rules' effects were computed")).to_be_visible()
        expect(page.get_by_text("stored before the Murphy decomposition")).to_be_visible()
