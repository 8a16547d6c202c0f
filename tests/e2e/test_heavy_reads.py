"""Heavy forecast reads against a real ``tradewinds serve`` (issue 13): a stored
half-life of 1e-300 days no longer freezes the process, and while a heavy read
works, ``/health/live`` and cached reads keep answering; past its budget a read
is refused with 503 and Retry-After, never left hanging."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.helpers import SCENARIO, Json, http
from tests.e2e.helpers import signal as event
from tests.support.records import store_scenario, unchecked
from tests.support.server import ServerProcess
from tests.support.stores import Store, sqlite_only

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

PROMPT_S = 10.0
"""A prompt answer: the frozen history never answered at all."""
SETTLE_S = 0.3
"""Polls sent this long after a heavy read was sent find it under way on the server
(one sent at once may be answered before the server picks the heavy read up)."""

HEAVY = {
    **SCENARIO,
    "opens_at": "2016-01-01T00:00:00Z",
    "deadline": "2027-01-01T00:00:00Z",
    "rules": [
        {
            "name": f"every signal {i}",
            "match": {"kind": "signal"},
            "bayes_factor": 1.05,
            "half_life_days": 1 / 24,
        }
        for i in range(150)
    ],
}
HEAVY_HISTORY = {"from": "2016-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z", "step": "P1D"}
"""About three seconds of model work: 150 rules with a half-life of an hour, each
carried over ten years on a daily grid (above the default cost cap, which these
tests raise)."""


@dataclass
class Poller:
    """GETs ``paths`` in turn from a thread until stopped, recording for each answer
    when it was sent and when it came back (``time.monotonic``)."""

    base_url: str
    paths: tuple[str, ...]
    answers: list[tuple[str, float, float, int]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=PROMPT_S) as client:
            while not self._stop.is_set():
                for path in self.paths:
                    sent = time.monotonic()
                    try:
                        status = client.get(path).status_code
                    except httpx.HTTPError as e:
                        self.failures.append(f"{path}: {e!r}")
                        continue
                    self.answers.append((path, sent, time.monotonic(), status))
                time.sleep(0.02)

    def answered_within(self, path: str, start: float, end: float) -> list[int]:
        """Statuses of the answers to ``path`` sent after ``start`` and back before ``end``."""
        return [s for p, sent, back, s in self.answers if p == path and start < sent < back < end]

    @contextmanager
    def running(self) -> Iterator["Poller"]:
        thread = threading.Thread(target=self.run, name="poller", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(timeout=2 * PROMPT_S)


@contextmanager
def server(data_dir: Path, store: Store, **env: str) -> Iterator[ServerProcess]:
    process = ServerProcess(data_dir, env={**store.server_env, **env})
    try:
        yield process.start()
    finally:
        process.kill()


def spread_signals(client: httpx.Client, count: int, first: datetime, days: float) -> None:
    events = [
        event(f"signal {i}", occurred_at=(first + timedelta(days=days * i / count)).isoformat())
        for i in range(count)
    ]
    response = client.post("/v1/events/batch", json={"events": events})
    assert response.status_code == 201, response.text


def timed_get(client: httpx.Client, path: str, params: Json) -> tuple[httpx.Response, float, float]:
    start = time.monotonic()
    response = client.get(path, params=params, timeout=60)
    return response, start, time.monotonic()


def test_the_frozen_history_case_is_answered_promptly(data_dir: Path, store: Store) -> None:
    """A version stored with ``half_life_days: 1e-300`` (accepted before the bound):
    its history, now and as known at a time, answers within seconds (it never
    answered, and held the event loop: /health/live stopped too)."""
    data_dir.mkdir(parents=True)
    frozen = unchecked({**SCENARIO, "rules": [{**SCENARIO["rules"][0], "half_life_days": 1}]},
                       half_life_days=1e-300)  # fmt: skip
    store_scenario(store.settings(data_dir), "frozen-history", frozen)
    with server(data_dir, store) as process, http(process.base_url) as client:
        spread_signals(client, 20, datetime(2025, 1, 2, tzinfo=UTC), 300)
        known_at = datetime.now(UTC).isoformat()
        poller = Poller(process.base_url, ("/health/live",))
        with poller.running():
            time.sleep(0.1)
            for params in ({"step": "PT1H"}, {"step": "PT1H", "known_at": known_at}):
                response = client.get(
                    "/v1/forecasts/frozen-history/history", params=params, timeout=PROMPT_S
                )
                assert response.status_code == 200, response.text
                assert len(response.json()["points"]) > 1000
            detail = client.get("/v1/forecasts/frozen-history", timeout=PROMPT_S)
            assert detail.status_code == 200, detail.text
        assert poller.failures == []
        assert poller.answers
        assert {status for _, _, _, status in poller.answers} == {200}


@sqlite_only
def test_health_and_cached_reads_answer_while_a_heavy_read_works(
    data_dir: Path, store: Store
) -> None:
    with (
        server(
            data_dir,
            store,
            TRADEWINDS_HISTORY_MAX_COST=str(10**12),
            TRADEWINDS_HEAVY_READ_BUDGET_S="120",
        ) as process,
        http(process.base_url) as client,
    ):
        assert client.put("/v1/scenarios/heavy", json=HEAVY).status_code == 201
        spread_signals(client, 100, datetime(2016, 1, 2, tzinfo=UTC), 3650)
        assert client.get("/v1/forecasts").status_code == 200  # the "now" list, cached
        poller = Poller(process.base_url, ("/health/live", "/v1/forecasts"))
        results: dict[str, Any] = {}

        def heavy() -> None:
            results["heavy"] = timed_get(client, "/v1/forecasts/heavy/history", HEAVY_HISTORY)

        reader = threading.Thread(target=heavy)
        with poller.running():
            reader.start()
            reader.join(timeout=120)
        response, start, end = results["heavy"]
        assert response.status_code == 200, response.text[:300]
        assert end - start > 2 * SETTLE_S, "the heavy read was too light to show anything"
        assert len(response.json()["points"]) == 3654
        assert poller.failures == []
        assert poller.answered_within("/health/live", start + SETTLE_S, end), (
            "/health/live did not answer while the heavy read worked"
        )
        assert poller.answered_within("/v1/forecasts", start + SETTLE_S, end), (
            "the cached forecast list did not answer while the heavy read worked"
        )
        assert {status for _, _, _, status in poller.answers} == {200}


@sqlite_only
def test_a_read_past_its_budget_is_503_with_retry_after_not_a_hang(
    data_dir: Path, store: Store
) -> None:
    with (
        server(
            data_dir,
            store,
            TRADEWINDS_HISTORY_MAX_COST=str(10**12),
            TRADEWINDS_HEAVY_READ_BUDGET_S="0.5",
        ) as process,
        http(process.base_url) as client,
    ):
        assert client.put("/v1/scenarios/heavy", json=HEAVY).status_code == 201
        spread_signals(client, 100, datetime(2016, 1, 2, tzinfo=UTC), 3650)
        response = client.get("/v1/forecasts/heavy/history", params=HEAVY_HISTORY, timeout=PROMPT_S)
        assert response.status_code == 503, response.text[:300]
        assert int(response.headers["retry-after"]) >= 1
        assert "budget of 0.5 s" in response.json()["detail"]
        assert client.get("/health/live").status_code == 200


@sqlite_only
def test_a_history_over_the_default_cost_cap_is_422_saying_how_to_reduce_it(
    data_dir: Path, store: Store
) -> None:
    with server(data_dir, store) as process, http(process.base_url) as client:
        assert client.put("/v1/scenarios/heavy", json=HEAVY).status_code == 201
        spread_signals(client, 100, datetime(2016, 1, 2, tzinfo=UTC), 3650)
        response = client.get("/v1/forecasts/heavy/history", params=HEAVY_HISTORY)
        assert response.status_code == 422, response.text[:300]
        (error,) = response.json()["errors"]
        assert error["field"] == "step"
        assert "TRADEWINDS_HISTORY_MAX_COST" in error["message"]
        assert "shorter range" in error["message"]
        shorter = {**HEAVY_HISTORY, "from": "2025-06-01T00:00:00Z"}
        assert client.get("/v1/forecasts/heavy/history", params=shorter).status_code == 200
