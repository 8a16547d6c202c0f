"""GET /v1/backtests/{id} serves model.md's "More scores" (api.md, Backtests), checked
against what the same answer says elsewhere (the calibration table, the per-scenario
scores, the scenarios' rules); a result stored before them still reads."""

import io
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient

from domain.records import BacktestRecord
from service.cli.main import demo_lines, import_lines
from service.persistence.environment import eventsourcing_env
from service.persistence.eventlog import TradewindsStore
from service.settings import Settings
from service.web.app import create_app
from tests.service.test_backtests_api import WINDOW, finished

Client = TestClient  # type: ignore[type-arg]
TOL = 1e-12


@pytest.fixture
def demo(settings: Settings) -> Iterator[Client]:
    import_lines(settings, demo_lines())
    with TestClient(create_app(settings)) as client:
        if not client.app.state.tradewinds.eventlog.catch_up(30):
            raise TimeoutError("the index did not catch up with the demo timeline")
        yield client


def run(client: Client, **request: Any) -> dict[str, Any]:
    response = client.post("/v1/backtests", json={**WINDOW, **request})
    assert response.status_code == 202, response.text
    body = finished(client, response.json()["id"])
    assert body["status"] == "done", body
    return body


def test_a_backtest_answers_the_pooled_brier_and_its_decomposition(demo: Client) -> None:
    scores = run(demo)["scores"]
    overall = scores["overall"]
    n = overall["n_samples"]
    pooled = sum(s["brier"] * s["n_samples"] for s in scores["scenarios"]) / n
    assert overall["brier_pooled"] == pytest.approx(pooled, abs=TOL)
    bins = [b for b in scores["calibration"] if b["count"]]
    rate = sum(b["count"] * b["observed_rate"] for b in bins) / n
    reliability = sum(b["count"] * (b["mean_forecast"] - b["observed_rate"]) ** 2 for b in bins)
    resolution = sum(b["count"] * (b["observed_rate"] - rate) ** 2 for b in bins)
    assert overall["murphy"] == pytest.approx(
        {"reliability": reliability / n, "resolution": resolution / n,
         "uncertainty": rate * (1 - rate)},
        abs=TOL,
    )  # fmt: skip


def test_a_backtest_answers_intervals_the_timing_baseline_and_the_ablation(
    demo: Client,
) -> None:
    body = run(demo)
    scores = body["scores"]
    overall = scores["overall"]
    points = {
        "brier_ci": overall["brier"],
        "skill_ci": overall["skill"],
        "vs_prior_ci": overall["brier"] - overall["brier_prior"],
        "vs_half_ci": overall["brier"] - overall["brier_half"],
    }
    for name, point in points.items():
        lo, hi = overall[name]
        assert lo <= point + TOL, name
        assert point <= hi + TOL, name
    assert overall["few_scenarios"] is (overall["n_scenarios"] < 5)
    timing = [s["brier_timing"] for s in scores["scenarios"]]
    assert all(0 <= b <= 1 for b in timing)
    assert overall["brier_timing"] == pytest.approx(sum(timing) / len(timing), abs=TOL)
    for s in scores["scenarios"]:
        definition = demo.get(f"/v1/scenarios/{s['scenario_id']}").json()["definition"]
        assert [r["rule"] for r in s["rules"]] == [r["name"] for r in definition["rules"]]
        assert all(isinstance(r["delta_brier"], float) for r in s["rules"])
    assert any(r["delta_brier"] != 0 for s in scores["scenarios"] for r in s["rules"])
    assert demo.get(f"/v1/backtests/{body['id']}").json()["scores"] == scores


def test_the_reliability_diagram_labels_the_counts_and_gives_the_interval(
    demo: Client,
) -> None:
    body = run(demo)
    response = demo.get(f"/v1/backtests/{body['id']}/reliability.svg")
    assert response.status_code == 200
    root = ET.parse(io.BytesIO(response.content)).getroot()
    labels = {e.get("id") for e in root.iter() if (e.get("id") or "").startswith("count-")}
    counts = {f"count-{i}" for i, b in enumerate(body["scores"]["calibration"]) if b["count"]}
    assert counts <= labels
    for i, b in enumerate(body["scores"]["calibration"]):
        if b["count"]:
            assert f"<!-- {b['count']} -->" in response.text, i
    lo, hi = body["scores"]["overall"]["brier_ci"]
    assert f"95% interval {lo:.4f} to {hi:.4f}" in response.text


OLD_RESULT = {
    "overall": {
        "brier": 0.2, "log": 0.6, "brier_prior": 0.21, "brier_half": 0.25, "skill": 0.05,
        "ece": 0.1, "sharpness": 0.02, "n_samples": 40, "n_scenarios": 2,
    },
    "scenarios": [
        {"scenario_id": "a", "outcome": "yes", "brier": 0.2, "log": 0.6, "brier_prior": 0.21,
         "brier_half": 0.25, "skill": 0.05, "n_samples": 40},
    ],
    "calibration": [
        {"lo": i / 10, "hi": (i + 1) / 10, "mean_forecast": 0.35 if i == 3 else None,
         "observed_rate": 0.5 if i == 3 else None, "count": 40 if i == 3 else 0}
        for i in range(10)
    ],
}  # fmt: skip


def store_old_result(settings: Settings, backtest_id: uuid.UUID) -> None:
    """A backtest finished by an older version: its result has none of the new fields."""
    store = TradewindsStore(eventsourcing_env(settings))
    now = datetime.now(UTC)
    request = {**WINDOW}
    record = BacktestRecord.request(backtest_id, msgspec.json.encode(request).decode(), now)
    record.claim("an older replica", timedelta(minutes=1), now)
    record.finish(msgspec.json.encode(OLD_RESULT).decode(), now)
    try:
        store.save(record)
    finally:
        store.close()


def test_a_result_stored_before_the_more_scores_still_reads(settings: Settings) -> None:
    backtest_id = uuid.uuid4()
    store_old_result(settings, backtest_id)
    with TestClient(create_app(settings)) as client:
        assert client.app.state.tradewinds.eventlog.catch_up(30)
        response = client.get(f"/v1/backtests/{backtest_id}")
        assert response.status_code == 200, response.text
        scores = response.json()["scores"]
        assert scores["overall"]["brier"] == 0.2
        assert scores["overall"]["brier_ci"] is None
        assert scores["overall"]["murphy"] is None
        assert scores["scenarios"][0]["rules"] is None
        svg = client.get(f"/v1/backtests/{backtest_id}/reliability.svg")
        assert svg.status_code == 200, svg.text
        assert "Brier 0.2000" in svg.text
