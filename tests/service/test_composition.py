"""The composition root and the application facade: one place builds, starts and
stops the service; handlers ask the facade instead of reaching into the log."""

import ast
import threading
from pathlib import Path

import pytest
from litestar.testing import TestClient

from service.bootstrap import bootstrap
from service.settings import Settings
from service.web.app import create_app
from tests.service.events_data import signal

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "service" / "web"
EVENT_LOG_PARTS = {"index", "committer", "eventlog"}
"""What the facade keeps to itself: a handler naming one reaches past it."""
SERVICE = ROOT / "service"
NAMED_BY_ROLE = [SERVICE]
"""Where the event log is never called ``log``: all of ``service/``."""


def _modules(*places: Path) -> list[Path]:
    found: list[Path] = []
    for place in places:
        found += [place] if place.is_file() else sorted(place.rglob("*.py"))
    return found


def _reaches(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    return [
        f"{path.relative_to(ROOT)}:{node.lineno} .{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in EVENT_LOG_PARTS
    ]


def _named_log(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    names = [(node.lineno, node.arg) for node in ast.walk(tree) if isinstance(node, ast.arg)] + [
        (node.lineno, node.id)
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    ]
    return [f"{path.relative_to(ROOT)}:{line}" for line, name in names if name == "log"]


def test_handlers_reach_the_service_through_the_facade_only() -> None:
    reaches = [r for path in _modules(WEB) for r in _reaches(path)]
    assert reaches == []


def test_the_event_log_is_not_called_log() -> None:
    named = [n for path in _modules(*NAMED_BY_ROLE) for n in _named_log(path)]
    assert named == []


def _alive(threads: list[threading.Thread]) -> list[str]:
    return sorted(t.name for t in threads if t.is_alive())


def test_a_server_registers_each_worker_once_and_stops_them_all(settings: Settings) -> None:
    tradewinds = bootstrap(settings)
    with tradewinds:
        assert tradewinds.workers.names() == [
            "backtests",
            "projection",
            "stream",
            "webhooks",
            "writer",
        ]
        assert tradewinds.dead_workers() == []
        background = tradewinds.background
        assert background is not None
        threads = [
            tradewinds.eventlog.committer.thread,
            tradewinds.eventlog.follower,
            tradewinds.backtests.thread,
            tradewinds.stream.thread,
            background.webhooks.thread,
        ]
        assert len(_alive(threads)) == 5
    assert _alive(threads) == []
    assert tradewinds.dead_workers() == []  # stopping is not dying


def test_without_background_workers_only_the_log_runs(settings: Settings) -> None:
    with bootstrap(settings, background=False) as tradewinds:
        assert tradewinds.workers.names() == ["projection", "writer"]
        assert tradewinds.eventlog.catch_up(10)
        with pytest.raises(RuntimeError, match="background"):
            tradewinds.backtests  # noqa: B018
    assert tradewinds.dead_workers() == []


def test_the_app_metrics_and_health_read_the_one_service(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        tradewinds = client.app.state.tradewinds
        assert client.post("/v1/events", json=signal("one")).status_code == 201
        assert tradewinds.eventlog.catch_up(10)
        ready = client.get("/health/ready").json()
        assert ready["position"] == tradewinds.position == tradewinds.last_position
        scraped = client.get("/metrics").text
        assert f"tradewinds_projection_position {float(tradewinds.position)}" in scraped
        for name in tradewinds.workers.names():
            assert f'tradewinds_worker_alive{{worker="{name}"}} 1.0' in scraped
