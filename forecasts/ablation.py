"""Rule ablation: a scenario's Brier with each rule removed, from the terms the grid
already computed (no re-run of the model per rule).

Removing rule R changes ln odds by ``shift_R`` at every time: ln odds without R =
ln odds - shift_R. A rule without a group counts its own matches, so its
``shift_R`` is its own contribution, as ``grid.iter_rule_terms`` yields it.

Rules of one group share one match count: removing R also changes the ranks, and
so the terms, of the other rules of R's group, and of those only: shift_R = the
sum of the group's contributions - the sum of the group's contributions
recomputed without R, the latter by ``grid.iter_rule_terms`` on a model holding
the group's other rules (with their matches) alone (``shifts``). Rules outside
R's group keep their terms, so only that group is recomputed; ``briers_without``
takes the shifts whichever way they were found.
"""

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from scipy.special import expit

from forecasts.grid import iter_rule_terms
from forecasts.model import Floats, RuleMatches, ScenarioModel, rule_groups


def shifts(
    model: ScenarioModel,
    matches: Sequence[RuleMatches],
    t: Floats,
    contributions: Sequence[Floats | None],
    known: float = np.inf,
) -> list[Floats | None]:
    """Per rule, shift_R: what removing it takes from ln odds at every time of
    ``t``, from the rules' ``contributions`` at ``t`` (``grid.iter_rule_terms``'s;
    None for a rule with no visible match: removing it changes nothing)."""
    found = list(contributions)
    for members in rule_groups(model.rules):
        if len(members) < 2:
            continue
        together = _summed([contributions[m] for m in members], t)
        for r in members:
            if contributions[r] is None:
                continue
            others = [m for m in members if m != r]
            alone = replace(model, rules=tuple(model.rules[m] for m in others))
            rest = iter_rule_terms(alone, [matches[m] for m in others], t, known)
            found[r] = together - _summed([c for _, c, _ in rest], t)
    return found


def _summed(contributions: Sequence[Floats | None], t: Floats) -> Floats:
    total = np.zeros(t.shape[0])
    for contribution in contributions:
        if contribution is not None:
            total = total + contribution
    return total


BLOCK = 1_000_000
"""Elements of the (rules, times) matrix evaluated at once, so memory stays bounded
however many rules and times a scenario has."""


def briers_without(log_odds: Floats, shifts: Sequence[Floats | None], outcome: float) -> Floats:
    """Per rule r, the Brier over the times of ``log_odds`` with ln odds - shifts[r]
    (a None shift: the rule changes nothing, and its Brier is the Brier with it),
    evaluated as (rules, times) blocks."""
    if log_odds.shape[0] == 0:
        return np.full(len(shifts), np.nan)
    with_all = float(np.mean((expit(log_odds) - outcome) ** 2))
    out = np.full(len(shifts), with_all)
    moved = [(r, shift) for r, shift in enumerate(shifts) if shift is not None]
    rows = max(1, BLOCK // log_odds.shape[0])
    for start in range(0, len(moved), rows):
        block = moved[start : start + rows]
        stacked = np.stack([shift for _, shift in block])
        p = expit(log_odds[np.newaxis, :] - stacked)
        out[[r for r, _ in block]] = np.mean((p - outcome) ** 2, axis=1)
    return out
