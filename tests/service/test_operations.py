"""Metrics, request ids, JSON log lines and the body-size limit, in process."""

import contextlib
import json
import logging
import math
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from service.jsonlog import JsonFormatter, request_id
from service.settings import Settings
from service.web.app import create_app
from tests.e2e.receiver import Receiver
from tests.service.events_data import signal

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
BODY_LIMIT = 4096


@pytest.fixture
def ops(tmp_path: Path) -> Iterator[TestClient[Litestar]]:
    settings = Settings(data_dir=tmp_path / "data", max_body_bytes=BODY_LIMIT)
    with TestClient(create_app(settings)) as client:
        yield client


def scrape(client: TestClient[Litestar]) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_move_when_requests_are_made(ops: TestClient[Litestar]) -> None:
    before = scrape(ops)
    assert ops.post("/v1/events", json=signal("one")).status_code == 201
    batch = {"events": [signal(f"b{i}") for i in range(7)]}
    assert ops.post("/v1/events/batch", json=batch).status_code == 201
    assert ops.get("/v1/events").status_code == 200
    assert ops.post("/v1/events", json={"kind": "signal"}).status_code == 422
    after = scrape(ops)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    route = {"method": "GET", "route": "/v1/events", "status": "200"}
    assert moved("tradewinds_http_requests_total", **route) == 1
    assert moved("tradewinds_http_request_duration_seconds_count", **route) == 1
    assert moved("tradewinds_http_request_duration_seconds_bucket", **route, le="+Inf") == 1
    refused = {"method": "POST", "route": "/v1/events", "status": "422"}
    assert moved("tradewinds_http_requests_total", **refused) == 1
    assert moved("tradewinds_events_appended_total") == 8
    assert moved("tradewinds_batch_size_events_count") == 1
    assert moved("tradewinds_batch_size_events_sum") == 7
    assert value(after, "tradewinds_store_head") == 8
    assert value(after, "tradewinds_projection_position") == 8
    assert value(after, "tradewinds_projection_lag_records") == 0
    assert value(after, "tradewinds_backtests", status="queued") == 0
    build = [k for k in after if k[0] == "tradewinds_build_info"]
    assert len(build) == 1
    assert ("version", "0.1.0") in build[0][1]


def test_forecast_polls_count_cache_hits_and_misses(ops: TestClient[Litestar]) -> None:
    before = scrape(ops)
    first = ops.get("/v1/forecasts")
    assert (
        ops.get("/v1/forecasts", headers={"If-None-Match": first.headers["etag"]}).status_code
        == 304
    )
    assert ops.post("/v1/events", json=signal("moves nothing")).status_code == 201
    assert ops.get("/v1/forecasts").status_code == 200
    after = scrape(ops)
    hits = value(after, "tradewinds_forecast_cache_hits_total") - value(
        before, "tradewinds_forecast_cache_hits_total"
    )
    misses = value(after, "tradewinds_forecast_cache_misses_total") - value(
        before, "tradewinds_forecast_cache_misses_total"
    )
    assert (hits, misses) == (2, 1)


def test_requests_are_counted_by_route_template_not_path(ops: TestClient[Litestar]) -> None:
    ops.get("/v1/scenarios/first")
    ops.get("/v1/scenarios/second")
    samples = scrape(ops)
    labels = {"method": "GET", "route": "/v1/scenarios/{scenario_id}", "status": "404"}
    assert value(samples, "tradewinds_http_requests_total", **labels) == 2
    assert not any("first" in dict(k[1]).get("route", "") for k in samples)


def test_apps_do_not_share_metrics(ops: TestClient[Litestar], tmp_path: Path) -> None:
    ops.get("/health/live")
    with TestClient(create_app(Settings(data_dir=tmp_path / "other"))) as other:
        labels = {"method": "GET", "route": "/health/live", "status": "200"}
        assert value(scrape(other), "tradewinds_http_requests_total", **labels) == 0
        assert value(scrape(ops), "tradewinds_http_requests_total", **labels) == 1


def test_a_sane_request_id_is_returned_and_an_odd_one_replaced(ops: TestClient[Litestar]) -> None:
    sane = ops.get("/health/live", headers={"X-Request-ID": "trace-42.a:b_c"})
    assert sane.headers["x-request-id"] == "trace-42.a:b_c"
    odd = ops.get("/health/live", headers={"X-Request-ID": "bad id\twith spaces"})
    assert odd.headers["x-request-id"] not in ("", "bad id\twith spaces")
    generated = {ops.get("/health/live").headers["x-request-id"] for _ in range(3)}
    assert len(generated) == 3
    assert all(re.fullmatch(r"[0-9a-f]{32}", g) for g in generated)
    missing = ops.get("/v1/events/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404
    assert missing.headers["x-request-id"]


def test_the_access_line_has_the_request_id_and_no_payload(
    ops: TestClient[Litestar], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tradewinds.access")
    response = ops.post(
        "/v1/events", json=signal("payload-marker"), headers={"X-Request-ID": "req-1"}
    )
    assert response.status_code == 201
    (record,) = [r for r in caplog.records if r.name == "tradewinds.access"]
    token = request_id.set("req-1")
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id.reset(token)
    assert line["request_id"] == "req-1"
    assert (line["method"], line["route"], line["status"]) == ("POST", "/v1/events", 201)
    assert line["level"] == "info"
    assert line["duration_ms"] >= 0
    assert "payload-marker" not in json.dumps(line)


def test_a_body_over_the_limit_is_refused_with_413_and_nothing_is_stored(
    ops: TestClient[Litestar],
) -> None:
    events = [signal(f"e{i}", summary="x" * 400) for i in range(20)]
    response = ops.post("/v1/events/batch", json={"events": events})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 413
    assert ops.get("/v1/events").json()["events"] == []
    small = ops.post("/v1/events/batch", json={"events": events[:2]})
    assert small.status_code == 201


# --- health that tells the truth, and a store that cannot take writes ----------------------


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_live_fails_naming_a_worker_thread_that_died(ops: TestClient[Litestar]) -> None:
    """A job that raises past the writer's guard (a BaseException) ends the writer
    thread: live used to stay 200 while every write hung."""
    log = ops.app.state.tradewinds.eventlog

    def fatal(recorded_at: object) -> list[object]:
        raise SystemExit("the writer ends")

    log.committer.submit(fatal)
    log.committer.thread.join(timeout=5)
    response = ops.get("/health/live")
    assert response.status_code == 503
    assert response.json() == {"status": "failed", "dead": ["writer"]}
    samples = scrape(ops)
    assert value(samples, "tradewinds_worker_alive", worker="writer") == 0
    assert value(samples, "tradewinds_worker_alive", worker="projection") == 1
    refused = ops.post("/v1/events", json=signal())
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"


def test_live_names_the_backtest_runner_when_its_thread_has_ended(
    ops: TestClient[Litestar],
) -> None:
    """The runner's thread is watched like the others: a runner that is gone while
    the service is not stopping would leave every backtest queued for ever."""
    runner = ops.app.state.tradewinds.backtests
    runner._queue.put(None)  # what stop() sends, without the service stopping
    runner.thread.join(timeout=10)
    response = ops.get("/health/live")
    assert response.status_code == 503
    assert response.json() == {"status": "failed", "dead": ["backtests"]}


def test_a_write_the_store_does_not_confirm_in_time_is_503_not_a_hang(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", commit_timeout_s=1.0)
    with TestClient(create_app(settings)) as client:
        log = client.app.state.tradewinds.eventlog
        entered, gate = threading.Event(), threading.Event()
        log.committer.submit(lambda t: entered.set() or (gate.wait(20) and []))
        assert entered.wait(5)  # the writer is stuck
        try:
            response = client.post("/v1/events", json=signal("late", event_id=str(uuid4())))
        finally:
            gate.set()
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.headers["content-type"] == "application/problem+json"
        assert "not stored" in response.json()["detail"]
        sent = response.request.content
        event_id = json.loads(sent)["event_id"]
        later = client.post("/v1/events", json=signal("after"))
        assert later.status_code == 201
        assert client.get(f"/v1/events/{event_id}").status_code == 404
        assert client.get("/health/live").status_code == 200


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real filesystem of 8 MB (tmpfs), to be filled; skipped where it cannot be mounted."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root")
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"mounting a small filesystem was refused: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(path: Path) -> None:
    """Write zeros to ``path`` until the filesystem has no room left."""
    chunk = b"\0" * 65536
    with path.open("wb", buffering=0) as f:
        while True:
            try:
                f.write(chunk)
            except OSError:
                break
        with contextlib.suppress(OSError):
            os.fsync(f.fileno())


def test_a_full_disk_is_507_with_retry_after_logged_once_and_recovers_by_itself(
    small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(data_dir=small_disk / "data")
    batch = {"events": [signal(f"e{i}", summary="s" * 300) for i in range(50)]}
    with TestClient(create_app(settings)) as client:
        assert client.post("/v1/events/batch", json=batch).status_code == 201
        stored = 50
        fill(small_disk / "filler")
        refused = []
        for _ in range(20):  # the WAL file grows into the last free pages first
            response = client.post("/v1/events/batch", json=batch)
            if response.status_code == 201:
                stored += 50
                continue
            refused.append(response)
            if len(refused) == 3:
                break
        assert [r.status_code for r in refused] == [507, 507, 507], refused[0].text
        assert refused[0].headers["content-type"] == "application/problem+json"
        assert int(refused[0].headers["retry-after"]) > 0
        assert "full" in refused[0].json()["detail"]
        ready = client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["status"] == "store full"
        assert client.get("/health/live").status_code == 200
        said = [r for r in caplog.records if r.levelno >= logging.ERROR and "full" in r.message]
        assert len(said) == 1, [r.message for r in said]

        (small_disk / "filler").unlink()
        deadline = time.monotonic() + 20
        while (response := client.post("/v1/events/batch", json=batch)).status_code != 201:
            assert response.status_code == 507
            assert time.monotonic() < deadline, "writes did not recover once space was freed"
            time.sleep(0.2)
        stored += 50
        assert client.get("/health/ready").status_code == 200
        listed = client.get("/v1/events", params={"limit": 1000}).json()["events"]
        assert len(listed) == stored  # every 201 stored, nothing refused stored


def test_an_alert_fired_while_the_disk_is_full_is_recorded_and_sent_once_there_is_room(
    small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The delivery's append failed and was only logged: the alert was lost."""
    settings = Settings(data_dir=small_disk / "data", webhook_allow_private=True)
    rule = {"name": "r", "match": {"kind": "signal", "where": {"label": "a"}}, "bayes_factor": 3}
    scenario = {
        "title": "t",
        "question": "q",
        "opens_at": "2025-01-01T00:00:00Z",
        "deadline": "2027-01-01T00:00:00Z",
        "prior": 0.2,
        "rules": [rule],
    }
    with Receiver() as receiver, TestClient(create_app(settings)) as client:
        log = client.app.state.tradewinds.eventlog
        assert client.put("/v1/scenarios/alpha", json=scenario).status_code == 201
        before = client.get("/v1/forecasts/alpha").json()["probability"]
        halfway = 1 / (1 + math.exp(-(math.log(before / (1 - before)) + math.log(3) / 2)))
        alert = {"scenario_ids": ["alpha"], "condition": {"crosses": halfway},
                 "url": receiver.url, "secret": "s3cret-for-tests"}  # fmt: skip
        assert client.put("/v1/alerts/alpha-up", json=alert).status_code == 201
        with log.index.reading():  # the change is seen only once the disk is full
            assert client.post("/v1/events", json=signal("a")).status_code == 201
            log.committer.submit(lambda t: fill(small_disk / "filler") or []).result(timeout=10)
            big = {"events": [signal(f"x{i}", summary="s" * 300) for i in range(50)]}
            for _ in range(20):  # until the WAL file has no free pages left either
                if client.post("/v1/events/batch", json=big).status_code != 201:
                    break
            else:
                pytest.fail("the store never became full")
        deadline = time.monotonic() + 10
        while not any(r.name == "service.alerts" for r in caplog.records):
            assert time.monotonic() < deadline, "the delivery was not refused by the full disk"
            time.sleep(0.05)
        assert not receiver.received
        (small_disk / "filler").unlink()
        (delivery,) = receiver.wait_for(1, timeout=60)
        assert json.loads(delivery.body)["alert"]["id"] == "alpha-up"
