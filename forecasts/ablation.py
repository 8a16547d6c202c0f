"""Rule ablation: a scenario's ln odds with each rule removed, from the terms the
grid already computed (no re-run of the model per rule).

Removing rule R changes ln odds by ``shift_R`` at every time:
ln odds without R = ln odds - shift_R. Rules are independent today (each counts
its own matches), so ``shift_R`` is R's own contribution (``removal_shifts``).

With rule groups (rules of one group share one match count), removing R also
changes the ranks, and so the terms, of the other rules of R's group, and of
those only: shift_R = sum of the group's contributions - sum of the group's
contributions recomputed without R, the latter by ``grid.grid_rule_terms`` on a
model holding the group's other rules (with their matches) alone. Rules outside
R's group keep their terms, so only that group is recomputed, and
``ablated_log_odds`` takes the shifts whichever way they were found.
"""

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float64]


def removal_shifts(contributions: Sequence[tuple[Floats, Floats] | None], times: int) -> Floats:
    """(R, T): how much each rule adds to ln odds at each time, for independent
    rules (its own contribution; 0 for a rule with no visible match)."""
    shifts = np.zeros((len(contributions), times))
    for r, found in enumerate(contributions):
        if found is not None:
            shifts[r] = found[0]
    return shifts


def ablated_log_odds(log_odds: Floats, shifts: Floats) -> Floats:
    """(R, T): ln odds at each time with rule r removed, for every rule r."""
    return log_odds[np.newaxis, :] - shifts
