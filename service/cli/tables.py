"""The backtest scores as a terminal table that fits 80 columns, and beneath it
the scores in words (``forecasts.verdicts``, the sentences the API serves as a
backtest's ``summary``), wrapped to the terminal's width.

Every number has three decimals and never wraps; the headers are short; a
scenario id too long for what is left of the width is folded onto more lines
rather than cut (rich's default shortened every column to "0.2…"). The Brier of
the 0.5 baseline is left out: it is 0.250 whatever the outcome (the JSON keeps it).
"""

import textwrap

from rich.table import Table

from forecasts.scoring import OverallScore, ScenarioScore, Scores
from forecasts.verdicts import effect, murphy_lines, ranked, verdicts

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


SHOWN_RULES = 3
"""Per scenario, the command line names this many of the rules that helped most and
of those that hurt most (the JSON has every rule)."""


def _wrapped(text: str, width: int, indent: str, hanging: str = "") -> list[str]:
    """``text`` in lines of at most ``width``; ids and rule names are broken only
    when longer than a line (not at their hyphens)."""
    return textwrap.wrap(
        text,
        width=width,
        initial_indent=indent,
        subsequent_indent=indent + hanging,
        break_on_hyphens=False,
    )


def verdict_lines(overall: OverallScore, width: int) -> list[str]:
    lines = ["In words:"]
    for sentence in verdicts(overall):
        lines += _wrapped(sentence, width, "  ", "  ")
    return lines


def murphy_section(overall: OverallScore, width: int) -> list[str]:
    if overall.murphy is None or overall.brier_pooled is None:
        return []
    lines = _wrapped(
        f"Murphy decomposition of the pooled Brier {overall.brier_pooled:.3f} "
        "(reliability - resolution + uncertainty, plus the spread within bins):",
        width,
        "",
    )
    for name, value, meaning in murphy_lines(overall.murphy):
        lines += _wrapped(f"{name:<11} {value:.3f}  {meaning}", width, "  ", " " * 19)
    return lines


def rule_lines(score: ScenarioScore, width: int) -> list[str]:
    """The scenario, then its rules that helped most and hurt most, most help first."""
    if not score.rules:
        return []
    order = ranked(score.rules)
    helped = [r for r in order if effect(r.delta_brier) == "helped"][:SHOWN_RULES]
    hurt = [r for r in order if effect(r.delta_brier) == "hurt"][-SHOWN_RULES:]
    lines = _wrapped(f"{score.scenario_id} (resolved {score.outcome}):", width, "  ", "  ")
    for rule in (*helped, *hurt):
        text = f"{effect(rule.delta_brier):<6} {rule.delta_brier:+.3f}  {rule.rule}"
        lines += _wrapped(text, width, "    ", " " * 15)
    rest = len(order) - len(helped) - len(hurt)
    if rest:
        more = f"and {rest} more rule{'s' if rest != 1 else ''} with smaller or no effect"
        lines += _wrapped(more, width, "    ", "  ")
    return lines


def rules_section(scores: Scores, width: int) -> list[str]:
    per_scenario = [line for s in scores.scenarios for line in rule_lines(s, width)]
    if not per_scenario:
        return []
    head = _wrapped(
        "What each rule did (Brier without the rule minus with it: + helped, "
        "- hurt), the largest help first:",
        width,
        "",
    )
    return head + per_scenario


def reading(scores: Scores, width: int) -> str:
    """The scores in words under the table, every line at most ``width`` wide: the
    verdicts against the baselines, the Murphy terms, the rules ranked per scenario."""
    if scores.overall is None:
        return ""
    sections = [
        verdict_lines(scores.overall, width),
        murphy_section(scores.overall, width),
        rules_section(scores, width),
    ]
    return "\n\n".join("\n".join(lines) for lines in sections if lines)
