"""The Forecasts section of the API and the checks of model.md, through HTTP."""

import csv
import io
import itertools
import json
import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import msgspec
import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from domain.records import BacktestRecord
from service.bootstrap import open_eventlog
from service.cli.main import demo_lines, import_lines
from service.persistence.eventlog import utc_now
from service.queries.budget import ReadOverBudget
from service.queries.forecasting import Forecaster
from service.settings import Settings, settings_from_env
from service.web.app import create_app
from tests.service.events_data import signal
from tests.support.records import store_scenario, unchecked
from tests.support.stores import sqlite_only

Client = TestClient  # type: ignore[type-arg]
OPENS = "2025-01-01T00:00:00Z"
FAR = "2030-01-01T00:00:00Z"


class Clock:
    """The service clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC))


@pytest.fixture
def api(settings: Settings, clock: Clock) -> Iterator[Client]:
    with TestClient(create_app(settings, clock)) as client:
        yield client


def rule(label: str, factor: float, **extra: Any) -> dict[str, Any]:
    return {
        "name": label,
        "match": {"kind": "signal", "where": {"label": label}},
        "bayes_factor": factor,
        **extra,
    }


def define(client: Client, slug: str, **changes: Any) -> None:
    body: dict[str, Any] = {
        "title": slug,
        "question": f"{slug}?",
        "opens_at": OPENS,
        "deadline": FAR,
        "prior": 0.3,
        "timing": "none",
        "rules": [],
    }
    body.update(changes)
    response = client.put(f"/v1/scenarios/{slug}", json=body)
    assert response.status_code in (200, 201), response.text


def forecast(client: Client, slug: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/v1/forecasts/{slug}", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def exact_posterior(prior: float, factors: list[float]) -> float:
    product = math.prod(factors)
    return prior * product / (prior * product + 1 - prior)


def logit(p: float) -> float:
    return math.log(p / (1 - p))


# --- the checks of model.md -------------------------------------------------------


def test_check_1_served_probability_is_the_exact_bayes_posterior(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        numbers = itertools.count()

        @hypothesis_settings(max_examples=40, deadline=None)
        @given(
            prior=st.floats(0.01, 0.99),
            factors=st.lists(st.floats(0.05, 20.0), min_size=0, max_size=8),
        )
        def check(prior: float, factors: list[float]) -> None:
            slug = f"bayes-{next(numbers)}"
            labels = [f"{slug}-e{i}" for i in range(len(factors))]
            rules = [rule(label, b) for label, b in zip(labels, factors, strict=True)]
            define(client, slug, prior=prior, rules=rules)
            events = [
                signal(label, occurred_at=f"2025-02-{1 + i:02d}T00:00:00Z")
                for i, label in enumerate(labels)
            ]
            if events:
                client.post("/v1/events/batch", json={"events": events})
            served = forecast(client, slug)
            assert served["status"] == "open"
            assert served["probability"] == pytest.approx(exact_posterior(prior, factors), abs=1e-9)

        check()


@sqlite_only
def test_check_2_simulation_is_exact_and_calibrated(settings: Settings) -> None:
    """Outcomes drawn from the priors; per signal one event per scenario, kind A with
    probability q1 under yes and q0 under no, else B; rules B_A = q1/q0 and
    B_B = (1-q1)/(1-q0). Then the exact posterior is closed form."""
    n = 2000
    rng = np.random.default_rng(20261123)
    signals = [(0.7, 0.3), (0.6, 0.45), (0.8, 0.5)]
    priors = rng.uniform(0.05, 0.95, n)
    outcomes = rng.random(n) < priors
    exact = np.empty(n)
    scenarios: list[tuple[str, dict[str, Any]]] = []
    events: list[dict[str, Any]] = []
    for i in range(n):
        slug = f"sim-{i:04d}"
        rules: list[dict[str, Any]] = []
        factors: list[float] = []
        for j, (q1, q0) in enumerate(signals):
            rules.append(rule(f"{slug}-s{j}-A", q1 / q0))
            rules.append(rule(f"{slug}-s{j}-B", (1 - q1) / (1 - q0)))
            is_a = rng.random() < (q1 if outcomes[i] else q0)
            label = f"{slug}-s{j}-{'A' if is_a else 'B'}"
            factors.append(q1 / q0 if is_a else (1 - q1) / (1 - q0))
            events.append(signal(label, occurred_at="2025-06-01T00:00:00Z"))
        exact[i] = exact_posterior(float(priors[i]), factors)
        scenarios.append((slug, {"prior": float(priors[i]), "rules": rules}))

    with TestClient(create_app(settings)) as client:
        for slug, changes in scenarios:
            define(client, slug, **changes)
        for start in range(0, len(events), 1000):
            response = client.post(
                "/v1/events/batch", json={"events": events[start : start + 1000]}
            )
            assert response.status_code == 201
        served = {f["scenario_id"]: f for f in client.get("/v1/forecasts").json()["forecasts"]}

    p = np.array([served[f"sim-{i:04d}"]["probability"] for i in range(n)])
    y = outcomes.astype(float)
    assert np.max(np.abs(p - exact)) < 1e-9
    assert np.mean((p - y) ** 2) == pytest.approx(np.mean((exact - y) ** 2), abs=1e-9)
    bins = np.minimum((p * 10).astype(int), 9)
    ece = sum(
        abs(p[bins == b].mean() - y[bins == b].mean()) * np.sum(bins == b) / n
        for b in range(10)
        if np.any(bins == b)
    )
    assert ece < 3 / math.sqrt(n)


def _snapshot(client: Client, slugs: list[str]) -> list[bytes]:
    bodies = [client.get("/v1/forecasts").content]
    for as_of in ("2025-09-01T00:00:00Z", "2026-01-15T00:00:00Z", "2027-01-01T00:00:00Z"):
        bodies.append(client.get("/v1/forecasts", params={"as_of": as_of}).content)
        for slug in slugs:
            bodies.append(client.get(f"/v1/forecasts/{slug}", params={"as_of": as_of}).content)
            bodies.append(
                client.get(
                    f"/v1/forecasts/{slug}/history", params={"to": as_of, "step": "P7D"}
                ).content
            )
    return bodies


def test_check_3_replay_from_scratch_is_bit_identical(settings: Settings, clock: Clock) -> None:
    import_lines(settings, demo_lines())
    with TestClient(create_app(settings, clock)) as live:
        slugs = [s["id"] for s in live.get("/v1/scenarios").json()["scenarios"]]
        first = live.get("/v1/events", params={"limit": 1}).json()["events"][0]
        live.post(f"/v1/events/{first['event_id']}/retraction", json={"reason": "test"})
        before = _snapshot(live, slugs)
        live.post("/v1/events", json=signal("late"))
        live_bodies = _snapshot(live, slugs)
    with TestClient(create_app(settings, clock)) as replayed:
        assert _snapshot(replayed, slugs) == live_bodies
    assert before[0] == live_bodies[0]


@sqlite_only
def test_check_4_contributions_sum_to_the_served_logit(settings: Settings) -> None:
    import_lines(settings, demo_lines())
    with TestClient(create_app(settings)) as client:
        slugs = [s["id"] for s in client.get("/v1/scenarios").json()["scenarios"]]
        checked = 0
        for slug, as_of in itertools.product(slugs, ("2025-11-01T00:00:00Z", None)):
            body = forecast(client, slug, **({"as_of": as_of} if as_of else {}))
            if body["logit"] is None:  # closed: explained as it stood just before
                body = {**body, **body["explained"]}
            kinds = [c["kind"] for c in body["contributions"]]
            assert kinds[0] == "prior"
            assert kinds[-1] == "time"
            assert set(kinds[1:-1]) <= {"event"}
            total = math.fsum(c["log_odds"] for c in body["contributions"])
            assert total == pytest.approx(body["logit"], abs=1e-12)
            checked += 1
        assert checked >= 5


# --- shapes and behaviours ----------------------------------------------------------


def test_forecast_shape_and_drivers(api: Client) -> None:
    factors = [3.0, 0.2, 1.5, 2.0, 0.9, 4.0, 1.1]
    rules = [rule(f"d{i}", b) for i, b in enumerate(factors)]
    define(api, "drivers", rules=rules)
    api.post(
        "/v1/events/batch",
        json={"events": [signal(f"d{i}", occurred_at="2025-03-01T00:00:00Z") for i in range(7)]},
    )
    body = forecast(api, "drivers")
    assert {"scenario_id", "title", "version", "status", "deadline", "probability", "logit",
            "interval80", "interval95", "drivers", "as_of", "known_at", "position",
            "contributions"} <= set(body)  # fmt: skip
    expected = sorted((math.log(b) for b in factors), key=abs, reverse=True)[:5]
    assert [d["log_odds"] for d in body["drivers"]] == pytest.approx(expected, abs=1e-12)
    event = body["drivers"][0]
    assert set(event) == {"kind", "log_odds", "rule", "event_id", "occurred_at", "summary"}
    assert set(body["contributions"][0]) == {"kind", "log_odds", "pp"}
    lo80, hi80 = body["interval80"]
    lo95, hi95 = body["interval95"]
    assert lo95 < lo80 < body["probability"] < hi80 < hi95
    listed = api.get("/v1/forecasts").json()
    assert listed["forecasts"][0]["drivers"] == body["drivers"]
    assert "contributions" not in listed["forecasts"][0]


def test_as_of_defaults_to_now_rounded_down_to_the_tick(api: Client) -> None:
    define(api, "tick")
    assert api.get("/v1/forecasts").json()["as_of"] == "2026-03-01T12:00:00Z"


def test_as_of_before_opens_at_gives_the_prior(api: Client) -> None:
    define(api, "early", prior=0.42, timing="uniform", rules=[rule("x", 5.0)])
    api.post("/v1/events", json=signal("x", occurred_at="2024-12-01T00:00:00Z"))
    body = forecast(api, "early", as_of="2024-12-15T00:00:00Z")
    assert body["probability"] == pytest.approx(0.42, abs=1e-12)
    assert [c["kind"] for c in body["contributions"]] == ["prior", "time"]
    assert body["contributions"][-1]["log_odds"] == 0.0


def test_timing_term_over_the_open_period(api: Client) -> None:
    define(api, "timed", prior=0.5, timing="uniform", deadline="2025-01-11T00:00:00Z")
    at_open = forecast(api, "timed", as_of=OPENS)
    midway = forecast(api, "timed", as_of="2025-01-06T00:00:00Z")
    at_deadline = forecast(api, "timed", as_of="2025-01-11T00:00:00Z")
    assert at_open["probability"] == pytest.approx(0.5, abs=1e-12)
    assert midway["logit"] == pytest.approx(math.log(0.5), abs=1e-12)
    assert midway["contributions"][-1]["log_odds"] == pytest.approx(math.log(0.5), abs=1e-12)
    assert at_deadline["status"] == "expired"
    assert at_deadline["probability"] == 0.0
    assert at_deadline["logit"] is None
    assert at_deadline["interval80"] is None


@pytest.mark.parametrize(
    ("outcome", "status", "probability"),
    [("yes", "resolved_yes", 1.0), ("no", "resolved_no", 0.0), ("annulled", "annulled", None)],
)
def test_resolution_sets_status_from_resolved_at(
    api: Client, outcome: str, status: str, probability: float | None
) -> None:
    define(api, "resolving", rules=[rule("x", 2.0)])
    api.post(
        "/v1/scenarios/resolving/resolution",
        json={"outcome": outcome, "resolved_at": "2025-06-01T00:00:00Z"},
    )
    after = forecast(api, "resolving", as_of="2025-07-01T00:00:00Z")
    assert (after["status"], after["probability"]) == (status, probability)
    assert after["logit"] is None
    assert after["interval95"] is None
    before = forecast(api, "resolving", as_of="2025-05-01T00:00:00Z")
    assert before["status"] == "open"


def test_known_at_hides_later_events_versions_and_retractions(api: Client, clock: Clock) -> None:
    define(api, "cut", prior=0.5, rules=[rule("x", 4.0)])
    clock.now += timedelta(hours=1)
    first = api.post("/v1/events", json=signal("x", occurred_at="2025-02-01T00:00:00Z")).json()
    cut_1 = first["recorded_at"]
    clock.now += timedelta(hours=1)
    api.post("/v1/events", json=signal("x", occurred_at="2025-02-02T00:00:00Z"))
    clock.now += timedelta(hours=1)
    define(api, "cut", prior=0.2, rules=[rule("x", 4.0)])
    clock.now += timedelta(hours=1)
    api.post(f"/v1/events/{first['event_id']}/retraction", json={"reason": "wrong"})

    known_1 = forecast(api, "cut", known_at=cut_1)
    assert known_1["version"] == 1
    assert known_1["probability"] == pytest.approx(exact_posterior(0.5, [4.0]), abs=1e-12)
    assert known_1["known_at"] == cut_1
    known_2 = forecast(api, "cut", known_at="2026-03-01T14:30:00Z")
    assert known_2["version"] == 1
    assert known_2["probability"] == pytest.approx(exact_posterior(0.5, [4.0, 4.0]), abs=1e-12)
    known_3 = forecast(api, "cut", known_at="2026-03-01T15:30:00Z")
    assert known_3["version"] == 2
    assert known_3["probability"] == pytest.approx(exact_posterior(0.2, [4.0, 4.0]), abs=1e-12)
    latest = forecast(api, "cut")
    assert latest["probability"] == pytest.approx(exact_posterior(0.2, [4.0]), abs=1e-12)
    assert forecast(api, "cut", known_at="2026-03-01T12:00:30Z")["position"] == 1


def test_a_scenario_unknown_at_the_cut_is_404_and_not_listed(api: Client) -> None:
    define(api, "later")
    assert (
        api.get("/v1/forecasts/later", params={"known_at": "2020-01-01T00:00:00Z"}).status_code
        == 404
    )
    listed = api.get("/v1/forecasts", params={"known_at": "2020-01-01T00:00:00Z"}).json()
    assert listed["forecasts"] == []
    assert api.get("/v1/forecasts/never-defined").status_code == 404


class TestPolling:
    def test_etag_and_cache_control_on_all_three(self, api: Client) -> None:
        define(api, "poll", rules=[rule("x", 2.0)])
        for url in ("/v1/forecasts", "/v1/forecasts/poll", "/v1/forecasts/poll/history"):
            response = api.get(url)
            assert response.headers["etag"].startswith('"')
            assert response.headers["cache-control"] == "no-cache"
            again = api.get(url, headers={"If-None-Match": response.headers["etag"]})
            assert again.status_code == 304
            assert again.content == b""

    def test_an_event_that_matches_nothing_keeps_the_etag(self, api: Client) -> None:
        define(api, "poll", rules=[rule("x", 2.0)])
        etag = api.get("/v1/forecasts").headers["etag"]
        api.post("/v1/events", json=signal("unrelated"))
        assert api.get("/v1/forecasts", headers={"If-None-Match": etag}).status_code == 304

    def test_a_matching_event_changes_the_etag(self, api: Client) -> None:
        define(api, "poll", rules=[rule("x", 2.0)])
        etag = api.get("/v1/forecasts").headers["etag"]
        api.post("/v1/events", json=signal("x", occurred_at="2025-05-01T00:00:00Z"))
        response = api.get("/v1/forecasts", headers={"If-None-Match": etag})
        assert response.status_code == 200
        assert response.headers["etag"] != etag

    def test_a_revision_changes_the_etag(self, api: Client) -> None:
        define(api, "poll")
        etag = api.get("/v1/forecasts").headers["etag"]
        define(api, "poll", prior=0.4)
        assert api.get("/v1/forecasts", headers={"If-None-Match": etag}).status_code == 200

    def test_a_new_tick_changes_the_etag_only_when_numbers_move(
        self, api: Client, clock: Clock
    ) -> None:
        define(api, "still")
        etag = api.get("/v1/forecasts").headers["etag"]
        clock.now += timedelta(seconds=20)
        assert api.get("/v1/forecasts", headers={"If-None-Match": etag}).status_code == 304
        clock.now += timedelta(seconds=60)
        assert api.get("/v1/forecasts", headers={"If-None-Match": etag}).status_code == 200

    def test_min_position_not_reached_is_503_with_retry_after(
        self, settings: Settings, clock: Clock
    ) -> None:
        quick = msgspec.structs.replace(settings, min_position_wait_s=0.05)
        with TestClient(create_app(quick, clock)) as client:
            response = client.get("/v1/forecasts", params={"min_position": 99})
            assert response.status_code == 503
            assert response.headers["retry-after"] == "1"
            assert response.headers["content-type"].startswith("application/problem+json")

    def test_min_position_reached_answers(self, api: Client) -> None:
        define(api, "poll", rules=[rule("x", 2.0)])
        position = api.post("/v1/events", json=signal("x")).json()["position"]
        response = api.get("/v1/forecasts/poll", params={"min_position": position})
        assert response.status_code == 200
        assert response.json()["position"] == position


class TestHistory:
    def test_points_are_on_the_grid_and_match_single_forecasts(self, api: Client) -> None:
        define(api, "hist", timing="uniform", rules=[rule("x", 3.0, half_life_days=10)])
        api.post("/v1/events", json=signal("x", occurred_at="2025-01-03T12:00:00Z"))
        params = {"from": OPENS, "to": "2025-01-10T00:00:00Z", "step": "P2D"}
        points = api.get("/v1/forecasts/hist/history", params=params).json()["points"]
        assert [p["t"] for p in points] == [
            "2025-01-01T00:00:00Z", "2025-01-03T00:00:00Z", "2025-01-05T00:00:00Z",
            "2025-01-07T00:00:00Z", "2025-01-09T00:00:00Z",
        ]  # fmt: skip
        for point in points:
            single = forecast(api, "hist", as_of=point["t"])
            assert point["probability"] == pytest.approx(single["probability"], abs=1e-12)
            assert point["interval80"] == pytest.approx(single["interval80"], abs=1e-12)

    def test_csv_has_a_header_and_one_row_per_point(self, api: Client) -> None:
        define(api, "hist")
        params = {"from": OPENS, "to": "2025-01-02T00:00:00Z", "step": "PT6H"}
        response = api.get(
            "/v1/forecasts/hist/history", params=params, headers={"Accept": "text/csv"}
        )
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(response.text)))
        assert rows[0] == ["t", "probability", "lo80", "hi80"]
        assert len(rows) == 1 + 5
        assert rows[1][0] == "2025-01-01T00:00:00Z"
        assert float(rows[1][1]) == pytest.approx(0.3)
        assert float(rows[1][2]) < float(rows[1][1]) < float(rows[1][3])

    @pytest.mark.parametrize("step", ["P0D", "-P1D", "often"])
    def test_a_bad_step_is_422(self, api: Client, step: str) -> None:
        define(api, "hist")
        response = api.get("/v1/forecasts/hist/history", params={"step": step})
        assert response.status_code == 422

    def test_too_many_points_is_422(self, api: Client) -> None:
        define(api, "hist")
        response = api.get("/v1/forecasts/hist/history", params={"step": "PT1M"})
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "step"


# --- issue 13: bounded parameters and bounded reads ------------------------------------


def scenario_body(slug: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": slug,
        "question": f"{slug}?",
        "opens_at": OPENS,
        "deadline": FAR,
        "prior": 0.3,
        "timing": "uniform",
        "rules": [rule("x", 3.0, half_life_days=1.0)],
    }
    body.update(changes)
    return body


def post_signals(client: Client, label: str, days: list[int]) -> None:
    events = [
        signal(label, occurred_at=(datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=d, hours=7))
               .isoformat(), summary=f"{label} {d}")
        for d in days
    ]  # fmt: skip
    response = client.post("/v1/events/batch", json={"events": events})
    assert response.status_code == 201, response.text


class TestModelBounds:
    @pytest.mark.parametrize("half_life", [1e-300, 3e-6, 0.04])
    def test_a_half_life_under_an_hour_is_422_saying_what_is_allowed(
        self, api: Client, half_life: float
    ) -> None:
        body = scenario_body("short", rules=[rule("x", 3.0, half_life_days=half_life)])
        response = api.put("/v1/scenarios/short", json=body)
        assert response.status_code == 422, response.text
        (error,) = response.json()["errors"]
        assert error["field"] == "rules[0].half_life_days"
        assert error["message"] == (
            "must be a number at least 0.041666666666666664 "
            "(allowed: 1/24 (one hour) to 36500 days)"
        )

    @pytest.mark.timeout(60, method="thread")  # the old hang was in the app's thread
    def test_a_stored_half_life_of_1e_300_reads_as_one_of_an_hour(
        self, settings: Settings, clock: Clock
    ) -> None:
        """A version stored before the bound existed: its history and forecasts
        answer (they hung for good), as those of the bound itself."""
        store_scenario(
            settings, "frozen", unchecked(scenario_body("frozen"), half_life_days=1e-300)
        )
        store_scenario(
            settings, "hourly", unchecked(scenario_body("hourly"), half_life_days=1 / 24)
        )
        with TestClient(create_app(settings, clock)) as client:
            post_signals(client, "x", [2, 3, 40])
            answers = {}
            for slug in ("frozen", "hourly"):
                params = {"from": OPENS, "to": "2025-03-01T00:00:00Z", "step": "PT1H"}
                history = client.get(f"/v1/forecasts/{slug}/history", params=params)
                known = client.get(
                    f"/v1/forecasts/{slug}/history",
                    params={**params, "known_at": "2030-01-01T00:00:00Z"},
                )
                one = forecast(client, slug, as_of="2025-01-03T07:30:00Z")
                assert history.status_code == known.status_code == 200, history.text
                answers[slug] = (history.json()["points"], known.json()["points"], one["logit"])
        frozen, hourly = answers["frozen"], answers["hourly"]
        assert frozen == hourly
        assert len(frozen[0]) == 59 * 24 + 1

    @pytest.mark.timeout(60, method="thread")
    def test_stored_what_if_rules_out_of_bounds_are_clamped_and_run(
        self, settings: Settings, clock: Clock
    ) -> None:
        """A backtest request stored with a what-if half-life of 1e-300 days: the
        projection reads it (clamped), and the backtest finishes."""
        backtest_id = uuid4()
        body = {
            "from": OPENS,
            "to": "2025-12-31T00:00:00Z",
            "step": "P1D",
            "rules": {"what-if": [rule("x", 3.0, half_life_days=1e-300)]},
        }
        with open_eventlog(settings) as log:
            log.app.save(BacktestRecord.request(backtest_id, json.dumps(body), utc_now()))
        with TestClient(create_app(settings, clock)) as client:
            define(client, "what-if", deadline="2025-12-31T00:00:00Z", rules=[rule("x", 3.0)])
            post_signals(client, "x", [3, 30])
            resolved = {"outcome": "yes", "resolved_at": "2025-03-01T00:00:00Z"}
            assert client.post("/v1/scenarios/what-if/resolution", json=resolved).status_code == 201
            assert client.get("/health/ready").status_code == 200
            for _ in range(600):
                found = client.get(f"/v1/backtests/{backtest_id}").json()
                if found["status"] in ("done", "failed"):
                    break
                time.sleep(0.05)
        what_if = found["request"]["rules"]["what-if"][0]
        assert what_if["half_life_days"] == 1 / 24
        assert found["status"] == "done", found


class TestContributionPages:
    @pytest.fixture
    def many(self, api: Client) -> dict[str, Any]:
        """30 matched events (of two rules, one discounted) and the full answer."""
        define(api, "many", rules=[rule("a", 2.0, repeat_discount=0.9), rule("b", 0.5)])
        post_signals(api, "a", list(range(0, 30, 2)))
        post_signals(api, "b", list(range(1, 30, 2)))
        return forecast(api, "many")

    def test_under_the_limit_every_contribution_is_listed_with_the_count(
        self, many: dict[str, Any]
    ) -> None:
        assert many["contributions_total"] == 32 == len(many["contributions"])
        assert "contributions_omitted" not in many
        assert math.fsum(c["log_odds"] for c in many["contributions"]) == pytest.approx(
            many["logit"], abs=1e-12
        )

    def test_pages_list_the_events_in_order_and_sum_up_the_rest(
        self, api: Client, many: dict[str, Any]
    ) -> None:
        listed: list[dict[str, Any]] = []
        for offset in range(0, 35, 7):
            page = forecast(api, "many", contributions_limit=7, contributions_offset=offset)
            kinds = [c["kind"] for c in page["contributions"]]
            events = page["contributions"][1:-1]
            assert kinds[0] == "prior"
            assert kinds[-1] == "time"
            assert len(events) == min(7, max(0, 30 - offset))
            assert page["contributions_total"] == 32
            omitted = page["contributions_omitted"]
            assert omitted["count"] == 30 - len(events)
            served = math.fsum(c["log_odds"] for c in page["contributions"]) + omitted["log_odds"]
            assert served == pytest.approx(page["logit"], abs=1e-12)
            assert {k: v for k, v in page.items() if not k.startswith("contributions")} == {
                k: v for k, v in many.items() if not k.startswith("contributions")
            }
            listed.extend(events)
        assert listed == many["contributions"][1:-1]

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"contributions_limit": 0}, "contributions_limit"),
            ({"contributions_limit": 10_001}, "contributions_limit"),
            ({"contributions_offset": -1}, "contributions_offset"),
        ],
    )
    def test_a_page_out_of_bounds_is_422(
        self, api: Client, many: dict[str, Any], params: dict[str, int], field: str
    ) -> None:
        response = api.get("/v1/forecasts/many", params=params)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == field

    def test_drivers_are_the_five_largest_with_ties_in_listing_order(
        self, many: dict[str, Any]
    ) -> None:
        """|ln 2| = |ln 0.5|: the first matches of both rules tie; the listing order
        (occurred_at, position, rule) breaks ties, as a stable sort of it does."""
        effects = {"pp", "log_odds_then", "pp_then"}  # listed contributions only
        events = [
            {k: v for k, v in c.items() if k not in effects} for c in many["contributions"][1:-1]
        ]
        expected = sorted(events, key=lambda c: -abs(c["log_odds"]))[:5]
        assert many["drivers"] == expected
        assert len({abs(d["log_odds"]) for d in expected}) == 1


class TestReadCaps:
    def test_a_history_costing_more_than_the_cap_is_422_saying_how_to_reduce_it(
        self, settings: Settings, clock: Clock
    ) -> None:
        capped = msgspec.structs.replace(settings, history_max_cost=1000)
        with TestClient(create_app(capped, clock)) as client:
            define(client, "hist", rules=[rule("x", 3.0)])
            post_signals(client, "x", [1, 2])
            params = {"from": OPENS, "to": "2025-03-01T00:00:00Z"}
            response = client.get("/v1/forecasts/hist/history", params={**params, "step": "PT1H"})
            assert response.status_code == 422, response.text
            (error,) = response.json()["errors"]
            assert error["field"] == "step"
            assert "cap of 1e+03" in error["message"]
            assert "shorter range" in error["message"]
            assert "longer step" in error["message"]
            cheaper = client.get("/v1/forecasts/hist/history", params={**params, "step": "P1D"})
            assert cheaper.status_code == 200

    def test_a_read_of_more_matches_than_the_cap_is_422(
        self, settings: Settings, clock: Clock
    ) -> None:
        capped = msgspec.structs.replace(settings, read_max_matches=3)
        with TestClient(create_app(capped, clock)) as client:
            define(client, "wide", rules=[rule("x", 3.0)])
            post_signals(client, "x", [1, 2, 3, 4])
            for path, params in (
                ("/v1/forecasts/wide", {}),
                ("/v1/forecasts", {"as_of": "2025-06-01T00:00:00Z"}),
            ):
                response = client.get(path, params=params)
                assert response.status_code == 422, response.text
                assert "TRADEWINDS_READ_MAX_MATCHES" in response.json()["errors"][0]["message"]
            assert client.get("/v1/forecasts").status_code == 200


class TestReadBudget:
    def test_a_read_past_its_budget_is_503_with_retry_after(
        self, settings: Settings, clock: Clock
    ) -> None:
        spent = msgspec.structs.replace(settings, heavy_read_budget_s=0.0)
        with TestClient(create_app(spent, clock)) as client:
            define(client, "slow", rules=[rule("x", 3.0)])
            for path, params in (
                ("/v1/forecasts/slow", {}),
                ("/v1/forecasts/slow/history", {}),
                ("/v1/forecasts", {"as_of": "2025-06-01T00:00:00Z"}),
                ("/v1/forecasts", {}),  # "now", not cached yet
            ):
                response = client.get(path, params=params)
                assert response.status_code == 503, response.text
                assert int(response.headers["retry-after"]) >= 1
                assert "budget of 0 s" in response.json()["detail"]
            assert client.get("/health/live").status_code == 200

    async def test_a_read_that_finds_every_slot_busy_past_its_budget_is_refused(
        self, settings: Settings
    ) -> None:
        one_slot = msgspec.structs.replace(settings, heavy_read_slots=1, heavy_read_budget_s=0.2)
        with open_eventlog(one_slot) as log:
            forecaster = Forecaster(log, utc_now, 60.0)
            other_read = object()
            forecaster.limiter.acquire_on_behalf_of_nowait(other_read)
            try:
                with pytest.raises(ReadOverBudget, match="slots for heavy reads") as refused:
                    await forecaster.heavy(lambda budget: 1)
                assert refused.value.retry_after >= 1
            finally:
                forecaster.limiter.release_on_behalf_of(other_read)
            assert await forecaster.heavy(lambda budget: 2) == 2

    async def test_a_light_read_does_not_wait_for_a_heavy_read_slot(
        self, settings: Settings, clock: Clock
    ) -> None:
        """A scenario of a few rules is read while every heavy-read slot is taken
        (by lists of heavy scenarios, under load): it used to wait behind them."""
        one_slot = msgspec.structs.replace(settings, heavy_read_slots=1, heavy_read_budget_s=2.0)
        with TestClient(create_app(one_slot, clock)) as client:
            define(client, "small", rules=[rule("x", 3.0)])
            forecaster = client.app.state.tradewinds.forecaster
            other_read = object()
            forecaster.limiter.acquire_on_behalf_of_nowait(other_read)
            try:
                assert client.get("/v1/forecasts/small").status_code == 200
                history = client.get("/v1/forecasts/small/history")
                assert history.status_code == 503, "history is not light: it waits for a slot"
            finally:
                forecaster.limiter.release_on_behalf_of(other_read)

    def test_the_limits_come_from_the_environment(self) -> None:
        found = settings_from_env(
            {
                "TRADEWINDS_HEAVY_READ_SLOTS": "3",
                "TRADEWINDS_HEAVY_READ_BUDGET_S": "2.5",
                "TRADEWINDS_HISTORY_MAX_COST": "1000",
                "TRADEWINDS_READ_MAX_MATCHES": "7",
            }
        )
        assert (found.heavy_read_slots, found.heavy_read_budget_s) == (3, 2.5)
        assert (found.history_max_cost, found.read_max_matches) == (1000, 7)
