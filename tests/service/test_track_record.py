"""Backtests as served (the track record): each sample is what the API served at t
with the knowledge cut at t, on a log imported with events recorded late, a
scenario revised mid-window and a resolution retracted and made anew."""

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

import msgspec
import pytest
from litestar.testing import TestClient

from service.cli.main import backtest_request, import_lines, parser
from service.settings import Settings
from service.web.app import create_app
from service.workers.backtestinputs import evaluate

Client = TestClient  # type: ignore[type-arg]
NS = UUID("0b5c7a4e-5f4b-4a5e-9d43-2f0e6d7b9a11")
WINDOW = {"from": "2025-01-01T00:00:00Z", "to": "2025-06-30T00:00:00Z", "step": "P1D"}
V2_RECORDED = datetime(2025, 3, 1, 12, tzinfo=UTC)
OLD_RESOLUTION_KNOWN = (datetime(2025, 4, 11, 9, tzinfo=UTC), datetime(2025, 4, 20, 9, tzinfo=UTC))


def at(day: str, hour: int = 0) -> str:
    return f"{day}T{hour:02d}:00:00Z"


def rules(approvals_b: float) -> list[dict[str, Any]]:
    return [
        {
            "name": "approvals",
            "match": {"kind": "export_approval", "where": {"category": "ai_chip"}},
            "bayes_factor": approvals_b,
            "repeat_discount": 0.7,
        },
        {"name": "signals", "match": {"kind": "signal"}, "bayes_factor": 0.7, "half_life_days": 20},
    ]


def definition(prior: float, deadline: str, approvals_b: float) -> dict[str, Any]:
    return {
        "title": "A chips deal",
        "question": "Will there be a chips deal?",
        "opens_at": at("2025-01-02"),
        "deadline": deadline,
        "prior": prior,
        "rules": rules(approvals_b),
    }


def approval(label: str, occurred: str) -> dict[str, Any]:
    return {
        "kind": "export_approval",
        "occurred_at": occurred,
        "summary": f"approval {label}",
        "authority": "US Commerce (BIS)",
        "category": "ai_chip",
        "product": label,
        "destination": "CN",
        "event_id": str(uuid5(NS, label)),
    }


def signal(label: str, occurred: str) -> dict[str, Any]:
    return {
        "kind": "signal",
        "occurred_at": occurred,
        "summary": f"signal {label}",
        "label": label,
        "event_id": str(uuid5(NS, label)),
    }


def logged(event: dict[str, Any], recorded_at: str) -> dict[str, Any]:
    return {"type": "event", "event": event, "recorded_at": recorded_at}


def entries() -> list[dict[str, Any]]:
    """In log order (recorded_at ascending). The first version is recorded on Jan 5
    though the question opened on Jan 2; approval a1 occurred on Jan 15 but was
    recorded on Feb 10, after a2 (so a2's rank changes when a1 arrives); a3 was
    recorded three weeks late; signal s2 is retracted; the scenario is revised on
    Mar 1 (prior, deadline, Bayes factor); a "yes" resolution is recorded on Apr 11
    and retracted on Apr 20; the final resolution is "no" at May 15."""
    scenario = definition(0.2, at("2025-06-30"), 2.0)
    revised = definition(0.35, at("2025-07-31"), 2.6)
    return [
        {"type": "scenario", "scenario_id": "chips-deal", "definition": scenario,
         "recorded_at": at("2025-01-05", 8)},
        logged(signal("s1", at("2025-01-20")), at("2025-01-20", 1)),
        logged(approval("a2", at("2025-02-01")), at("2025-02-01", 1)),
        logged(approval("a1", at("2025-01-15")), at("2025-02-10", 6)),
        logged(signal("s2", at("2025-02-12")), at("2025-02-12", 3)),
        logged(approval("a3", at("2025-02-20")), at("2025-03-13", 2)),
        {"type": "scenario", "scenario_id": "chips-deal", "definition": revised,
         "recorded_at": V2_RECORDED.isoformat()},
        logged(approval("a4", at("2025-03-05")), at("2025-03-05", 2)),
        {"type": "retraction", "event_id": str(uuid5(NS, "s2")), "reason": "misreported",
         "recorded_at": at("2025-03-20", 5)},
        {"type": "resolution", "scenario_id": "chips-deal",
         "resolution": {"outcome": "yes", "resolved_at": at("2025-04-10")},
         "recorded_at": OLD_RESOLUTION_KNOWN[0].isoformat()},
        {"type": "resolution_retraction", "scenario_id": "chips-deal", "reason": "premature",
         "recorded_at": OLD_RESOLUTION_KNOWN[1].isoformat()},
        logged(signal("s3", at("2025-04-25")), at("2025-05-02", 4)),
        {"type": "resolution", "scenario_id": "chips-deal",
         "resolution": {"outcome": "no", "resolved_at": at("2025-05-15")},
         "recorded_at": at("2025-05-16", 7)},
    ]  # fmt: skip


@pytest.fixture
def history(settings: Settings) -> Any:
    import_lines(settings, [msgspec.json.encode(e) for e in entries()])
    with TestClient(create_app(settings)) as client:
        if not client.app.state.tradewinds.eventlog.catch_up(30):
            raise TimeoutError("the index did not catch up")
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
    body = finished(client, response.json()["id"])
    assert body["status"] == "done", body["error"]
    return body


def served(client: Client, t: datetime) -> dict[str, Any] | None:
    """The forecast the API serves at t with the knowledge cut t (None: none yet)."""
    stamp = t.isoformat().replace("+00:00", "Z")
    response = client.get("/v1/forecasts/chips-deal", params={"as_of": stamp, "known_at": stamp})
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def window() -> list[datetime]:
    """The grid times while open as the log stands: Jan 2 <= t < May 15."""
    t = datetime(2025, 1, 1, tzinfo=UTC)
    times = []
    while t <= datetime(2025, 6, 30, tzinfo=UTC):
        if datetime(2025, 1, 2, tzinfo=UTC) <= t < datetime(2025, 5, 15, tzinfo=UTC):
            times.append(t)
        t += timedelta(days=1)
    return times


def test_as_served_equals_the_forecasts_the_api_served_at_each_sample(history: Client) -> None:
    body = run(history, knowledge="as_served")
    assert body["request"]["knowledge"] == "as_served"
    expected: list[tuple[datetime, float, float]] = []
    for t in window():
        answer = served(history, t)
        if answer is None or answer["probability"] is None:
            continue
        prior = 0.2 if t < V2_RECORDED else 0.35
        expected.append((t, answer["probability"], prior))
    assert expected[0][0] == datetime(2025, 1, 6, tzinfo=UTC)  # no version before Jan 5 08:00
    series = history.get(f"/v1/backtests/{body['id']}/series").json()["series"]
    (only,) = series
    assert only["scenario_id"] == "chips-deal"
    assert only["outcome"] is False
    got = [(datetime.fromisoformat(p["t"]), p["probability"]) for p in only["points"]]
    assert [t for t, _ in got] == [t for t, _, _ in expected]
    for (_, p), (t, q, _) in zip(got, expected, strict=True):
        assert p == pytest.approx(q, abs=1e-12), t
    (scenario,) = body["scores"]["scenarios"]
    p = [q for _, q, _ in expected]
    assert scenario["n_samples"] == len(expected)
    assert scenario["brier"] == pytest.approx(sum(q * q for q in p) / len(p), abs=1e-12)
    priors = [prior for _, _, prior in expected]
    assert scenario["brier_prior"] == pytest.approx(sum(x * x for x in priors) / len(p), abs=1e-12)


def test_a_resolution_retracted_later_is_scored_as_served_while_it_was_known(
    history: Client,
) -> None:
    body = run(history, knowledge="as_served")
    series = history.get(f"/v1/backtests/{body['id']}/series").json()["series"][0]["points"]
    known, retracted = OLD_RESOLUTION_KNOWN
    during = [
        p["probability"] for p in series if known <= datetime.fromisoformat(p["t"]) < retracted
    ]
    after = [p["probability"] for p in series if datetime.fromisoformat(p["t"]) >= retracted]
    assert during
    assert set(during) == {1.0}
    assert after
    assert all(0 < p < 1 for p in after)


def test_as_served_differs_from_hindsight_where_the_log_was_late(history: Client) -> None:
    as_served = run(history, knowledge="as_served")["scores"]["scenarios"][0]
    hindsight = run(history)["scores"]["scenarios"][0]
    assert hindsight["n_samples"] == len(window())
    assert as_served["n_samples"] == len(window()) - 4
    assert hindsight["brier_prior"] == pytest.approx(0.35**2)
    assert as_served["brier"] != pytest.approx(hindsight["brier"])


def test_ablation_removes_the_rule_by_name_from_every_version(history: Client) -> None:
    (scenario,) = run(history, knowledge="as_served")["scores"]["scenarios"]
    deltas = {r["rule"]: r["delta_brier"] for r in scenario["rules"]}
    assert set(deltas) == {"approvals", "signals"}
    assert deltas["approvals"] != 0.0


def test_as_served_with_what_if_rules_is_a_422_naming_both_fields(history: Client) -> None:
    body = {**WINDOW, "knowledge": "as_served", "rules": {"chips-deal": rules(3.0)}}
    response = history.post("/v1/backtests", json=body)
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"rules", "knowledge"} <= fields
    assert history.get("/v1/backtests").json()["backtests"] == []


def test_an_unknown_knowledge_is_a_422_listing_the_allowed_ones(history: Client) -> None:
    response = history.post("/v1/backtests", json={**WINDOW, "knowledge": "foresight"})
    assert response.status_code == 422
    text = response.text
    assert "hindsight" in text
    assert "as_served" in text


def test_a_hindsight_backtest_has_no_series(history: Client) -> None:
    body = run(history)
    assert "knowledge" not in body["request"]
    response = history.get(f"/v1/backtests/{body['id']}/series")
    assert response.status_code == 409


def test_the_command_line_scores_as_served_as_the_service_does(history: Client) -> None:
    args = parser().parse_args(
        ["backtest", "--from", WINDOW["from"], "--to", WINDOW["to"], "--knowledge", "as_served"]
    )
    request = backtest_request(args)
    assert request.knowledge == "as_served"
    eventlog = history.app.state.tradewinds.eventlog
    local = evaluate(eventlog.index, request, eventlog.head_time())
    (scenario,) = run(history, knowledge="as_served")["scores"]["scenarios"]
    assert local.scenarios[0].n_samples == scenario["n_samples"]
    assert local.scenarios[0].brier == pytest.approx(scenario["brier"], abs=1e-12)
