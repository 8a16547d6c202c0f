"""Issue 17, point 4 and the dashboard's part of point 2, in a real headless Chromium
against real ``tradewinds serve`` processes: the scenario page shows the calibrated
probability beside the model's as the API serves it, the recalibration (alpha, beta)
in words, each rule's suggested Bayes factor as suggested-rules serves it, and for an
admin a one-click what-if backtest of the suggestions (never offered to a read-only
key); with fewer than 5 closed scenarios it says there is no calibration yet.
Screenshots at 1280 and 390 px go to test-artifacts/screenshots/o-*.png."""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import SCENARIO
from tests.e2e.test_dashboard import (
    ADMIN_KEY,
    MANUS,
    POLL_MS,
    READ_KEY,
    SCREENSHOTS,
    WAIT_MS,
    browser,
    page,
    pct,
    screenshots,
)
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
__all__ = ["browser", "page"]  # the fixtures, shared with test_dashboard
TIMES, DASH = "\u00d7", "\u2013"  # multiplication sign before a factor, en dash in an interval
KEY_STORAGE = "tradewinds.apiKey"  # api.js keeps the key under this name in sessionStorage


def words(alpha: float, beta: float) -> str:
    """The sentence the page should write for (alpha, beta): within 0.05 of 0 and 1
    it says the rules were right; beta < 1 overconfident, alpha > 0 more often."""
    weighed, centred = abs(beta - 1) < 0.05, abs(alpha) < 0.05
    if weighed and centred:
        return (
            "The rules have been well calibrated: evidence counts about its stated weight,"
            " and outcomes came about as often as forecast."
        )
    if weighed:
        evidence = "The rules' evidence has been about right: it counts about its stated weight"
    elif beta < 1:
        evidence = f"The rules have been overconfident: evidence counts {beta:.2f} of its"
        evidence += " stated weight"
    else:
        evidence = f"The rules have been underconfident: evidence counts {beta:.2f} times"
        evidence += " its stated weight"
    if centred:
        outcomes = "outcomes came about as often as forecast"
    else:
        more = "more" if alpha > 0 else "less"
        outcomes = f"outcomes came {more} often than forecast (alpha {alpha:.2f})"
    return f"{evidence}; {outcomes}."


def interval(iv: list[float]) -> str:
    """As format.js ``range`` writes an interval."""
    return f"{pct(iv[0])[:-1]}{DASH}{pct(iv[1])}"


def shots(page: Page, name: str) -> None:
    screenshots(page, f"o-{name}")  # also checks that nothing sticks out sideways


def finished(client: httpx.Client, backtest_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/v1/backtests/{backtest_id}").json()
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.3)
    raise TimeoutError(backtest_id)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("calibration") / "data"
    with ServerProcess(data, extra_args=("--demo",)) as server:
        yield server


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("calibration-keyed") / "data"
    keys = f"{READ_KEY}:read,{ADMIN_KEY}:admin"
    with ServerProcess(data, extra_args=("--demo",), env={"TRADEWINDS_API_KEYS": keys}) as server:
        yield server


def open_scenario(page: Page, server: ServerProcess, scenario_id: str) -> None:
    page.goto(f"{server.base_url}/?poll={POLL_MS}#/scenario/{scenario_id}")
    expect(page.locator(".headline [data-calibrated]")).to_be_visible(timeout=WAIT_MS)


def test_the_calibrated_probability_and_the_recalibration_in_words_are_as_served(
    page: Page, demo: ServerProcess
) -> None:
    open_scenario(page, demo, MANUS)
    shown = page.locator(".headline [data-calibrated]")
    as_of = shown.get_attribute("data-as-of")
    with httpx.Client(base_url=demo.base_url) as client:
        served = client.get(f"/v1/forecasts/{MANUS}", params={"as_of": as_of}).json()
        calibration = client.get("/v1/calibration", params={"as_of": as_of}).json()
    calibrated = served["calibrated"]
    assert calibrated is not None
    assert calibrated["probability"] != served["probability"]
    expect(shown).to_have_text(pct(calibrated["probability"]))
    expect(page.locator(".headline [data-calibrated-interval80]")).to_have_text(
        f" (80% interval {interval(calibrated['interval80'])})"
    )
    # The model's probability stays the headline.
    expect(page.locator(".headline p.probability")).to_have_text(pct(served["probability"]))
    expect(page.locator("[data-recalibration]")).to_have_text(
        words(calibration["alpha"], calibration["beta"])
    )
    learnt = page.locator("[data-learnt-from]")
    expect(learnt).to_have_text(f"Learnt from {calibration['n_scenarios']} closed scenarios")
    learnt.click()
    links = page.locator(".learnt-from ul a")
    expect(links).to_have_count(len(calibration["scenario_ids"]))
    hrefs = links.evaluate_all("(as) => as.map((a) => a.getAttribute('href'))")
    assert hrefs == [f"#/scenario/{sid}" for sid in calibration["scenario_ids"]]


@pytest.mark.parametrize(
    ("alpha", "beta"),
    [(0.0, 1.0), (0.04, 0.96), (0.3, 0.7), (-0.2, 1.3), (0.01, 0.5), (-0.5, 1.02), (0.2, 1.0)],
)
def test_the_recalibration_words_for_each_direction(
    page: Page, demo: ServerProcess, alpha: float, beta: float
) -> None:
    page.goto(f"{demo.base_url}/dashboard/index.html")
    sentence = page.evaluate(
        "async ([a, b]) => (await import('/dashboard/calibration.js')).recalibrationWords(a, b)",
        [alpha, beta],
    )
    assert sentence == words(alpha, beta)


def test_the_suggested_factors_are_as_served_and_tried_in_one_click(
    page: Page, demo: ServerProcess
) -> None:
    open_scenario(page, demo, MANUS)
    with httpx.Client(base_url=demo.base_url, timeout=30) as client:
        as_of = page.locator(".headline [data-calibrated]").get_attribute("data-as-of")
        served = client.get(f"/v1/scenarios/{MANUS}/suggested-rules", params={"as_of": as_of})
        suggested = served.json()
        n_of = {s["kinds"]: s["n_matches"] for s in suggested["calibration"]["evidence_scales"]}
        rows = page.locator("table.suggestions tbody tr")
        expect(rows).to_have_count(len(suggested["rules"]))
        for row, rule in zip(rows.all(), suggested["rules"], strict=True):
            assert row.get_attribute("data-rule") == rule["name"]
            expect(row.locator("[data-now]")).to_have_text(f"{TIMES}{rule['bayes_factor']:.3f}")
            expect(row.locator("[data-scale]")).to_have_text(f"{rule['scale']:.3f}")
            expect(row.locator("[data-n]")).to_have_text(str(n_of.get(rule["kinds"], 0)))
            expect(row.locator("[data-suggested]")).to_have_text(
                f"{TIMES}{rule['suggested_bayes_factor']:.3f}"
            )
        assert any(r["suggested_bayes_factor"] != r["bayes_factor"] for r in suggested["rules"])

        page.locator("[data-try-suggestions]").click()
        links = page.locator(".try-result a[data-backtest]")
        expect(links).to_have_count(2, timeout=WAIT_MS)
        current_id, trial_id = links.evaluate_all("(as) => as.map((a) => a.dataset.backtest)")
        current, trial = finished(client, current_id), finished(client, trial_id)
        assert (current["status"], trial["status"]) == ("done", "done")
        assert "rules" not in current["request"] or current["request"]["rules"] is None
        window = ("from", "to", "step")
        assert [trial["request"][k] for k in window] == [current["request"][k] for k in window]
        tried = {r["name"]: r["bayes_factor"] for r in trial["request"]["rules"][MANUS]}
        assert tried == pytest.approx(
            {r["name"]: r["suggested_bayes_factor"] for r in suggested["rules"]}, rel=1e-12
        )
        for key in ("brier", "skill", "log"):
            row = page.locator(f'.try-result tr[data-score="{key}"]')
            expect(row.locator("[data-current]")).to_have_text(
                f"{current['scores']['overall'][key]:.3f}", timeout=WAIT_MS
            )
            expect(row.locator("[data-trial]")).to_have_text(
                f"{trial['scores']['overall'][key]:.3f}"
            )
    assert trial["scores"]["overall"]["brier"] != current["scores"]["overall"]["brier"]
    shots(page, "scenario-calibration")
    page.locator("table.suggestions").scroll_into_view_if_needed()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "o-suggestions-1280.png")


@pytest.mark.parametrize(("key", "offered"), [(READ_KEY, False), (ADMIN_KEY, True)])
def test_only_an_admin_key_is_offered_the_what_if_backtest(
    page: Page, keyed: ServerProcess, key: str, offered: bool
) -> None:
    page.add_init_script(f"sessionStorage.setItem({KEY_STORAGE!r}, {key!r})")
    open_scenario(page, keyed, MANUS)
    expect(page.locator("table.suggestions tbody tr").first).to_be_visible(timeout=WAIT_MS)
    button, hint = page.locator("[data-try-suggestions]"), page.locator("[data-try-needs-admin]")
    if offered:
        expect(button).to_be_visible(timeout=WAIT_MS)
        expect(hint).to_have_count(0)
    else:
        expect(hint).to_contain_text("needs an API key with the admin scope", timeout=WAIT_MS)
        expect(button).to_have_count(0)
        expect(page.locator("#key-dialog")).not_to_be_visible()
        shots(page, "read-only")


def test_with_fewer_than_five_closed_there_is_no_calibration_yet(
    page: Page, tmp_path: Path
) -> None:
    with ServerProcess(tmp_path / "data") as server:
        with httpx.Client(base_url=server.base_url) as client:
            assert client.put("/v1/scenarios/alpha", json=SCENARIO).status_code == 201
            assert client.get("/v1/calibration").json()["alpha"] is None
        open_scenario(page, server, "alpha")
        expect(page.locator("[data-no-calibration]")).to_have_text(
            "No calibration yet: fewer than 5 scenarios have closed (0 so far)."
            " Until then the model's probability is shown alone."
        )
        expect(page.locator(".headline [data-calibrated]")).to_have_text("— (no calibration yet)")
        expect(page.locator("table.suggestions")).to_have_count(0)
        expect(page.locator("[data-try-suggestions]")).to_have_count(0)
        shots(page, "no-calibration")
