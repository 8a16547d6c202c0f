"""The calibration served (model.md, "Calibration: learning from outcomes"):
GET /v1/calibration equals the fits of ``forecasts`` on the same data, every
forecast carries its calibrated numbers, a knowledge cut sees only what was
recorded by then, and a retraction moves the served calibration."""

import csv
import io
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from scipy.special import expit, logit

from forecasts.calibration import EvidenceScales, Recalibration
from tests.service.calibrationdata import (
    APPROVAL_B,
    APPROVAL_KINDS,
    SIGNAL_B,
    Client,
    World,
    closed_world,
)

TOLERANCE = 1e-9


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat()


def served_as_of(client: Client) -> float:
    as_of = client.get("/v1/forecasts").json()["as_of"]
    return datetime.fromisoformat(as_of).timestamp()


def assert_equals_fit(
    body: dict[str, Any], fit: tuple[Recalibration | None, EvidenceScales | None, int]
) -> None:
    recalibration, scales, n = fit
    assert recalibration is not None
    assert scales is not None
    assert body["n_scenarios"] == n == recalibration.n_scenarios
    assert body["alpha"] == pytest.approx(recalibration.alpha, abs=TOLERANCE)
    assert body["beta"] == pytest.approx(recalibration.beta, abs=TOLERANCE)
    assert body["lambda"] == recalibration.lam
    assert body["scenario_ids"] == list(recalibration.scenario_ids)
    served = {s["kinds"]: s for s in body["evidence_scales"]}
    assert set(served) == {s.kinds for s in scales.scales}
    for scale in scales.scales:
        assert served[scale.kinds]["beta"] == pytest.approx(scale.beta, abs=TOLERANCE)
        assert served[scale.kinds]["n_matches"] == scale.n_matches


def open_scenario(world: World) -> str:
    """An open scenario (deadline next year) with a signal and an approval."""
    world.scenario("still-open", "2031-01-01T00:00:00Z", 0.3)
    world.signal("still-open", "2025-05-01T00:00:00Z")
    world.approval("still-open", "2025-05-02T00:00:00Z")
    return "still-open"


def test_the_served_calibration_is_the_fit_on_the_closed_scenarios(client: Client) -> None:
    world = closed_world(client, 6)
    body = client.get("/v1/calibration").json()
    assert_equals_fit(body, world.fit(at=served_as_of(client)))
    assert body["beta"] != 1.0
    assert {s["kinds"] for s in body["evidence_scales"]} == {
        "signal",
        "|".join(sorted(APPROVAL_KINDS)),
    }


def test_fewer_closed_scenarios_than_needed_serve_nulls(client: Client) -> None:
    world = closed_world(client, 4)
    open_scenario(world)
    body = client.get("/v1/calibration").json()
    assert body == {
        "alpha": None,
        "beta": None,
        "lambda": None,
        "n_scenarios": 4,
        "scenario_ids": None,
        "evidence_scales": None,
    }
    assert client.get("/v1/forecasts/still-open").json()["calibrated"] is None
    assert all(f["calibrated"] is None for f in client.get("/v1/forecasts").json()["forecasts"])
    rules = client.get("/v1/scenarios/still-open/suggested-rules").json()["rules"]
    assert [(r["scale"], r["suggested_bayes_factor"]) for r in rules] == [(None, None)] * 2


def test_a_scenario_whose_deadline_has_not_passed_is_not_admitted(client: Client) -> None:
    world = closed_world(client, 6)
    early = client.get("/v1/calibration", params={"as_of": "2025-10-15T00:00:00Z"}).json()
    assert_equals_fit(early, world.fit(at=datetime(2025, 10, 15, tzinfo=UTC).timestamp()))
    assert early["n_scenarios"] == 5
    assert "closed-5" not in early["scenario_ids"]  # its deadline is 2025-11-01


def test_every_forecast_carries_the_calibrated_map_of_its_numbers(client: Client) -> None:
    world = closed_world(client, 6)
    slug = open_scenario(world)
    calibration = client.get("/v1/calibration").json()
    alpha, beta = calibration["alpha"], calibration["beta"]
    one = client.get(f"/v1/forecasts/{slug}").json()
    listed = next(
        f for f in client.get("/v1/forecasts").json()["forecasts"] if f["scenario_id"] == slug
    )
    for forecast in (one, listed):
        calibrated = forecast["calibrated"]
        assert forecast["probability"] != pytest.approx(calibrated["probability"])
        expected = expit(alpha + beta * forecast["logit"])
        assert calibrated["probability"] == pytest.approx(expected, abs=TOLERANCE)
        for name in ("interval80", "interval95"):
            ends = sorted(expit(alpha + beta * logit(p)) for p in forecast[name])
            assert calibrated[name] == pytest.approx(ends, abs=TOLERANCE)
            assert calibrated[name][0] <= calibrated["probability"] <= calibrated[name][1]
    closed = client.get("/v1/forecasts/closed-0").json()
    assert closed["probability"] == 1.0
    assert closed["calibrated"] is None


def test_a_resolution_recorded_after_the_cut_does_not_move_it(client: Client) -> None:
    world = closed_world(client, 6)
    world.scenario("late", "2025-07-01T00:00:00Z", 0.5)
    world.signal("late", "2025-03-01T00:00:00Z")
    time.sleep(0.01)
    cut = iso(time.time())
    before = client.get("/v1/calibration", params={"known_at": cut}).json()
    time.sleep(0.01)
    world.resolve("late", "no", "2025-07-01T00:00:00Z")
    after_cut = client.get("/v1/calibration", params={"known_at": cut}).json()
    assert after_cut == before
    now = client.get("/v1/calibration").json()
    assert now["n_scenarios"] == 7
    assert_equals_fit(now, world.fit(at=served_as_of(client)))


def test_a_retracted_resolution_moves_the_served_calibration(client: Client) -> None:
    world = closed_world(client, 7)
    slug = open_scenario(world)
    first = client.get("/v1/calibration").json()
    forecast = client.get(f"/v1/forecasts/{slug}").json()["calibrated"]
    assert client.get("/v1/calibration").json() == first
    world.retract_resolution("closed-3")
    second = client.get("/v1/calibration").json()
    assert second["n_scenarios"] == 6
    assert "closed-3" not in second["scenario_ids"]
    assert_equals_fit(second, world.fit(at=served_as_of(client)))
    moved = client.get(f"/v1/forecasts/{slug}").json()["calibrated"]
    assert moved["probability"] != pytest.approx(forecast["probability"], abs=TOLERANCE)
    assert moved["probability"] == pytest.approx(
        expit(
            second["alpha"] + second["beta"] * client.get(f"/v1/forecasts/{slug}").json()["logit"]
        ),
        abs=TOLERANCE,
    )


def test_suggested_rules_scale_each_factor_by_its_kinds(client: Client) -> None:
    world = closed_world(client, 6)
    slug = open_scenario(world)
    body = client.get(f"/v1/scenarios/{slug}/suggested-rules").json()
    calibration = client.get("/v1/calibration").json()
    assert body["scenario_id"] == slug
    assert body["calibration"] == calibration
    scales = {s["kinds"]: s["beta"] for s in calibration["evidence_scales"]}
    approvals = "|".join(sorted(APPROVAL_KINDS))
    assert [(r["name"], r["kinds"], r["bayes_factor"]) for r in body["rules"]] == [
        ("signals", "signal", SIGNAL_B),
        ("approvals", approvals, APPROVAL_B),
    ]
    for rule in body["rules"]:
        assert rule["scale"] == scales[rule["kinds"]]
        expected = rule["bayes_factor"] ** scales[rule["kinds"]]
        assert rule["suggested_bayes_factor"] == pytest.approx(expected, rel=TOLERANCE)
    assert client.get("/v1/scenarios/no-such/suggested-rules").status_code == 404


def test_history_points_carry_the_calibration_in_force_at_their_time(client: Client) -> None:
    world = closed_world(client, 6)
    slug = open_scenario(world)
    params = {"from": "2025-05-25T00:00:00Z", "to": "2025-12-01T00:00:00Z", "step": "P30D"}
    plain = client.get(f"/v1/forecasts/{slug}/history", params=params).json()
    assert all("calibrated_probability" not in p for p in plain["points"])
    points = client.get(
        f"/v1/forecasts/{slug}/history", params={**params, "calibrated": "true"}
    ).json()["points"]
    for point in points:
        at = point["t"]
        one = client.get(f"/v1/forecasts/{slug}", params={"as_of": at}).json()
        expected = None if one["calibrated"] is None else one["calibrated"]["probability"]
        if expected is None:
            assert point["calibrated_probability"] is None
        else:
            assert point["calibrated_probability"] == pytest.approx(expected, abs=TOLERANCE)
    assert points[0]["calibrated_probability"] is None  # before five deadlines passed
    assert points[-1]["calibrated_probability"] is not None
    text = client.get(
        f"/v1/forecasts/{slug}/history",
        params={**params, "calibrated": "true"},
        headers={"accept": "text/csv"},
    ).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["t", "probability", "lo80", "hi80", "calibrated"]
    assert rows[0]["calibrated"] == ""
    assert float(rows[-1]["calibrated"]) == points[-1]["calibrated_probability"]


def test_the_fit_is_cached_until_the_closed_scenarios_change(client: Client) -> None:
    world = closed_world(client, 6)
    slug = open_scenario(world)
    calibrations = client.app.state.tradewinds.forecaster.calibrations
    client.get("/v1/forecasts")
    fits = calibrations.fits
    for _ in range(3):
        client.get("/v1/forecasts")
        client.get(f"/v1/forecasts/{slug}")
        client.get("/v1/calibration")
    world.signal(slug, "2025-06-01T00:00:00Z")  # moves an open scenario only
    client.get(f"/v1/forecasts/{slug}")
    assert calibrations.fits == fits
    before = client.get("/v1/calibration").json()
    world.signal("closed-1", "2025-02-20T00:00:00Z")  # enters a closed scenario's samples
    after = client.get("/v1/calibration").json()
    assert calibrations.fits == fits + 1
    assert after["alpha"] != before["alpha"]
    assert_equals_fit(after, world.fit(at=served_as_of(client)))
