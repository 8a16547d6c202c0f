"""Backtest benchmark: 100 scenarios x 3 years daily x 100,000 events.

The store is built in process (scenarios, then the events through the event
store, then resolutions), then loaded by the event log as the service would.
The timed part is ``service.workers.backtestinputs.evaluate``: every scenario's whole grid
at once. The baseline is the naive loop over the same inputs, one call of the
model per grid point (``forecasts.backtest.forecasts_one_by_one``); it is run on
a sample of the scenarios and scaled, which the metric's note says.

``backtest_more_scores`` times the same backtest with every score of model.md's
"More scores" (the per-rule ablation, the timing baseline, the Murphy
decomposition, 2000 bootstrap resamples) against the pipeline without them (the
forecasts alone, then the Scoring section's scores), alternating the two in one run.
"""

import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import msgspec

from benchmarks.core import Context, Metric, Target
from domain.backtests import BacktestRequest
from domain.matching import Match
from domain.records import EventRecord, ResolutionRecord, ScenarioRecord
from domain.scenarios import Resolution, Rule, ScenarioDefinition
from forecasts.backtest import forecasts_on_grid, forecasts_one_by_one, grid, open_samples
from forecasts.scoring import ScenarioSamples, Scores, score_basic
from service.bootstrap import bootstrap
from service.persistence.environment import eventsourcing_env
from service.persistence.eventlog import TradewindsStore
from service.projection.index import LogIndex
from service.settings import Settings
from service.workers.backtestinputs import evaluate, grid_of, snapshot

SCENARIOS = 100
EVENTS = 100_000
LABELS = 2_000
START = datetime(2023, 1, 1, tzinfo=UTC)
YEARS = 3
NAIVE_SAMPLE = 5


def _definition(i: int) -> ScenarioDefinition:
    rules = [
        Rule(
            name=f"r{j}",
            match=Match(
                kind="signal",
                where={"label": {"in": [f"l{(i * 7 + j * 13 + k) % LABELS}" for k in range(5)]}},
            ),
            bayes_factor=0.7 + 0.2 * j,
            half_life_days=90.0 if j % 2 else None,
            repeat_discount=0.8,
        )
        for j in range(4)
    ]  # fmt: skip
    return ScenarioDefinition(
        title=f"scenario {i}",
        question="?",
        opens_at=START + timedelta(days=i),
        deadline=START + timedelta(days=365 * YEARS + 30),
        prior=0.1 + 0.8 * (i % 10) / 10,
        rules=rules,
    )


def build_store(settings: Settings) -> None:
    """100 scenarios, 100,000 signal events over 3 years, then the resolutions."""
    app = TradewindsStore(eventsourcing_env(settings))
    now = datetime.now(UTC)
    encoder = msgspec.json.Encoder()
    scenarios = [
        ScenarioRecord.define(f"bench-{i:03d}", encoder.encode(_definition(i)).decode(), now)
        for i in range(SCENARIOS)
    ]
    app.save(*scenarios)
    span = 365 * YEARS * 86_400
    for start in range(0, EVENTS, 5_000):
        records = []
        for n in range(start, min(start + 5_000, EVENTS)):
            occurred = START + timedelta(seconds=span * n / EVENTS)
            body = encoder.encode(
                {"kind": "signal", "occurred_at": occurred, "summary": f"event {n}",
                 "label": f"l{(n * 7919) % LABELS}"}
            ).decode()  # fmt: skip
            records.append(EventRecord.record(uuid.uuid4(), body, now))
        app.events.put([e for r in records for e in r.collect_events()])
    resolutions = [
        ResolutionRecord.record(
            f"bench-{i:03d}",
            encoder.encode(
                Resolution(outcome="yes" if i % 3 else "no", resolved_at=START + timedelta(
                    days=365 * YEARS - i))
            ).decode(),
            now,
        )
        for i in range(SCENARIOS)
    ]  # fmt: skip
    app.save(*resolutions)
    app.close()


def backtest(ctx: Context) -> Sequence[Metric]:
    settings = Settings(data_dir=ctx.scratch / "backtest")
    started = time.perf_counter()
    build_store(settings)
    built = time.perf_counter() - started
    request = BacktestRequest(
        start=START, stop=START + timedelta(days=365 * YEARS), step=timedelta(days=1)
    )
    with bootstrap(settings, background=False) as tradewinds:
        eventlog = tradewinds.eventlog
        while not eventlog.catch_up(120):
            pass
        known = eventlog.head_time()
        runs = []
        for _ in range(ctx.reps(3)):
            t0 = time.perf_counter()
            scores = evaluate(eventlog.index, request, known)
            runs.append(time.perf_counter() - t0)
        vectorised = min(runs)
        inputs = snapshot(eventlog.index, request, known)
    times = grid(request.start.timestamp(), request.stop.timestamp(), 86_400.0)
    sample = inputs[:NAIVE_SAMPLE]
    t0 = time.perf_counter()
    for item in sample:
        at = open_samples(times, item.model.opens_at, item.model.deadline, item.resolved_at)
        forecasts_one_by_one(item.model, item.matches, at, known)
    naive_sample = time.perf_counter() - t0
    t0 = time.perf_counter()
    for item in sample:
        at = open_samples(times, item.model.opens_at, item.model.deadline, item.resolved_at)
        forecasts_on_grid(item.model, item.matches, at, known)
    vector_sample = time.perf_counter() - t0
    naive = naive_sample * len(inputs) / len(sample)
    overall = scores.overall
    samples = 0 if overall is None else overall.n_samples
    return [
        Metric(
            "backtest_store_build_s", built, "s", note="100 scenarios + 100k events, in process"
        ),
        Metric(
            "backtest_100x3y_s",
            vectorised,
            "s",
            note=f"{samples:,} samples; target: under 10 s",
        ),
        Metric(
            "backtest_speedup_vs_naive",
            naive / vectorised,
            "x",
            targets=(Target(50.0, on="value"),),
            note=f"naive loop timed on {len(sample)} scenarios and scaled to {len(inputs)}; "
            f"same {len(sample)} vectorised: {naive_sample / vector_sample:.0f}x",
        ),
    ]


def _request() -> BacktestRequest:
    return BacktestRequest(
        start=START, stop=START + timedelta(days=365 * YEARS), step=timedelta(days=1)
    )


def without_more_scores(index: LogIndex, request: BacktestRequest, known: float) -> Scores:
    """The backtest as it was before the more scores: each scenario's forecasts on
    its grid, then the Scoring section's scores alone."""
    times = grid_of(request)
    samples = []
    for item in snapshot(index, request, known):
        at = open_samples(times, item.model.opens_at, item.model.deadline, item.resolved_at)
        forecasts = forecasts_on_grid(item.model, item.matches, at, known)
        samples.append(ScenarioSamples(item.scenario_id, item.outcome, item.model.prior, forecasts))
    return score_basic(samples)


def backtest_more_scores(ctx: Context) -> Sequence[Metric]:
    """The 100 x 3 years daily x 100k events backtest with and without the more
    scores, alternated; the store of ``backtest`` if it ran first, else built here."""
    settings = Settings(data_dir=ctx.scratch / "backtest")
    if not settings.data_dir.exists():
        build_store(settings)
    request = _request()
    backtest_id = uuid.uuid4()
    with bootstrap(settings, background=False) as tradewinds:
        eventlog = tradewinds.eventlog
        while not eventlog.catch_up(120):
            pass
        known = eventlog.head_time()
        with_runs, without_runs = [], []
        for _ in range(ctx.reps(3)):
            t0 = time.perf_counter()
            basic = without_more_scores(eventlog.index, request, known)
            without_runs.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            scores = evaluate(eventlog.index, request, known, backtest_id=backtest_id)
            with_runs.append(time.perf_counter() - t0)
    overall, plain = scores.overall, basic.overall
    assert overall is not None
    assert plain is not None
    assert overall.brier == plain.brier  # the same backtest either way
    rules = sum(len(s.rules or []) for s in scores.scenarios)
    return [
        Metric(
            "backtest_more_scores_s",
            min(with_runs),
            "s",
            baseline=min(without_runs),
            baseline_name="without them",
            note=f"{overall.n_samples:,} samples, {overall.n_scenarios} scenarios, "
            f"{rules} rule ablations, 2000 resamples; targets: under 10 s, ratio under 2",
        )
    ]


BACKTEST_BENCHMARKS = (backtest, backtest_more_scores)
