"""Issue 18 point 3, the scenario editor, in a real headless Chromium against a real
``tradewinds serve --demo``: a draft rule changes the previewed chart and numbers
(as ``POST .../preview`` answers them) while nothing is stored, and Save records
version 2; a 422 is shown at its field; a suggested Bayes factor applies with one
click; a new scenario is defined by keyboard alone; nothing sticks out at 390 px.
Screenshots at 1280 and 390 px go to test-artifacts/screenshots/editor-*.png."""

import json
import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_dashboard import MANUS, NVIDIA, POLL_MS, WAIT_MS, browser, demo, page, pct
from tests.e2e.test_dashboard import screenshots as shots
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
__all__ = ["browser", "demo", "page"]  # the fixtures, shared with test_dashboard


def open_editor(page: Page, server: ServerProcess, scenario_id: str) -> None:
    page.goto(f"{server.base_url}/?poll={POLL_MS}#/scenario/{scenario_id}/edit")
    expect(page.locator("[data-preview-status=done]")).to_be_visible(timeout=WAIT_MS)


def log_head(client: httpx.Client, scenario_id: str) -> tuple[Any, ...]:
    """What would move if anything were stored: the forecast's log position, the
    newest event and the scenario's versions."""
    forecast = client.get(f"/v1/forecasts/{scenario_id}").json()
    events = client.get("/v1/events", params={"limit": 1}).json()
    versions = client.get(f"/v1/scenarios/{scenario_id}/versions").json()["versions"]
    return forecast["position"], events, [v["version"] for v in versions]


def previewed(client: httpx.Client, scenario_id: str, definition: Any, as_of: str) -> Any:
    answer = client.post(
        f"/v1/scenarios/{scenario_id}/preview", params={"as_of": as_of}, json=definition
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def tab_to(page: Page, selector: str, limit: int = 300) -> None:
    """Press Tab until the focused element matches ``selector`` (keyboard only)."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def test_a_draft_rule_is_previewed_without_storing_anything_and_saving_makes_version_2(
    page: Page, demo: ServerProcess
) -> None:
    with httpx.Client(base_url=demo.base_url, timeout=30) as client:
        definition = client.get(f"/v1/scenarios/{MANUS}").json()["definition"]
        head = log_head(client, MANUS)
        open_editor(page, demo, MANUS)
        draft_line = page.locator("[data-comparison] svg.history path.line:not(.compare)")
        saved_line = page.locator("[data-comparison] svg.history path.line.compare")
        before = draft_line.get_attribute("d")
        assert saved_line.get_attribute("d") == before  # the draft starts as the saved version
        rule = definition["rules"][0]
        assert rule["bayes_factor"] != 8
        page.locator(f"fieldset.rule[data-rule='{rule['name']}'] input[id$='-bf']").fill("8")
        expect(page.locator("[data-preview-status=done]")).to_be_visible(timeout=WAIT_MS)
        expect(draft_line).not_to_have_attribute("d", before, timeout=WAIT_MS)
        assert saved_line.get_attribute("d") == before

        as_of = page.locator("[data-comparison] [data-as-of]").get_attribute("data-as-of")
        assert as_of is not None
        changed = {**definition, "rules": [{**rule, "bayes_factor": 8}, *definition["rules"][1:]]}
        expected = previewed(client, MANUS, changed, as_of)
        saved = previewed(client, MANUS, definition, as_of)
        assert expected["forecast"]["probability"] != saved["forecast"]["probability"]
        expect(page.locator("[data-draft-probability]")).to_have_text(
            pct(expected["forecast"]["probability"])
        )
        expect(page.locator("[data-saved-probability]")).to_have_text(
            pct(saved["forecast"]["probability"])
        )
        matches = page.locator(f"fieldset.rule[data-rule='{rule['name']}'] ul.matches li")
        expect(matches).to_have_count(len(expected["rules"][0]["matches"]))
        assert log_head(client, MANUS) == head  # previews stored nothing
        shots(page, "editor")

        page.locator("[data-save]").click()
        expect(page).to_have_url(re.compile(f"#/scenario/{MANUS}$"), timeout=WAIT_MS)
        versions = client.get(f"/v1/scenarios/{MANUS}/versions").json()["versions"]
        assert [v["version"] for v in versions] == [1, 2]
        assert versions[1]["definition"]["rules"][0]["bayes_factor"] == 8
        assert versions[1]["definition"]["rules"][1:] == definition["rules"][1:]
    expect(page.locator(".facts dt:text('Version') + dd")).to_have_text("2", timeout=WAIT_MS)


def test_a_422_is_shown_at_its_field_and_the_focus_moves_there(
    page: Page, demo: ServerProcess
) -> None:
    with httpx.Client(base_url=demo.base_url, timeout=30) as client:
        head = log_head(client, NVIDIA)
        open_editor(page, demo, NVIDIA)
        prior = page.locator("#ed-prior")
        prior.fill("1.5")
        served = client.put(
            f"/v1/scenarios/{NVIDIA}",
            json={**client.get(f"/v1/scenarios/{NVIDIA}").json()["definition"], "prior": 1.5},
        )
        assert served.status_code == 422
        message = next(e["message"] for e in served.json()["errors"] if e["field"] == "prior")
        # The preview answers the same 422 as PUT: shown at the prior as it is typed.
        error = page.locator(".field-error[data-error-for='prior']")
        expect(error).to_contain_text(message, timeout=WAIT_MS)
        expect(prior).to_have_attribute("aria-invalid", "true")
        described = prior.get_attribute("aria-describedby") or ""
        assert error.get_attribute("id") in described.split()
        page.locator("#ed-title").focus()
        page.keyboard.press("Enter")  # submits the form: the PUT's 422
        expect(page.locator("form.editor .form-errors[role=alert]")).to_contain_text(message)
        expect(prior).to_be_focused(timeout=WAIT_MS)
        assert log_head(client, NVIDIA) == head

        # A condition on a field the kind does not have, through the JSON escape hatch:
        # the message lands on that condition.
        first = page.locator("fieldset.rule").first
        first.locator("details summary").click()
        stored = client.get(f"/v1/scenarios/{NVIDIA}").json()["definition"]
        rule = stored["rules"][0]
        bad = {**rule, "match": {**rule["match"], "where": {"no_such_field": "x"}}}
        prior.fill(str(stored["prior"]))
        first.locator("textarea[id$='-json']").fill(json.dumps(bad))
        first.locator("[data-apply-json]").click()
        condition = page.locator("[data-condition='no_such_field']")
        expect(condition).to_be_visible()
        expect(
            page.locator(".field-error[data-error-for$='.match.where.no_such_field']")
        ).to_contain_text("no_such_field", timeout=WAIT_MS)


def test_a_suggested_factor_applies_with_one_click(page: Page, demo: ServerProcess) -> None:
    with httpx.Client(base_url=demo.base_url, timeout=30) as client:
        forecasts = client.get("/v1/forecasts").json()["forecasts"]
        found = None
        for f in forecasts:
            if f["status"] != "open" or f["scenario_id"] == MANUS:
                continue
            sid = f["scenario_id"]
            counted = {
                c.get("rule") for c in client.get(f"/v1/forecasts/{sid}").json()["contributions"]
            }
            suggested = client.get(f"/v1/scenarios/{sid}/suggested-rules").json()
            assert suggested["calibration"]["alpha"] is not None  # the demo has a calibration
            moved = [
                r
                for r in suggested["rules"]
                if abs(r["suggested_bayes_factor"] - r["bayes_factor"]) > 0.01
                and r["name"] in counted
            ]
            if moved:
                found = (sid, moved[0])
                break
        assert found is not None
        scenario_id, rule = found
        open_editor(page, demo, scenario_id)
        box = page.locator(f"fieldset.rule[data-rule='{rule['name']}']")
        draft = page.locator("[data-draft-probability]")
        before = draft.get_attribute("data-draft-probability")
        button = box.locator("[data-use-suggested]")
        expect(button).to_contain_text("use ")
        button.click()
        value = float(box.locator("input[id$='-bf']").input_value())
        assert value == pytest.approx(rule["suggested_bayes_factor"], rel=1e-3)
        expect(draft).not_to_have_attribute("data-draft-probability", before or "", timeout=WAIT_MS)


def test_a_new_scenario_is_defined_by_keyboard_alone_at_390_px(
    page: Page, demo: ServerProcess
) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{demo.base_url}/?poll={POLL_MS}#/")
    tab_to(page, "[data-new-scenario]")
    page.keyboard.press("Enter")
    expect(page.locator("#ed-id")).to_be_visible(timeout=WAIT_MS)
    tab_to(page, "#ed-id")
    page.keyboard.type("keyboard-made")
    tab_to(page, "#ed-title")
    page.keyboard.type("Made by keyboard")
    tab_to(page, "#ed-question")
    page.keyboard.type("Will the keyboard do?")
    tab_to(page, "#ed-prior")
    page.keyboard.press("Control+A")
    page.keyboard.type("0.3")
    expect(page.locator("#ed-prior-hint")).to_contain_text("30.0% that it happens by the deadline")
    tab_to(page, "[data-add-rule]")
    page.keyboard.press("Enter")
    name = page.locator("fieldset.rule input[id$='-name']")
    expect(name).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.type("any signal")
    tab_to(page, "fieldset.rule input[type=checkbox][value=signal]")
    page.keyboard.press("Space")
    tab_to(page, "fieldset.rule input[type=checkbox][value=acquisition]")
    page.keyboard.press("Space")  # unchecked: the rule now counts signals only
    tab_to(page, "fieldset.rule input[id$='-bf']")
    page.keyboard.press("Control+A")
    page.keyboard.type("3")
    expect(page.locator("[data-preview-status=done]")).to_be_visible(timeout=WAIT_MS)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390
    tab_to(page, "[data-save]")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile("#/scenario/keyboard-made$"), timeout=WAIT_MS)
    with httpx.Client(base_url=demo.base_url) as client:
        stored = client.get("/v1/scenarios/keyboard-made").json()
    definition = stored["definition"]
    assert (definition["title"], definition["prior"]) == ("Made by keyboard", 0.3)
    assert definition["rules"] == [
        {"name": "any signal", "match": {"kind": "signal"}, "bayes_factor": 3}
    ]


def test_rules_are_removed_and_reordered_and_the_preview_follows(
    page: Page, demo: ServerProcess
) -> None:
    with httpx.Client(base_url=demo.base_url, timeout=30) as client:
        definition = client.get(f"/v1/scenarios/{NVIDIA}").json()["definition"]
        rules = definition["rules"]
        assert len(rules) >= 3
        open_editor(page, demo, NVIDIA)
        names = page.locator("fieldset.rule")
        expect(names).to_have_count(len(rules))
        page.locator(f"fieldset.rule[data-rule='{rules[0]['name']}'] [data-remove-rule]").click()
        first = page.locator(f"fieldset.rule[data-rule='{rules[1]['name']}']")
        first.get_by_role("button", name=f"Move down {rules[1]['name']}").click()
        expect(names).to_have_count(len(rules) - 1)
        expect(names.nth(1)).to_have_attribute("data-rule", rules[1]["name"])
        expect(page.locator("[data-preview-status=done]")).to_be_visible(timeout=WAIT_MS)
        as_of = page.locator("[data-comparison] [data-as-of]").get_attribute("data-as-of")
        draft = {**definition, "rules": [rules[2], rules[1], *rules[3:]]}
        expected = previewed(client, NVIDIA, draft, as_of or "")
        expect(page.locator("[data-draft-probability]")).to_have_attribute(
            "data-draft-probability", str(expected["forecast"]["probability"]), timeout=WAIT_MS
        )
        for i, rule in enumerate(expected["rules"]):
            expect(names.nth(i).locator("[data-match-count]")).to_have_attribute(
                "data-match-count", str(len(rule["matches"]))
            )


def test_the_preview_shown_is_the_last_value_typed(page: Page, demo: ServerProcess) -> None:
    """Keystrokes slower than the debounce send a preview each; earlier answers are
    dropped (cancelled or ignored), so the page ends on the last value's preview."""
    with httpx.Client(base_url=demo.base_url, timeout=30) as client:
        definition = client.get(f"/v1/scenarios/{NVIDIA}").json()["definition"]
        rule = next(
            r
            for r in previewed(client, NVIDIA, definition, "2026-12-01T00:00:00Z")["rules"]
            if r["matches"]
        )
        open_editor(page, demo, NVIDIA)
        bf = page.locator(f"fieldset.rule[data-rule='{rule['name']}'] input[id$='-bf']")
        bf.fill("")
        bf.press_sequentially("125", delay=300)
        expect(page.locator("[data-preview-status=done]")).to_be_visible(timeout=WAIT_MS)
        as_of = page.locator("[data-comparison] [data-as-of]").get_attribute("data-as-of")
        rules = [
            {**r, "bayes_factor": 125} if r["name"] == rule["name"] else r
            for r in definition["rules"]
        ]
        expected = previewed(client, NVIDIA, {**definition, "rules": rules}, as_of or "")
        expect(page.locator("[data-draft-probability]")).to_have_attribute(
            "data-draft-probability", str(expected["forecast"]["probability"]), timeout=WAIT_MS
        )
