"""A finished backtest's answer says its overall scores in words (``summary``): the
Brier with its interval and, per baseline, better, worse or not distinguishable as
the served intervals say. A result stored before the intervals reads too."""

import uuid
from typing import Any

from litestar.testing import TestClient

from service.settings import Settings
from service.web.app import create_app
from tests.service.test_backtest_scores_api import Client, demo, run, store_old_result

__all__ = ["demo"]  # the fixture, used by name


def expected_phrase(name: str, interval: list[float]) -> str:
    """How the served interval of (Brier - baseline) must be read, worked out here."""
    lo, hi = interval
    if lo > 0:
        return f"Worse than {name}: "
    if hi < 0:
        return f"Better than {name}: "
    return f"Not distinguishable from {name}: "


def line_about(summary: list[str], name: str) -> str:
    found = [line for line in summary if f" {name}: Brier" in line]
    assert len(found) == 1, (name, summary)
    return found[0]


def test_a_finished_backtest_says_in_words_how_it_compares_with_the_baselines(
    demo: Client,
) -> None:
    body: dict[str, Any] = run(demo)
    overall = body["scores"]["overall"]
    summary = body["summary"]
    lo, hi = overall["brier_ci"]
    assert summary[0].startswith(
        f"Brier {overall['brier']:.3f} over {overall['n_scenarios']} scenarios, "
        f"95% interval {lo:.3f} to {hi:.3f}"
    )
    half = line_about(summary, "always-50%")
    assert half.startswith(expected_phrase("always-50%", overall["vs_half_ci"]))
    assert f"vs {overall['brier_half']:.3f}" in half
    prior = line_about(summary, "the prior alone")
    assert prior.startswith(expected_phrase("the prior alone", overall["vs_prior_ci"]))
    lo, hi = overall["vs_prior_ci"]
    assert f"{lo:+.3f} to {hi:+.3f}" in prior
    timing = line_about(summary, "the prior and time term alone (no rules)")
    assert f"vs {overall['brier_timing']:.3f}" in timing
    assert any("fewer than 5 scenarios" in line for line in summary) is overall["few_scenarios"]
    listed = demo.get("/v1/backtests").json()["backtests"]
    assert [b["summary"] for b in listed if b["id"] == body["id"]] == [summary]


def test_with_fewer_than_5_scenarios_the_summary_says_the_intervals_mean_little(
    demo: Client,
) -> None:
    body = run(demo, scenario_ids=["us-h20-approval-2025", "us-h200-approval-2025"])
    assert body["scores"]["overall"]["few_scenarios"] is True
    assert (
        "With fewer than 5 scenarios these intervals are not meaningful (this backtest scored 2)."
    ) in body["summary"]
    verdicts = ("Better than", "Worse than", "Not distinguishable")
    assert not any(line.startswith(verdicts) for line in body["summary"])
    lo, hi = body["scores"]["overall"]["vs_prior_ci"]
    given = f"(95% interval {lo:+.3f} to {hi:+.3f}, not meaningful here)."
    assert any(line.endswith(given) for line in body["summary"])


def test_a_result_stored_before_the_intervals_is_summed_up_without_verdicts(
    settings: Settings,
) -> None:
    backtest_id = uuid.uuid4()
    store_old_result(settings, backtest_id)
    with TestClient(create_app(settings)) as client:
        assert client.app.state.tradewinds.eventlog.catch_up(30)
        summary = client.get(f"/v1/backtests/{backtest_id}").json()["summary"]
    assert summary[0] == "Brier 0.200 over 2 scenarios (lower is better; 0 is perfect)."
    assert not any(line.startswith(("Better", "Worse", "Not distinguishable")) for line in summary)
