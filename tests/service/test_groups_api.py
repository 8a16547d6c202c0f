"""Rule ``group`` and ``timing_shape`` through the HTTP API (issue 16, point 1):
defined, validated, served against the closed form of model.md, explained by
contributions that sum to the served logit, and the simulation check (model.md,
check 2) with a grouped pair of rules and timing shapes."""

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from litestar.testing import TestClient
from scipy.special import expit, ndtri, polygamma

from service.settings import Settings
from service.web.app import create_app
from tests.service.events_data import signal
from tests.service.test_forecasts_api import Client, define, forecast
from tests.support.stores import sqlite_only

OPENS, AS_OF, DEADLINE = "2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"
U_AT_AS_OF = 0.5  # 365 of 730 days


def labelled(name: str, labels: list[str], factor: float, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "match": {"kind": "signal", "where": {"label": {"in": labels}}},
        "bayes_factor": factor,
        **extra,
    }


PAIR = [
    labelled("steer-a", ["x", "both"], 4.0, repeat_discount=0.5, group="steers"),
    labelled("steer-b", ["y", "both"], 2.5, repeat_discount=0.25, group="steers"),
    labelled("other", ["z"], 0.5, repeat_discount=0.8),
]
EVENTS = [
    signal("x", occurred_at="2025-02-01T00:00:00Z"),
    signal("both", occurred_at="2025-03-01T00:00:00Z"),
    signal("y", occurred_at="2025-04-01T00:00:00Z"),
    signal("z", occurred_at="2025-05-01T00:00:00Z"),
    signal("z", occurred_at="2025-06-01T00:00:00Z"),
]
# Group "steers" in (occurred, position, place) order: x by a (k=1), both by a (k=2),
# both by b (k=3), y by b (k=4); "other" alone: z (1), z (2).


def _defined(client: Client, **changes: Any) -> None:
    define(
        client,
        "grouped",
        opens_at=OPENS,
        deadline=DEADLINE,
        timing="uniform",
        timing_shape=3.0,
        rules=PAIR,
        **changes,
    )
    response = client.post("/v1/events/batch", json={"events": EVENTS})
    assert response.status_code == 201, response.text


def test_a_grouped_scenario_with_a_timing_shape_is_served_its_closed_form(
    settings: Settings,
) -> None:
    with TestClient(create_app(settings)) as client:
        _defined(client)
        body = forecast(client, "grouped", as_of=AS_OF)
        stored = client.get("/v1/scenarios/grouped").json()["definition"]
    assert stored["timing_shape"] == 3.0
    assert [r.get("group") for r in stored["rules"]] == ["steers", "steers", None]
    ln = {"steer-a": math.log(4.0), "steer-b": math.log(2.5), "other": math.log(0.5)}
    weights = [1.0, 0.5, 0.25**2, 0.25**3, 1.0, 0.8]
    evidence = ln["steer-a"] * 1.5 + ln["steer-b"] * (0.25**2 + 0.25**3) + ln["other"] * 1.8
    time_term = math.log(1.0 - U_AT_AS_OF**3)
    expected = math.log(0.3 / 0.7) + evidence + time_term
    assert body["status"] == "open"
    assert body["logit"] == pytest.approx(expected, abs=1e-12)
    assert body["probability"] == pytest.approx(float(expit(expected)), abs=1e-12)
    variance = float(polygamma(1, 3.0) + polygamma(1, 7.0)) + sum((0.35 * w) ** 2 for w in weights)
    spread = float(ndtri(0.9)) * math.sqrt(variance)
    assert body["interval80"] == pytest.approx(
        [float(expit(expected - spread)), float(expit(expected + spread))], abs=1e-12
    )

    contributions = body["contributions"]
    assert [c["kind"] for c in contributions] == ["prior"] + ["event"] * 6 + ["time"]
    assert contributions[-1]["log_odds"] == pytest.approx(time_term, abs=1e-12)
    assert math.fsum(c["log_odds"] for c in contributions) == pytest.approx(
        body["logit"], abs=1e-12
    )
    events = [(c["rule"], c["summary"].removeprefix("signal "), c) for c in contributions[1:-1]]
    assert [(rule, label) for rule, label, _ in events] == [
        ("steer-a", "x"),
        ("steer-a", "both"),
        ("steer-b", "both"),
        ("steer-b", "y"),
        ("other", "z"),
        ("other", "z"),
    ]
    for (rule, _, contribution), weight in zip(events, weights, strict=True):
        assert contribution["log_odds"] == pytest.approx(ln[rule] * weight, abs=1e-12)
        assert contribution["log_odds_then"] == pytest.approx(ln[rule] * weight, abs=1e-12)


def test_a_scenario_without_the_new_fields_is_stored_and_served_as_before(
    settings: Settings,
) -> None:
    """No ``timing_shape`` is a = 1 (T = (D - t)/(D - t0)); no ``group``, alone; and
    neither field appears in the stored definition."""
    ungrouped = [{k: v for k, v in r.items() if k != "group"} for r in PAIR]
    with TestClient(create_app(settings)) as client:
        define(
            client, "plain", opens_at=OPENS, deadline=DEADLINE, timing="uniform", rules=ungrouped
        )
        client.post("/v1/events/batch", json={"events": EVENTS})
        body = forecast(client, "plain", as_of=AS_OF)
        stored = client.get("/v1/scenarios/plain").json()["definition"]
    assert "timing_shape" not in stored
    assert all("group" not in r for r in stored["rules"])
    evidence = math.log(4.0) * 1.5 + math.log(2.5) * 1.25 + math.log(0.5) * 1.8
    expected = math.log(0.3 / 0.7) + evidence + math.log(0.5)
    assert body["logit"] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("shape", [0.0999, 10.01, -1.0, 0.0])
def test_a_timing_shape_outside_its_range_is_a_422_giving_the_range(
    client: Client, shape: float
) -> None:
    response = client.put(
        "/v1/scenarios/bad-shape",
        json={
            "title": "t",
            "question": "q?",
            "opens_at": OPENS,
            "deadline": DEADLINE,
            "prior": 0.3,
            "timing_shape": shape,
        },
    )
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["field"] == "timing_shape"
    assert "0.1 to 10" in error["message"]


@pytest.mark.parametrize("group", ["", "g" * 101, 3])
def test_a_group_that_is_not_a_short_name_is_a_422(client: Client, group: object) -> None:
    response = client.put(
        "/v1/scenarios/bad-group",
        json={
            "title": "t",
            "question": "q?",
            "opens_at": OPENS,
            "deadline": DEADLINE,
            "prior": 0.3,
            "rules": [{**PAIR[0], "group": group}],
        },
    )
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["field"] == "rules[0].group"


def resolved_at(opens: datetime, u: float) -> str:
    moment = opens + timedelta(days=730 * u)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@sqlite_only
def test_simulation_with_a_grouped_pair_and_timing_shapes_is_exact_and_calibrated(
    settings: Settings,
) -> None:
    """Model.md check 2, with correlated evidence and timing shapes, N = 2000.

    Per scenario: outcome y from the prior p0, and under y its time u drawn from
    u^a on the window (a in {0.5, 1, 3}). Stage 1: one event, A with probability
    q1 if y else q0, else B. Stage 2, after it: one event, C with probability c1 if
    y else c0, else D. The four rules form one group, so the stage-2 event always
    has rank 2 and weighs ln B * r: with B_C = (c1/c0)^(1/r_C) and
    B_D = ((1-c1)/(1-c0))^(1/r_D) its weight is its true log likelihood ratio (had
    it counted alone, it would weigh ln B). A third, ungrouped signal as in check 2.
    At t (u = 1/2) an outcome that has happened is resolved yes (p = 1); otherwise
    the exact posterior is p0 L (1 - u^a) / (p0 L (1 - u^a) + 1 - p0), L the product
    of the true likelihood ratios."""
    n = 2000
    rng = np.random.default_rng(20261206)
    q1, q0, c1, c0, s1, s0 = 0.7, 0.3, 0.6, 0.4, 0.8, 0.5
    r_c, r_d = 0.5, 0.25
    shapes = rng.choice([0.5, 1.0, 3.0], n)
    priors = rng.uniform(0.05, 0.95, n)
    outcomes = rng.random(n) < priors
    when = rng.random(n) ** (1.0 / shapes)  # u of the outcome's time, under y
    happened = outcomes & (when <= U_AT_AS_OF)
    opens = datetime.fromisoformat(OPENS)
    exact = np.ones(n)
    scenarios: list[tuple[str, dict[str, Any]]] = []
    events: list[dict[str, Any]] = []
    for i in range(n):
        slug = f"simg-{i:04d}"
        y = bool(outcomes[i])
        rules = [
            labelled(f"{slug}-A", [f"{slug}-A"], q1 / q0, group="g"),
            labelled(f"{slug}-B", [f"{slug}-B"], (1 - q1) / (1 - q0), group="g"),
            labelled(
                f"{slug}-C", [f"{slug}-C"], (c1 / c0) ** (1 / r_c), repeat_discount=r_c, group="g"
            ),
            labelled(
                f"{slug}-D",
                [f"{slug}-D"],
                ((1 - c1) / (1 - c0)) ** (1 / r_d),
                repeat_discount=r_d,
                group="g",
            ),
            labelled(f"{slug}-S", [f"{slug}-S"], s1 / s0),
            labelled(f"{slug}-N", [f"{slug}-N"], (1 - s1) / (1 - s0)),
        ]
        ratio = 1.0
        for first, second, (p_yes, p_no), day in (
            ("A", "B", (q1, q0), "2025-03-01"),
            ("C", "D", (c1, c0), "2025-06-01"),
            ("S", "N", (s1, s0), "2025-04-01"),
        ):
            seen = rng.random() < (p_yes if y else p_no)
            ratio *= p_yes / p_no if seen else (1 - p_yes) / (1 - p_no)
            label = f"{slug}-{first if seen else second}"
            events.append(signal(label, occurred_at=f"{day}T00:00:00Z"))
        if not happened[i]:
            silence = 1.0 - U_AT_AS_OF ** shapes[i]
            odds = priors[i] * ratio * silence
            exact[i] = odds / (odds + 1.0 - priors[i])
        scenarios.append(
            (
                slug,
                {
                    "prior": float(priors[i]),
                    "rules": rules,
                    "timing": "uniform",
                    "timing_shape": float(shapes[i]),
                    "deadline": DEADLINE,
                },
            )
        )

    with TestClient(create_app(settings)) as client:
        for slug, changes in scenarios:
            define(client, slug, **changes)
        for start in range(0, len(events), 1000):
            response = client.post(
                "/v1/events/batch", json={"events": events[start : start + 1000]}
            )
            assert response.status_code == 201
        for i in np.nonzero(happened)[0]:
            response = client.post(
                f"/v1/scenarios/simg-{i:04d}/resolution",
                json={"outcome": "yes", "resolved_at": resolved_at(opens, float(when[i]))},
            )
            assert response.status_code == 201, response.text
        served = client.get("/v1/forecasts", params={"as_of": AS_OF}).json()["forecasts"]
    by_slug = {f["scenario_id"]: f for f in served}

    p = np.array([by_slug[f"simg-{i:04d}"]["probability"] for i in range(n)])
    y = outcomes.astype(float)
    assert 100 < happened.sum() < n - 100
    assert np.max(np.abs(p - exact)) < 1e-9
    assert np.mean((p - y) ** 2) == pytest.approx(np.mean((exact - y) ** 2), abs=1e-9)
    bins = np.minimum((p * 10).astype(int), 9)
    ece = sum(
        abs(p[bins == b].mean() - y[bins == b].mean()) * np.sum(bins == b) / n
        for b in range(10)
        if np.any(bins == b)
    )
    assert ece < 3 / math.sqrt(n)
