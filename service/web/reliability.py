"""The reliability diagram of a backtest, as SVG (matplotlib, Agg backend).

Observed rate against mean forecast per calibration bin, with each bin's count
written beside its point; the diagonal of perfect calibration; beneath, the
histogram of the forecasts. Each bin's point is an SVG group with id
``bin-<i>``, so a reader (or a test) can find one mark per non-empty bin.
"""

import io

from forecasts.scoring import Scores


def reliability_svg(scores: Scores, title: str = "Reliability") -> bytes:
    import matplotlib  # noqa: PLC0415 - a second to import; only this route needs it

    matplotlib.use("Agg")
    from matplotlib.figure import Figure  # noqa: PLC0415

    figure = Figure(figsize=(6.4, 7.2), layout="constrained")
    top, bottom = figure.subplots(2, 1, height_ratios=[3, 1], sharex=True)
    top.plot([0, 1], [0, 1], linestyle="--", color="#888888", label="perfect calibration")
    for i, b in enumerate(scores.calibration):
        if b.count == 0 or b.mean_forecast is None or b.observed_rate is None:
            continue
        (point,) = top.plot(
            [b.mean_forecast], [b.observed_rate], marker="o", markersize=8, color="#1f5fa8",
            linestyle="none",
        )  # fmt: skip
        point.set_gid(f"bin-{i}")
        top.annotate(
            f"n={b.count}", (b.mean_forecast, b.observed_rate),
            textcoords="offset points", xytext=(6, 6 if b.observed_rate < 0.1 else -12),
            fontsize=8,
        )  # fmt: skip
    observed = [
        (b.mean_forecast, b.observed_rate)
        for b in scores.calibration
        if b.count and b.mean_forecast is not None
    ]
    if observed:
        xs, ys = zip(*observed, strict=True)
        top.plot(xs, ys, color="#1f5fa8", linewidth=1, alpha=0.6, label="observed rate")
    top.set(xlim=(0, 1), ylim=(0, 1), ylabel="observed frequency of the outcome")
    top.legend(loc="upper left", fontsize=8)
    overall = scores.overall
    subtitle = (
        "no scored samples"
        if overall is None
        else f"Brier {overall.brier:.4f} (prior {overall.brier_prior:.4f}), "
        f"skill {overall.skill:+.3f}, ECE {overall.ece:.3f}, n={overall.n_samples}"
    )
    top.set_title(f"{title}\n{subtitle}", fontsize=10)
    centres = [(b.lo + b.hi) / 2 for b in scores.calibration]
    bottom.bar(centres, [b.count for b in scores.calibration], width=0.09, color="#9bb7d4")
    bottom.set(xlabel="forecast probability", ylabel="samples", xlim=(0, 1))
    out = io.BytesIO()
    figure.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()
