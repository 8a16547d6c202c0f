"""The reliability diagram of a backtest, as SVG (matplotlib, Agg backend).

Observed rate against mean forecast per calibration bin, with each bin's count
written beside its point; the diagonal of perfect calibration; beneath, the
histogram of the forecasts, each bar labelled with its count. The title gives
the overall Brier with its 95% bootstrap interval over scenarios (and says when
there were too few scenarios for it to mean much). Each bin's point is an SVG
group with id ``bin-<i>`` and each count label one with id ``count-<i>``, so a
reader (or a test) can find one mark per non-empty bin; the title's group is
``overall``.
"""

import io

from forecasts.scoring import OverallScore, Scores


def overall_lines(overall: OverallScore | None) -> str:
    """The overall scores in words, with the Brier's 95% interval when there is one."""
    if overall is None:
        return "no scored samples"
    brier = f"Brier {overall.brier:.4f}"
    if overall.brier_ci is not None:
        lo, hi = overall.brier_ci
        brier += f", 95% interval {lo:.4f} to {hi:.4f}"
    baselines = (
        f"prior alone {overall.brier_prior:.4f}, always 50% 0.2500, "
        f"skill {overall.skill:+.3f}, ECE {overall.ece:.3f}"
    )
    counts = f"{overall.n_samples} samples in {overall.n_scenarios} scenarios"
    if overall.few_scenarios:
        counts += ": fewer than 5, the interval is not meaningful"
    return f"{brier}\n{baselines}\n{counts}"


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
    heading = top.set_title(f"{title}\n{overall_lines(scores.overall)}", fontsize=9)
    heading.set_gid("overall")
    centres = [(b.lo + b.hi) / 2 for b in scores.calibration]
    counts = [b.count for b in scores.calibration]
    bars = bottom.bar(centres, counts, width=0.09, color="#9bb7d4")
    labels = bottom.bar_label(bars, labels=[str(c) if c else "" for c in counts], fontsize=7)
    for i, label in enumerate(labels):
        label.set_gid(f"count-{i}")
    bottom.set(xlabel="forecast probability", ylabel="samples", xlim=(0, 1))
    bottom.set_ylim(0, max([*counts, 1]) * 1.25)
    out = io.BytesIO()
    figure.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()
