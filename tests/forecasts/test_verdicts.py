"""The backtest's scores in words: a baseline is "better" or "worse" only when the
95% interval of the paired difference excludes 0, otherwise "not distinguishable";
too few scenarios are said; rules rank from most help to most harm."""

from dataclasses import replace

import pytest

from forecasts.murphy import Murphy
from forecasts.scoring import OverallScore, RuleDelta
from forecasts.verdicts import (
    MURPHY_TERMS,
    comparison,
    effect,
    murphy_lines,
    ranked,
    verdict,
    verdicts,
)

OVERALL = OverallScore(
    brier=0.354, log=0.97, brier_prior=0.399, brier_half=0.25, skill=0.115, ece=0.24,
    sharpness=0.014, n_samples=96, n_scenarios=7, brier_pooled=0.273,
    murphy=Murphy(reliability=0.097, resolution=0.057, uncertainty=0.234),
    brier_timing=0.437, brier_ci=(0.30, 0.41), skill_ci=(-0.1, 0.3),
    vs_prior_ci=(-0.05, 0.03), vs_half_ci=(0.02, 0.19), few_scenarios=False,
)  # fmt: skip


@pytest.mark.parametrize(
    ("interval", "expected"),
    [
        ((-0.05, 0.03), "indistinguishable"),
        ((0.0, 0.03), "indistinguishable"),
        ((-0.05, 0.0), "indistinguishable"),
        ((0.02, 0.19), "worse"),
        ((-0.19, -0.02), "better"),
    ],
)
def test_a_baseline_is_beaten_or_not_only_when_the_interval_excludes_0(
    interval: tuple[float, float], expected: str
) -> None:
    assert verdict(interval) == expected


def test_an_interval_crossing_0_reads_not_distinguishable() -> None:
    text = comparison("the prior alone", 0.354, 0.399, (-0.05, 0.03))
    assert text == (
        "Not distinguishable from the prior alone: Brier 0.354 vs 0.399, difference -0.045; "
        "the difference's 95% interval (-0.050 to +0.030) includes 0."
    )


def test_an_interval_above_0_reads_worse() -> None:
    text = comparison("always-50%", 0.354, 0.25, (0.02, 0.19))
    assert text == (
        "Worse than always-50%: Brier 0.354 vs 0.250, difference +0.104 "
        "(95% interval +0.020 to +0.190)."
    )


def test_an_interval_below_0_reads_better() -> None:
    text = comparison("the prior alone", 0.2, 0.4, (-0.3, -0.1))
    assert text == (
        "Better than the prior alone: Brier 0.200 vs 0.400, difference -0.200 "
        "(95% interval -0.300 to -0.100)."
    )


def test_without_an_interval_the_difference_is_not_judged() -> None:
    text = comparison("always-50%", 0.354, 0.25, None)
    assert "Worse" not in text
    assert "Better" not in text
    assert "difference +0.104" in text
    assert "no interval" in text


def test_the_verdicts_compare_with_every_baseline() -> None:
    lines = verdicts(OVERALL)
    brier = "Brier 0.354 over 7 scenarios, 95% interval 0.300 to 0.410"
    assert lines[0] == f"{brier} (lower is better; 0 is perfect)."
    assert lines[1].startswith("Worse than always-50%: Brier 0.354 vs 0.250")
    assert lines[2].startswith("Not distinguishable from the prior alone: Brier 0.354 vs 0.399")
    assert lines[3].startswith(
        "Compared with the prior and time term alone (no rules): Brier 0.354 vs 0.437, "
        "difference -0.083"
    )
    assert not any("fewer than 5" in line for line in lines)


def test_with_few_scenarios_the_intervals_are_said_not_meaningful() -> None:
    lines = verdicts(replace(OVERALL, n_scenarios=3, few_scenarios=True))
    assert lines[1] == (
        "With fewer than 5 scenarios these intervals are not meaningful (this backtest scored 3)."
    )
    assert len(lines) == 5


def test_a_result_stored_before_the_intervals_reads_without_verdicts() -> None:
    old = OverallScore(
        brier=0.2, log=0.6, brier_prior=0.21, brier_half=0.25, skill=0.05, ece=0.1,
        sharpness=0.02, n_samples=40, n_scenarios=2,
    )  # fmt: skip
    lines = verdicts(old)
    assert lines[0] == "Brier 0.200 over 2 scenarios (lower is better; 0 is perfect)."
    assert len(lines) == 3  # 50%, prior; no timing baseline, no warning (unknown)
    assert all(line.startswith("Compared with") for line in lines[1:])


def test_the_murphy_terms_come_with_what_they_mean() -> None:
    assert OVERALL.murphy is not None
    lines = murphy_lines(OVERALL.murphy)
    assert [(name, value) for name, value, _ in lines] == [
        ("reliability", 0.097), ("resolution", 0.057), ("uncertainty", 0.234)
    ]  # fmt: skip
    assert [meaning for _, _, meaning in lines] == [m for _, m in MURPHY_TERMS]
    assert "lower is better" in lines[0][2]
    assert "higher is better" in lines[1][2]
    assert "not in the model's control" in lines[2][2]


def test_rules_rank_from_most_help_to_most_harm() -> None:
    rules = [
        RuleDelta("talks", -0.03), RuleDelta("summit", 0.1), RuleDelta("quiet", 0.0),
        RuleDelta("call", 0.02), RuleDelta("curbs", -0.06),
    ]  # fmt: skip
    assert [r.rule for r in ranked(rules)] == ["summit", "call", "quiet", "talks", "curbs"]
    assert [effect(r.delta_brier) for r in ranked(rules)] == [
        "helped", "helped", "no effect", "hurt", "hurt"
    ]  # fmt: skip
    assert effect(0.0004) == "no effect"
    assert effect(-0.0006) == "hurt"
