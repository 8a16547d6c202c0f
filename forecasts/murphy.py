"""The Murphy decomposition of the pooled Brier score over the calibration bins.

With N samples, n_b of them in bin b, mean forecast f_b, observed rate o_b and
overall rate o: reliability = sum n_b (f_b - o_b)^2 / N, resolution = sum n_b
(o_b - o)^2 / N, uncertainty = o (1 - o). The pooled Brier is reliability -
resolution + uncertainty plus the within-bin terms, which come from the spread of
the forecasts inside each bin (they vanish when every forecast of a bin is equal).
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float64]


@dataclass(frozen=True)
class Murphy:
    reliability: float
    resolution: float
    uncertainty: float


def murphy(p: Floats, y: Floats, bins: NDArray[np.int64], count: int) -> Murphy:
    """The decomposition of forecasts ``p`` against outcomes ``y`` (0/1), each
    sample in bin ``bins`` (0 <= bin < ``count``); ``p`` must not be empty."""
    n = np.bincount(bins, minlength=count).astype(np.float64)
    sums = np.bincount(bins, weights=p, minlength=count)
    hits = np.bincount(bins, weights=y, minlength=count)
    full = n > 0
    f_b = sums[full] / n[full]
    o_b = hits[full] / n[full]
    total = float(p.shape[0])
    o = float(np.mean(y))
    return Murphy(
        reliability=float(np.sum(n[full] * (f_b - o_b) ** 2) / total),
        resolution=float(np.sum(n[full] * (o_b - o) ** 2) / total),
        uncertainty=o * (1 - o),
    )
