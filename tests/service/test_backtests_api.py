"""The Backtests section of the API, through litestar's test client."""

import io
import math
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec
import psycopg
import pytest
from litestar.testing import TestClient

from domain.backtests import BacktestRequest
from domain.records import BacktestRecord, ScenarioRecord
from service.cli.main import demo_lines, import_lines
from service.persistence.environment import eventsourcing_env
from service.persistence.eventlog import TradewindsStore
from service.settings import Settings, settings_from_env
from service.web.app import create_app
from service.workers import backtestinputs as backtests
from tests.service.events_data import signal
from tests.support.postgres import APP_ROLE, TEST_DATABASE, PostgresCluster
from tests.support.stores import sqlite_only

Client = TestClient  # type: ignore[type-arg]
WINDOW = {"from": "2025-01-01T00:00:00Z", "to": "2026-11-01T00:00:00Z", "step": "P15D"}


@pytest.fixture
def demo(settings: Settings) -> Iterator[Client]:
    """The demo timeline, applied: the index catches up in the background after
    start, and a test that reads it directly would otherwise race it."""
    import_lines(settings, demo_lines())
    with TestClient(create_app(settings)) as client:
        if not client.app.state.tradewinds.eventlog.catch_up(30):
            raise TimeoutError("the index did not catch up with the demo timeline")
        yield client


def finished(client: Client, backtest_id: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/v1/backtests/{backtest_id}").json()
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.05)
    raise TimeoutError(backtest_id)


def run(client: Client, **request: Any) -> dict[str, Any]:
    response = client.post("/v1/backtests", json={**WINDOW, **request})
    assert response.status_code == 202, response.text
    return finished(client, response.json()["id"])


def grid(start: str, stop: str, step: timedelta) -> list[datetime]:
    t = datetime.fromisoformat(start)
    end = datetime.fromisoformat(stop)
    times = []
    while t <= end:
        times.append(t)
        t += step
    return times


def test_post_answers_202_with_an_id_and_a_location(demo: Client) -> None:
    response = demo.post("/v1/backtests", json=WINDOW)
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert body["progress"] == 0.0
    assert body["request"] == WINDOW
    assert response.headers["location"] == f"/v1/backtests/{body['id']}"


@sqlite_only
def test_a_finished_backtest_has_the_shapes_of_the_contract(demo: Client) -> None:
    body = run(demo)
    assert body["status"] == "done"
    assert body["progress"] == 1.0
    assert body["error"] is None
    scores = body["scores"]
    assert set(scores["overall"]) == {
        "brier", "log", "brier_prior", "brier_half", "skill", "ece", "sharpness",
        "n_samples", "n_scenarios", "brier_pooled", "murphy", "brier_timing", "brier_ci",
        "skill_ci", "vs_prior_ci", "vs_half_ci", "few_scenarios", "uncalibrated_samples",
    }  # fmt: skip
    assert {
        "scenario_id", "outcome", "brier", "log", "brier_prior", "brier_half", "skill",
        "n_samples", "brier_timing", "rules",
    } == set(scores["scenarios"][0])  # fmt: skip
    assert [b["lo"] for b in scores["calibration"]] == pytest.approx([i / 10 for i in range(10)])
    assert set(scores["calibration"][0]) == {"lo", "hi", "mean_forecast", "observed_rate", "count"}


@sqlite_only
def test_every_score_equals_a_recomputation_from_served_forecasts(demo: Client) -> None:
    """Sample each resolved scenario's served forecasts on the grid, as an outside
    client would, and score them by model.md."""
    body = run(demo)
    times = grid(WINDOW["from"], WINDOW["to"], timedelta(days=15))
    briers, priors, logs = [], [], []
    for scored in body["scores"]["scenarios"]:
        scenario = demo.get(f"/v1/scenarios/{scored['scenario_id']}").json()
        definition = scenario["definition"]
        opens = datetime.fromisoformat(definition.get("opens_at") or scenario["first_recorded_at"])
        end = min(
            datetime.fromisoformat(definition["deadline"]),
            datetime.fromisoformat(scenario["resolution"]["resolved_at"]),
        )
        y = 1.0 if scenario["resolution"]["outcome"] == "yes" else 0.0
        ps = []
        for t in times:
            if opens <= t < end:
                served = demo.get(
                    f"/v1/forecasts/{scored['scenario_id']}",
                    params={"as_of": t.isoformat().replace("+00:00", "Z")},
                ).json()
                ps.append(served["probability"])
        assert scored["n_samples"] == len(ps)
        brier = sum((p - y) ** 2 for p in ps) / len(ps)
        clipped = [min(max(p, 1e-6), 1 - 1e-6) for p in ps]
        log = sum(-math.log(p if y else 1 - p) for p in clipped) / len(ps)
        prior = (definition["prior"] - y) ** 2
        assert scored["brier"] == pytest.approx(brier, abs=1e-12)
        assert scored["log"] == pytest.approx(log, abs=1e-12)
        assert scored["brier_prior"] == pytest.approx(prior, abs=1e-12)
        assert scored["skill"] == pytest.approx(1 - brier / prior, abs=1e-12)
        briers.append(brier)
        priors.append(prior)
        logs.append(log)
    overall = body["scores"]["overall"]
    assert overall["brier"] == pytest.approx(sum(briers) / len(briers), abs=1e-12)
    assert overall["log"] == pytest.approx(sum(logs) / len(logs), abs=1e-12)
    assert overall["skill"] == pytest.approx(1 - sum(briers) / sum(priors), abs=1e-12)


@sqlite_only
def test_annulled_and_unresolved_scenarios_are_not_scored(demo: Client) -> None:
    scenarios = demo.get("/v1/scenarios").json()["scenarios"]
    unresolved = {s["id"] for s in scenarios if s["resolution"] is None}
    victim = sorted(unresolved)[0]
    demo.post(
        f"/v1/scenarios/{victim}/resolution",
        json={"outcome": "annulled", "resolved_at": "2026-06-01T00:00:00Z"},
    )
    scored = {s["scenario_id"] for s in run(demo)["scores"]["scenarios"]}
    resolved = {
        s["id"] for s in scenarios if s["resolution"] and s["resolution"]["outcome"] != "annulled"
    }
    assert scored == resolved
    assert victim not in scored
    assert not unresolved & scored


@sqlite_only
def test_scenario_ids_limit_what_is_scored(demo: Client) -> None:
    body = run(demo, scenario_ids=["us-h20-approval-2025"])
    assert [s["scenario_id"] for s in body["scores"]["scenarios"]] == ["us-h20-approval-2025"]
    assert body["scores"]["overall"]["n_scenarios"] == 1


def test_what_if_rules_change_the_scores_but_not_the_store(demo: Client) -> None:
    events_before = demo.get("/v1/events", params={"limit": 1000}).json()
    scenario_before = demo.get("/v1/scenarios/us-h20-approval-2025").json()
    forecasts_before = demo.get("/v1/forecasts", params={"as_of": "2025-08-01T00:00:00Z"}).json()
    plain = run(demo, scenario_ids=["us-h20-approval-2025"])
    rules = [
        {
            "name": "any negotiation",
            "match": {"kind": "negotiation"},
            "bayes_factor": 3.0,
        }
    ]
    what_if = run(
        demo, scenario_ids=["us-h20-approval-2025"], rules={"us-h20-approval-2025": rules}
    )
    assert what_if["request"]["rules"]["us-h20-approval-2025"][0]["name"] == "any negotiation"
    assert what_if["scores"]["overall"]["brier"] != plain["scores"]["overall"]["brier"]
    assert demo.get("/v1/events", params={"limit": 1000}).json() == events_before
    assert demo.get("/v1/scenarios/us-h20-approval-2025").json() == scenario_before
    after = demo.get("/v1/forecasts", params={"as_of": "2025-08-01T00:00:00Z"}).json()
    assert after == forecasts_before


def test_a_backtest_is_blind_to_events_appended_after_it_was_requested(
    settings: Settings,
) -> None:
    """It evaluates the log as it stood at the request, so a rerun gives the same scores."""
    with TestClient(create_app(settings)) as client:
        client.put(
            "/v1/scenarios/blind",
            json={
                "title": "t", "question": "q", "opens_at": "2025-01-01T00:00:00Z",
                "deadline": "2025-12-31T00:00:00Z", "prior": 0.5, "timing": "none",
                "rules": [{"name": "x", "match": {"kind": "signal", "where": {"label": "x"}},
                           "bayes_factor": 4.0}],
            },
        )  # fmt: skip
        client.post(
            "/v1/scenarios/blind/resolution",
            json={"outcome": "yes", "resolved_at": "2025-12-01T00:00:00Z"},
        )
        first = run(client)
        client.post("/v1/events", json=signal("x", occurred_at="2025-02-01T00:00:00Z"))
        second = run(client)
    assert first["scores"]["overall"]["brier"] == pytest.approx(0.25, abs=1e-12)
    assert second["scores"]["overall"]["brier"] < 0.25


@sqlite_only
def test_the_reliability_diagram_is_svg_with_one_mark_per_non_empty_bin(demo: Client) -> None:
    body = run(demo)
    response = demo.get(f"/v1/backtests/{body['id']}/reliability.svg")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    root = ET.parse(io.BytesIO(response.content)).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    marks = {
        element.get("id") for element in root.iter() if (element.get("id") or "").startswith("bin-")
    }
    non_empty = {f"bin-{i}" for i, b in enumerate(body["scores"]["calibration"]) if b["count"]}
    assert marks == non_empty
    text = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "Brier" in response.text or "Brier" in text


def test_backtests_are_listed_newest_first(demo: Client) -> None:
    first = run(demo)
    second = run(demo, scenario_ids=["us-h20-approval-2025"])
    listed = demo.get("/v1/backtests").json()["backtests"]
    assert [b["id"] for b in listed[:2]] == [second["id"], first["id"]]


@sqlite_only
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"step": "P0D"}, "step"),
        ({"step": "often"}, "step"),
        ({"to": "2024-01-01T00:00:00Z"}, "to"),
        ({"from": "2025-01-01T00:00:00"}, "from"),
        ({"step": "PT1S"}, "step"),
        ({"scenario_ids": ["no-such-scenario"]}, "scenario_ids[0]"),
        ({"rules": {"no-such-scenario": []}}, "rules.no-such-scenario"),
        (
            {
                "rules": {
                    "us-h20-approval-2025": [
                        {
                            "name": "r",
                            "match": {"kind": "signal", "where": {"nope": 1}},
                            "bayes_factor": 2,
                        }
                    ]
                }
            },
            "rules.us-h20-approval-2025[0].match.where.nope",
        ),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_request_is_422_and_starts_nothing(
    demo: Client, changes: dict[str, Any], field: str
) -> None:
    response = demo.post("/v1/backtests", json={**WINDOW, **changes})
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]
    assert demo.get("/v1/backtests").json()["backtests"] == []


@sqlite_only
def test_an_unknown_backtest_is_404(demo: Client) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    assert demo.get(f"/v1/backtests/{missing}").status_code == 404
    assert demo.get(f"/v1/backtests/{missing}/reliability.svg").status_code == 404


def test_progress_is_recorded_in_the_log(demo: Client, settings: Settings) -> None:
    body = run(demo)
    assert body["status"] == "done"
    assert datetime.fromisoformat(body["requested_at"]) <= datetime.now(UTC)
    later = demo.post("/v1/events", json=signal("after")).json()
    assert later["position"] > body["position"] + 1


def stored_result(client: Client, backtest_id: str) -> str:
    result = client.app.state.tradewinds.eventlog.index.backtests[UUID(backtest_id)].result
    assert isinstance(result, str)
    return result


@sqlite_only
@pytest.mark.parametrize("chunk_work", [1, backtests.CHUNK_WORK])
def test_the_worker_process_scores_exactly_as_an_in_process_run(
    demo: Client, monkeypatch: pytest.MonkeyPatch, chunk_work: int
) -> None:
    """The service computes in a worker process, a chunk of scenarios at a time (one
    scenario per chunk with ``chunk_work`` 1); the command line computes in process:
    the same bytes either way."""
    monkeypatch.setattr(backtests, "CHUNK_WORK", chunk_work)
    rules = [{"name": "any negotiation", "match": {"kind": "negotiation"}, "bayes_factor": 3.0}]
    for request in ({}, {"rules": {"us-h20-approval-2025": rules}}):
        body = run(demo, **request)
        assert body["status"] == "done", body
        log = demo.app.state.tradewinds.eventlog
        state = log.index.backtests[UUID(body["id"])]
        in_process = backtests.evaluate(
            log.index, state.request, state.requested_at.timestamp(), backtest_id=state.id
        )
        assert stored_result(demo, body["id"]) == backtests.scores_body(in_process)
        assert body["scores"]["overall"]["n_scenarios"] >= 2


@sqlite_only
def test_a_backtest_over_the_work_cap_is_422_saying_the_cap_and_how_to_shrink_it(
    settings: Settings,
) -> None:
    capped = msgspec.structs.replace(settings, backtest_max_work=2_000)
    import_lines(capped, demo_lines())
    with TestClient(create_app(capped)) as client:
        response = client.post("/v1/backtests", json={**WINDOW, "step": "P1D"})
        assert response.status_code == 422, response.text
        (error,) = response.json()["errors"]
        assert error["field"] == "step"
        assert "2,000" in error["message"]
        assert "TRADEWINDS_BACKTEST_MAX_WORK" in error["message"]
        assert "longer step" in error["message"]
        assert client.get("/v1/backtests").json()["backtests"] == []
        smaller = {**WINDOW, "step": "P30D", "scenario_ids": ["us-h20-approval-2025"]}
        assert client.post("/v1/backtests", json=smaller).status_code == 202


def test_the_work_cap_is_a_setting() -> None:
    assert settings_from_env({"TRADEWINDS_BACKTEST_MAX_WORK": "12345"}).backtest_max_work == 12345
    assert settings_from_env({}).backtest_max_work == Settings().backtest_max_work


def _signals(count: int) -> list[bytes]:
    return [
        msgspec.json.encode(
            {"type": "event", "event": {
                "event_id": str(UUID(int=i + 1)), "kind": "signal",
                "occurred_at": f"2025-{1 + i % 12:02d}-01T00:00:00Z", "summary": f"s{i}",
                "label": f"l{i % 50}"}}
        )
        for i in range(count)
    ]  # fmt: skip


def write_scenarios_elsewhere(settings: Settings, count: int) -> None:
    """Scenarios written straight to the store, as another replica would: each rule
    reads every signal, so this replica's index rescans them all for each one, which
    keeps its projection busy for a while."""
    store = TradewindsStore(eventsourcing_env(settings))
    now = datetime.now(UTC)
    definition = {
        "title": "t", "question": "?", "opens_at": "2025-01-01T00:00:00Z",
        "deadline": "2026-12-31T00:00:00Z", "prior": 0.5,
        "rules": [{"name": "r", "match": {"kind": "signal", "where": {"label": "none"}},
                   "bayes_factor": 2.0}],
    }  # fmt: skip
    body = msgspec.json.encode(definition).decode()
    try:
        store.save(*(ScenarioRecord.define(f"elsewhere-{i}", body, now) for i in range(count)))
    finally:
        store.close()


def test_a_backtest_is_known_right_after_its_202_while_the_index_is_behind(
    settings: Settings,
) -> None:
    """Another writer (here an import into the same store) leaves this replica's index
    seconds behind the store: the backtest accepted here still answers at once."""
    import_lines(settings, [*demo_lines(), *_signals(20_000)])
    with TestClient(create_app(settings)) as client:
        write_scenarios_elsewhere(settings, 150)
        response = client.post("/v1/backtests", json=WINDOW)
        assert response.status_code == 202, response.text
        backtest_id = response.json()["id"]
        log = client.app.state.tradewinds.eventlog
        assert UUID(backtest_id) not in log.index.backtests  # the index is behind
        got = client.get(f"/v1/backtests/{backtest_id}")
        assert got.status_code == 200, got.text
        assert got.json()["status"] in ("queued", "running", "done")
        assert got.json()["request"] == WINDOW
        assert backtest_id in [b["id"] for b in client.get("/v1/backtests").json()["backtests"]]
        assert finished(client, backtest_id, timeout=120)["status"] == "done"


def test_the_runner_thread_is_exposed_and_alive(demo: Client) -> None:
    runner = demo.app.state.tradewinds.backtests
    assert runner.thread.is_alive()
    assert run(demo)["status"] == "done"
    assert runner.thread.is_alive()


def long_backtest_lines(scenarios: int = 20, rules: int = 100) -> list[bytes]:
    """Resolved scenarios of many decaying rules over labelled signals: a run with
    PT15M over two years takes seconds."""
    lines = _signals(2_000)
    for s in range(scenarios):
        definition = {
            "title": f"long {s}", "question": "?", "opens_at": "2025-01-01T00:00:00Z",
            "deadline": "2026-12-31T00:00:00Z", "prior": 0.3,
            "rules": [{"name": f"r{j}", "bayes_factor": 1.01 + j / 1000, "half_life_days": 30,
                       "match": {"kind": "signal", "where": {"label": f"l{j % 50}"}}}
                      for j in range(rules)],
        }  # fmt: skip
        slug = f"long-{s:03d}"
        lines.append(msgspec.json.encode({"type": "scenario", "scenario_id": slug,
                                          "definition": definition}))  # fmt: skip
        resolution = {"outcome": "yes" if s % 2 else "no", "resolved_at": "2026-10-01T00:00:00Z"}
        lines.append(msgspec.json.encode({"type": "resolution", "scenario_id": slug,
                                          "resolution": resolution}))  # fmt: skip
    return lines


def test_the_runner_rides_out_a_store_that_refuses_its_writes(
    postgres_cluster: PostgresCluster, tmp_path: Path
) -> None:
    """PostgreSQL refuses every insert for a while in the middle of a run: progress
    and result cannot be written. The runner keeps computing, retries, and records the
    result once the store takes writes again: claimed once (no start over), done (not
    failed), its record readable (no gap in its versions), its thread alive."""
    url = postgres_cluster.new_store()
    schema = url.rsplit("schema=", 1)[1]
    settings = Settings(data_dir=tmp_path / "data", database_url=url)
    import_lines(settings, long_backtest_lines())
    request = {"from": "2025-01-01T00:00:00Z", "to": "2026-11-01T00:00:00Z", "step": "PT15M"}
    admin = psycopg.connect(
        host=str(postgres_cluster.socket_dir), port=postgres_cluster.port, user="postgres",
        dbname=TEST_DATABASE, autocommit=True,
    )  # fmt: skip
    with admin, TestClient(create_app(settings)) as client:
        response = client.post("/v1/backtests", json=request)
        assert response.status_code == 202, response.text
        backtest_id = response.json()["id"]
        deadline = time.monotonic() + 60
        while client.get(f"/v1/backtests/{backtest_id}").json()["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        admin.execute(f"REVOKE INSERT ON ALL TABLES IN SCHEMA {schema} FROM {APP_ROLE}")
        try:
            time.sleep(4)
        finally:
            admin.execute(f"GRANT INSERT ON ALL TABLES IN SCHEMA {schema} TO {APP_ROLE}")
        body = finished(client, backtest_id, timeout=120)
        log = client.app.state.tradewinds.eventlog
        record = log.get(UUID(backtest_id))
        events = log.app.events.get(UUID(backtest_id))
        assert client.app.state.tradewinds.backtests.thread.is_alive()
    assert body["status"] == "done", body
    assert record is not None
    assert record.finished
    assert sum(isinstance(e, BacktestRecord.Claimed) for e in events) == 1


@sqlite_only
@pytest.mark.parametrize(
    "request_body",
    [
        {**WINDOW, "step": "P1D"},
        {**WINDOW, "step": "PT6H", "scenario_ids": ["us-h20-approval-2025"]},
        {
            **WINDOW,
            "rules": {
                "us-h20-approval-2025": [
                    {"name": "n", "match": {"kind": "negotiation"}, "bayes_factor": 2.0}
                ]
            },
        },
    ],
)
def test_the_estimate_checked_at_post_bounds_the_work_of_the_run(
    demo: Client, request_body: dict[str, Any]
) -> None:
    request = msgspec.convert(request_body, BacktestRequest)
    log = demo.app.state.tradewinds.eventlog
    estimated = backtests.estimate(log.index, request)
    inputs = backtests.snapshot(log.index, request, log.head_time())
    samples = int(backtests.grid_of(request).shape[0])
    assert estimated.scenarios == len(inputs) > 0
    assert estimated.samples == samples
    assert estimated.work >= sum(item.work(samples) for item in inputs) > 0
