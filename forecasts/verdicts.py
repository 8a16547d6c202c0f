"""A backtest's scores in words, for a person who must not fool themselves.

The overall Brier is compared with each baseline, and the comparison is called
"better" or "worse" only when the 95% bootstrap interval of the paired
difference (Brier minus the baseline's) lies entirely below or above 0; when it
includes 0 the result is "not distinguishable" from that baseline. Against the
timing baseline (prior and time term alone) model.md gives no interval, so that
comparison says the difference and that its noise is unknown. With fewer than
``FEW_SCENARIOS`` scenarios the intervals are not meaningful: the words say so
rather than hiding them, and call nothing better or worse (one scenario's
interval is a single point, which would read as a certain verdict).

These sentences are served in a backtest's answer (``summary``) and printed by
``tradewinds backtest``: one text, wherever it is read. The Murphy terms and the
rules' effects have their own plain words here, for the command line (the
dashboard writes the same).
"""

from collections.abc import Sequence
from typing import Literal

from forecasts.bootstrap import FEW_SCENARIOS, Interval
from forecasts.murphy import Murphy
from forecasts.scoring import OverallScore, RuleDelta

Verdict = Literal["better", "worse", "indistinguishable"]

HALF = "always-50%"
PRIOR = "the prior alone"
TIMING = "the prior and time term alone (no rules)"

MURPHY_TERMS: tuple[tuple[str, str], ...] = (
    ("reliability", "how far the forecasts were from the observed rates (lower is better)"),
    ("resolution", "how much the forecasts separated the outcomes (higher is better)"),
    ("uncertainty", "the variance of the base rate, not in the model's control"),
)
"""Each Murphy term and one line of what it means."""

NO_EFFECT = 0.0005
"""A rule's |delta_brier| below this shows as 0.000 at three decimals: no effect."""


def verdict(interval: Interval) -> Verdict:
    """Better or worse than a baseline only when the interval of (Brier - baseline)
    excludes 0."""
    lo, hi = interval
    if hi < 0:
        return "better"
    if lo > 0:
        return "worse"
    return "indistinguishable"


def _signed(x: float) -> str:
    return f"{x:+.3f}"


def comparison(
    name: str, brier: float, baseline: float, interval: Interval | None, judged: bool = True
) -> str:
    """One sentence: the Brier against the baseline ``name``, in words; with
    ``judged`` false (too few scenarios) the interval is given but not read."""
    numbers = f"Brier {brier:.3f} vs {baseline:.3f}, difference {_signed(brier - baseline)}"
    if interval is None:
        return (
            f"Compared with {name}: {numbers}; there is no interval for this "
            "comparison, so whether the difference is more than chance is not known."
        )
    lo, hi = interval
    span = f"{_signed(lo)} to {_signed(hi)}"
    if not judged:
        return f"Compared with {name}: {numbers} (95% interval {span}, not meaningful here)."
    found = verdict(interval)
    if found == "indistinguishable":
        return (
            f"Not distinguishable from {name}: {numbers}; the difference's 95% interval "
            f"({span}) includes 0."
        )
    word = "Better" if found == "better" else "Worse"
    return f"{word} than {name}: {numbers} (95% interval {span})."


def headline(overall: OverallScore) -> str:
    scenarios = f"{overall.n_scenarios} scenario{'s' if overall.n_scenarios != 1 else ''}"
    text = f"Brier {overall.brier:.3f} over {scenarios}"
    if overall.brier_ci is not None:
        lo, hi = overall.brier_ci
        text += f", 95% interval {lo:.3f} to {hi:.3f}"
    return f"{text} (lower is better; 0 is perfect)."


def few_scenarios_warning(overall: OverallScore) -> str | None:
    if not overall.few_scenarios:
        return None
    return (
        f"With fewer than {FEW_SCENARIOS} scenarios these intervals are not "
        f"meaningful (this backtest scored {overall.n_scenarios})."
    )


def verdicts(overall: OverallScore) -> list[str]:
    """The overall Brier, the warning when there are too few scenarios, and the
    comparison with each baseline (always-50%, the prior, the timing baseline when
    the result has it), judged by its interval unless there are too few scenarios."""
    lines = [headline(overall)]
    warning = few_scenarios_warning(overall)
    if warning is not None:
        lines.append(warning)
    judged = not overall.few_scenarios
    lines.append(comparison(HALF, overall.brier, overall.brier_half, overall.vs_half_ci, judged))
    lines.append(comparison(PRIOR, overall.brier, overall.brier_prior, overall.vs_prior_ci, judged))
    if overall.brier_timing is not None:
        lines.append(comparison(TIMING, overall.brier, overall.brier_timing, None))
    return lines


def murphy_lines(terms: Murphy) -> list[tuple[str, float, str]]:
    """(term, value, what it means), in ``MURPHY_TERMS`` order."""
    return [(name, float(getattr(terms, name)), meaning) for name, meaning in MURPHY_TERMS]


def effect(delta_brier: float) -> str:
    """What a rule did: positive ``delta_brier`` (Brier without it minus with it)
    means the forecasts were better with it."""
    if abs(delta_brier) < NO_EFFECT:
        return "no effect"
    return "helped" if delta_brier > 0 else "hurt"


def ranked(rules: Sequence[RuleDelta]) -> list[RuleDelta]:
    """Largest help first, largest harm last; ties by rule name."""
    return sorted(rules, key=lambda r: (-r.delta_brier, r.rule))
