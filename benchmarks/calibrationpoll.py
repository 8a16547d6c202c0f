"""What the calibration adds to a forecast poll (issue 17): the same open scenarios
polled on a real server without closed scenarios (no calibration) and with
``CLOSED`` closed ones (a calibration on every forecast), cached either way.

Timed, sequentially from one client on loopback: ``GET /v1/forecasts/{id}`` (the
detail of an open scenario: its body has the same size in both stores) and
``GET /v1/forecasts`` with ``If-None-Match`` (a 304), medians of ``POLLS`` each.
Reported: the medians with calibration and their ratio to those without. Target:
nothing measurable (a ratio within 1.1), since the fit is cached.

    python -m benchmarks.calibrationpoll          (alone, prints the metrics)
"""

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from benchmarks.core import Context, Metric, Target, median, scratch_dir
from tests.support.server import ServerProcess

OPEN = 20
CLOSED = 200
EVENTS_PER_SCENARIO = 4
POLLS = 2000
RATIO_TARGET = 1.1


def _definition(slug: str, deadline: str, prior: float) -> dict[str, Any]:
    rule = {"name": "r", "match": {"kind": "signal", "where": {"label": slug}}, "bayes_factor": 2}
    return {
        "title": slug,
        "question": f"{slug}?",
        "opens_at": "2024-01-01T00:00:00Z",
        "deadline": deadline,
        "prior": prior,
        "rules": [rule],
    }


def _signals(slug: str) -> list[dict[str, Any]]:
    return [
        {
            "kind": "signal",
            "occurred_at": f"2024-{2 + i:02d}-01T00:00:00Z",
            "summary": slug,
            "label": slug,
        }
        for i in range(EVENTS_PER_SCENARIO)
    ]


def populate(client: httpx.Client, closed: int) -> None:
    """``OPEN`` open scenarios and ``closed`` closed ones (deadline in 2024, half
    "yes" early, half "no"), each with its signals."""
    slugs = [f"open-{i:03d}" for i in range(OPEN)]
    for slug in slugs:
        client.put(f"/v1/scenarios/{slug}", json=_definition(slug, "2031-01-01T00:00:00Z", 0.3))
    closed_slugs = [f"closed-{i:03d}" for i in range(closed)]
    for i, slug in enumerate(closed_slugs):
        prior = 0.2 + 0.6 * (i % 7) / 6
        client.put(f"/v1/scenarios/{slug}", json=_definition(slug, "2024-12-01T00:00:00Z", prior))
    events = [e for slug in slugs + closed_slugs for e in _signals(slug)]
    for start in range(0, len(events), 1000):
        response = client.post("/v1/events/batch", json={"events": events[start : start + 1000]})
        response.raise_for_status()
    for i, slug in enumerate(closed_slugs):
        outcome, at = ("yes", "2024-08-01T00:00:00Z") if i % 2 else ("no", "2024-12-01T00:00:00Z")
        body = {"outcome": outcome, "resolved_at": at}
        client.post(f"/v1/scenarios/{slug}/resolution", json=body).raise_for_status()


def _median_s(call: Callable[[], httpx.Response], polls: int, status: int) -> float:
    for _ in range(50):
        call()
    times = []
    for _ in range(polls):
        started = time.perf_counter()
        response = call()
        times.append(time.perf_counter() - started)
        assert response.status_code == status, response.text
    return median(times)


@contextmanager
def _server(scratch: Path, name: str, closed: int) -> Iterator[httpx.Client]:
    data = scratch / name
    with (
        ServerProcess(data, log_path=scratch / f"{name}.log") as process,
        httpx.Client(base_url=process.base_url, timeout=30) as client,
    ):
        populate(client, closed)
        yield client


def _poll(client: httpx.Client, polls: int) -> tuple[float, float, bool]:
    """Medians of a detail poll and a 304 list poll, and whether calibrated is served."""
    detail = client.get("/v1/forecasts/open-000").json()
    etag = client.get("/v1/forecasts").headers["etag"]
    one = _median_s(lambda: client.get("/v1/forecasts/open-000"), polls, 200)
    listed = _median_s(
        lambda: client.get("/v1/forecasts", headers={"If-None-Match": etag}), polls, 304
    )
    return one, listed, detail["calibrated"] is not None


def measure(scratch: Path, polls: int) -> tuple[tuple[float, float], tuple[float, float]]:
    with _server(scratch, "without", 0) as client:
        one, listed, calibrated = _poll(client, polls)
        assert not calibrated
        without = (one, listed)
    with _server(scratch, "with", CLOSED) as client:
        one, listed, calibrated = _poll(client, polls)
        assert calibrated
        with_calibration = (one, listed)
    return without, with_calibration


def calibration_poll(ctx: Context) -> Sequence[Metric]:
    polls = POLLS // 2 if ctx.quick else POLLS
    without, with_calibration = measure(ctx.scratch, polls)
    metrics = []
    for i, name in enumerate(("detail", "list_304")):
        metrics.append(
            Metric(
                f"calibrated_poll_{name}_ms",
                with_calibration[i] * 1000,
                "ms",
                baseline=without[i] * 1000,
                baseline_name="the same poll without closed scenarios",
                note=f"median of {polls} polls with {CLOSED} closed scenarios (a calibration on"
                f" every forecast) against none",
            )
        )
        metrics.append(
            Metric(
                f"calibrated_poll_{name}_relative_speed",
                without[i] / with_calibration[i],
                "x",
                targets=(Target(1 / RATIO_TARGET, on="value"),),
                note=f"without / with; target: at least 1/{RATIO_TARGET:g} (nothing measurable)",
            )
        )
    return metrics


CALIBRATION_POLL_BENCHMARKS = (calibration_poll,)


if __name__ == "__main__":
    with scratch_dir() as scratch:
        for metric in calibration_poll(Context(scratch=scratch)):
            print(metric.as_json())
