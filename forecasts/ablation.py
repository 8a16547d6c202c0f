"""Rule ablation: a scenario's Brier with each rule removed, from the terms the grid
already computed (no re-run of the model per rule).

Removing rule R changes ln odds by ``shift_R`` at every time: ln odds without R =
ln odds - shift_R. Rules are independent today (each counts its own matches), so
``shift_R`` is R's own contribution, as ``grid.iter_rule_terms`` yields it.

With rule groups (rules of one group share one match count), removing R also
changes the ranks, and so the terms, of the other rules of R's group, and of those
only: shift_R = the sum of the group's contributions - the sum of the group's
contributions recomputed without R, the latter by ``grid.iter_rule_terms`` on a
model holding the group's other rules (with their matches) alone. Rules outside
R's group keep their terms, so only that group is recomputed; ``briers_without``
takes the shifts whichever way they were found.
"""

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit

Floats = NDArray[np.float64]
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
