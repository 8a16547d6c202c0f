"""Backtests with ``calibrated: true`` (model.md, "Honest evaluation"): each sample
at t is expit(alpha_t + beta_t * logit), (alpha_t, beta_t) the fit on the
scenarios closed by t, computed here with the pure functions on what was posted."""

import time
from dataclasses import replace
from typing import Any

import msgspec
import numpy as np
import pytest
from scipy.special import expit

from domain.backtests import BacktestRequest
from forecasts.backtest import grid, open_samples
from forecasts.calibration import fit_recalibration
from forecasts.grid import grid_terms
from forecasts.model import RuleMatches, ScenarioModel
from forecasts.training import training_set
from tests.service.calibrationdata import Client, Posted, World, closed_world, seconds

TOLERANCE = 1e-9
WINDOW = {"from": "2025-01-01T00:00:00Z", "to": "2025-12-31T00:00:00Z", "step": "P7D"}
SCORED = ("late-a", "late-b")


def finished(client: Client, request: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/backtests", json={**WINDOW, **request})
    assert response.status_code == 202, response.text
    backtest_id = response.json()["id"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/v1/backtests/{backtest_id}").json()
        if body["status"] in ("done", "failed"):
            assert body["status"] == "done", body["error"]
            return body
        time.sleep(0.05)
    raise TimeoutError(backtest_id)


def world_with_later(client: Client) -> World:
    """Eight scenarios closing June..November 2025, and two scored ones open
    through most of 2025 (each also in the pool, closing at its deadline)."""
    world = closed_world(client, 8)
    world.scenario("late-a", "2026-06-01T00:00:00Z", 0.3)
    world.signal("late-a", "2025-03-01T00:00:00Z")
    world.signal("late-a", "2025-08-20T00:00:00Z")
    world.scenario("late-b", "2025-12-20T00:00:00Z", 0.6)
    world.approval("late-b", "2025-07-01T00:00:00Z")
    world.resolve("late-a", "yes", "2025-12-01T00:00:00Z")
    world.resolve("late-b", "no", "2025-12-20T00:00:00Z")
    return world


def times() -> np.ndarray:
    return grid(seconds(WINDOW["from"]), seconds(WINDOW["to"]), 7 * 86400.0)


def maps(posted: dict[str, Posted], t: float) -> tuple[float, float] | None:
    """fit_recalibration on the posted scenarios closed by t (deadline <= t)."""
    samples = [
        s
        for slug in sorted(posted)
        if posted[slug].model.deadline <= t
        and (s := posted[slug].training(known=np.inf, at=t)) is not None
    ]
    fit = fit_recalibration(training_set(samples))
    return None if fit is None else (fit.alpha, fit.beta)


def log_odds(model: ScenarioModel, matches: list[RuleMatches], t: np.ndarray) -> np.ndarray:
    return np.asarray(grid_terms(model, matches, t, np.inf)[0])


def expected(posted: dict[str, Posted], slug: str) -> tuple[float, dict[str, float], int]:
    """The scenario's calibrated Brier, its rules' ablation deltas under the same
    maps, and how many samples had no calibration."""
    item = posted[slug]
    resolution = item.resolutions[-1]
    y = 1.0 if resolution.outcome == "yes" else 0.0
    t = open_samples(times(), item.model.opens_at, item.model.deadline, resolution.resolved_at)
    found = [maps(posted, float(u)) for u in t]
    alpha = np.array([0.0 if m is None else m[0] for m in found])
    beta = np.array([1.0 if m is None else m[1] for m in found])
    matches = item.rule_matches()
    z = log_odds(item.model, matches, t)
    with_all = float(np.mean((expit(alpha + beta * z) - y) ** 2))
    deltas = {}
    for r, rule in enumerate(item.model.rules):
        rest = [m for i, m in enumerate(matches) if i != r]
        kept = tuple(x for i, x in enumerate(item.model.rules) if i != r)
        z_without = log_odds(replace(item.model, rules=kept), rest, t)
        without = float(np.mean((expit(alpha + beta * z_without) - y) ** 2))
        deltas[rule.name] = without - with_all
    return with_all, deltas, sum(m is None for m in found)


def by_id(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["scenario_id"]: s for s in body["scores"]["scenarios"]}


def test_calibrated_samples_are_the_prequential_map_of_the_raw_logits(client: Client) -> None:
    world = world_with_later(client)
    body = finished(client, {"calibrated": True})
    assert body["request"]["calibrated"] is True
    scored = by_id(body)
    assert set(scored) == set(world.posted)
    uncalibrated = 0
    for slug in world.posted:
        brier, deltas, raw_count = expected(world.posted, slug)
        assert scored[slug]["brier"] == pytest.approx(brier, abs=TOLERANCE)
        for rule in scored[slug]["rules"]:
            assert rule["delta_brier"] == pytest.approx(deltas[rule["rule"]], abs=TOLERANCE)
        uncalibrated += raw_count
    assert 0 < uncalibrated < body["scores"]["overall"]["n_samples"]
    assert body["scores"]["overall"]["uncalibrated_samples"] == uncalibrated
    raw = by_id(finished(client, {}))
    assert raw["late-a"]["brier"] != pytest.approx(scored["late-a"]["brier"], abs=1e-6)
    assert raw["late-a"]["brier_prior"] == scored["late-a"]["brier_prior"]
    assert raw["late-a"]["brier_timing"] == scored["late-a"]["brier_timing"]
    assert finished(client, {})["scores"]["overall"]["uncalibrated_samples"] is None


def test_a_scenario_closing_after_the_sample_never_moves_it(client: Client) -> None:
    world = world_with_later(client)
    before = by_id(finished(client, {"calibrated": True, "scenario_ids": ["late-a"]}))
    world.scenario("closes-later", "2026-01-15T00:00:00Z", 0.9)
    world.signal("closes-later", "2025-02-01T00:00:00Z")
    world.resolve("closes-later", "no", "2026-01-15T00:00:00Z")
    after = by_id(finished(client, {"calibrated": True, "scenario_ids": ["late-a"]}))
    assert after["late-a"] == before["late-a"]
    world.scenario("closed-early", "2025-05-01T00:00:00Z", 0.9)
    world.signal("closed-early", "2025-02-01T00:00:00Z")
    world.resolve("closed-early", "no", "2025-05-01T00:00:00Z")
    moved = by_id(finished(client, {"calibrated": True, "scenario_ids": ["late-a"]}))
    assert moved["late-a"]["brier"] != pytest.approx(before["late-a"]["brier"], abs=1e-9)
    assert moved["late-a"]["brier"] == pytest.approx(
        expected(world.posted, "late-a")[0], abs=TOLERANCE
    )


def test_scenario_ids_narrow_the_scoring_but_not_the_pool(client: Client) -> None:
    world = world_with_later(client)
    body = finished(client, {"calibrated": True, "scenario_ids": ["late-a"]})
    assert [s["scenario_id"] for s in body["scores"]["scenarios"]] == ["late-a"]
    brier, _, _ = expected(world.posted, "late-a")
    assert body["scores"]["scenarios"][0]["brier"] == pytest.approx(brier, abs=TOLERANCE)


def test_what_if_rules_apply_to_the_pool_too(client: Client) -> None:
    world = world_with_later(client)
    rules = client.get("/v1/scenarios/closed-1").json()["definition"]["rules"]
    rules[0] = {**rules[0], "bayes_factor": 40.0}
    body = finished(
        client, {"calibrated": True, "scenario_ids": ["late-a"], "rules": {"closed-1": rules}}
    )
    posted = dict(world.posted)
    changed = posted["closed-1"]
    strong = replace(changed.model.rules[0], ln_b=float(np.log(40.0)))
    posted["closed-1"] = replace(
        changed, model=replace(changed.model, rules=(strong, *changed.model.rules[1:]))
    )
    brier, _, _ = expected(posted, "late-a")
    assert body["scores"]["scenarios"][0]["brier"] == pytest.approx(brier, abs=TOLERANCE)
    assert brier != pytest.approx(expected(world.posted, "late-a")[0], abs=1e-9)


def test_a_stored_request_without_the_field_reads_false() -> None:
    body = b'{"from": "2025-01-01T00:00:00Z", "to": "2025-02-01T00:00:00Z", "step": "P1D"}'
    request = msgspec.json.decode(body, type=BacktestRequest)
    assert request.calibrated is False
    assert b"calibrated" not in msgspec.json.encode(request)
