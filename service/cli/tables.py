"""The backtest scores as a terminal table that fits 80 columns.

Every number has three decimals and never wraps; the headers are short; a
scenario id too long for what is left of the width is folded onto more lines
rather than cut (rich's default shortened every column to "0.2…"). The Brier of
the 0.5 baseline is left out: it is 0.250 whatever the outcome (the JSON keeps it).
"""

from rich.table import Table

from forecasts.scoring import OverallScore, ScenarioScore, Scores

LEGEND = (
    "y: outcome, n: samples, Brier: of the forecasts, prior: Brier of the prior "
    "alone (a constant 0.5 always scores 0.250), skill: 1 - Brier / prior, log: log score"
)


def _numbers(score: ScenarioScore | OverallScore) -> tuple[str, str, str, str, str]:
    return (
        str(score.n_samples),
        f"{score.brier:.3f}",
        f"{score.brier_prior:.3f}",
        f"{score.skill:+.3f}",
        f"{score.log:.3f}",
    )


def scores_table(scores: Scores) -> Table:
    """One row per scored scenario, then the overall row; ECE and sharpness below."""
    table = Table(title="Backtest scores")
    table.add_column("scenario", overflow="fold", min_width=8)
    for name in ("y", "n", "Brier", "prior", "skill", "log"):
        table.add_column(name, justify="right", no_wrap=True)
    for s in scores.scenarios:
        table.add_row(s.scenario_id, s.outcome, *_numbers(s))
    o = scores.overall
    if o is not None:
        table.add_section()
        table.add_row(f"overall ({o.n_scenarios} scenarios)", "", *_numbers(o))
        table.caption = f"ECE {o.ece:.3f}, sharpness {o.sharpness:.3f}\n{LEGEND}"
    else:
        table.caption = LEGEND
    return table
