"""The real history shipped with the product: complete and valid, loaded by
``serve --demo`` before the timeline with its reconstructed ``recorded_at``, added
to any store by ``import --history`` (idempotently), and scored as served."""

import io
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from domain.codecs import log_entry_decoder
from domain.entries import EventEntry, LogEntry, ResolutionEntry, ScenarioEntry
from domain.scenarios import check_definition
from service.bootstrap import open_eventlog
from service.cli.main import backtest_request, demo_lines, import_lines, load_demo, main, parser
from service.commands.exchange import export_entries, write_jsonl
from service.demo import history_lines, import_history
from service.demo.build_history import TAG, history_entries
from service.persistence.eventlog import utc_now
from service.settings import Settings
from service.web.app import create_app
from service.workers.backtestinputs import evaluate

WHOLE = ["--from", "2018-01-01T00:00:00Z", "--to", "2025-12-31T00:00:00Z", "--step", "P1D"]


def shipped() -> list[LogEntry]:
    return [log_entry_decoder.decode(line) for line in history_lines()]


def stored(settings: Settings) -> list[LogEntry]:
    with open_eventlog(settings) as log:
        return list(export_entries(log))


def history_ids() -> set[str]:
    return {e.scenario_id for e in shipped() if isinstance(e, ScenarioEntry)}


def test_the_shipped_history_is_complete_and_valid() -> None:
    entries = shipped()
    scenarios = {e.scenario_id: e for e in entries if isinstance(e, ScenarioEntry)}
    resolutions = {e.scenario_id: e for e in entries if isinstance(e, ResolutionEntry)}
    events = [e for e in entries if isinstance(e, EventEntry)]
    assert len(entries) == len(scenarios) + len(resolutions) + len(events)
    assert (len(scenarios), len(events)) == (37, 246)
    assert len({e.event.event_id for e in events}) == 246
    assert set(resolutions) == set(scenarios)
    for slug, entry in scenarios.items():
        definition = entry.definition
        check_definition(definition, opened_at=entry.recorded_at)
        assert definition.opens_at is not None
        assert definition.rules
        assert entry.recorded_at == definition.opens_at
        resolution = resolutions[slug].resolution
        assert resolution.outcome in ("yes", "no"), slug
        assert definition.opens_at <= resolution.resolved_at <= definition.deadline, slug
        if resolution.outcome == "no":
            assert resolution.resolved_at == definition.deadline, slug
        assert resolutions[slug].recorded_at == resolution.resolved_at
    assert all(e.recorded_at == e.event.occurred_at for e in events)
    times: list[datetime] = [e.recorded_at for e in entries]  # type: ignore[misc]
    assert times == sorted(times)
    assert Counter(r.resolution.outcome for r in resolutions.values()).keys() == {"yes", "no"}


def test_serve_demo_loads_the_history_resolved_then_the_timeline(settings: Settings) -> None:
    history, timeline = load_demo(settings)
    assert (history.report.added, history.reconstructed) == (37 + 37 + 246, True)
    assert timeline.added == len(demo_lines())
    log = stored(settings)
    times = [e.recorded_at for e in log]
    assert times == sorted(times)  # type: ignore[type-var]
    expected = {
        e.scenario_id: e.resolution.outcome for e in shipped() if isinstance(e, ResolutionEntry)
    }
    with caught_up(settings) as client:
        served = {s["id"]: s for s in client.get("/v1/scenarios").json()["scenarios"]}
        for slug, outcome in expected.items():
            scenario = client.get(f"/v1/scenarios/{slug}").json()
            assert scenario["resolution"]["outcome"] == outcome, slug
    assert history_ids() <= set(served)
    assert len(served) == 37 + sum(b'"type":"scenario"' in line for line in demo_lines())


def test_loading_the_demo_twice_adds_nothing(settings: Settings) -> None:
    load_demo(settings)
    before = stored(settings)
    history, timeline = load_demo(settings)
    assert (history.report.added, timeline.added) == (0, 0)
    assert history.report.skipped == len(history_lines())
    assert stored(settings) == before


def test_import_history_adds_it_to_a_store_once(
    settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADEWINDS_DATABASE_URL", settings.database_url or "")
    data_dir = ["--data-dir", str(settings.data_dir)]
    assert main(["import", "--history", *data_dir]) == 0
    assert "320 records added, 0 already there" in capsys.readouterr().out
    assert main(["import", "--history", *data_dir]) == 0
    assert "0 records added, 320 already there" in capsys.readouterr().out
    log = stored(settings)
    assert len(log) == 320
    assert [e.recorded_at for e in log] == [e.recorded_at for e in shipped()]


def test_import_needs_a_file_or_history_not_both(tmp_path: Path) -> None:
    data_dir = ["--data-dir", str(tmp_path)]
    assert main(["import", *data_dir]) == 2
    assert main(["import", "--history", str(tmp_path / "x.jsonl"), *data_dir]) == 2


def test_history_into_a_store_with_later_records_is_recorded_now(
    settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reconstructed times behind a store's later records would change what that store
    served "as known at" past times: the history is recorded at the import instead."""
    import_lines(settings, demo_lines())
    before = stored(settings)
    monkeypatch.setenv("TRADEWINDS_DATABASE_URL", settings.database_url or "")
    assert main(["import", "--history", "--data-dir", str(settings.data_dir)]) == 0
    assert "history is recorded now" in capsys.readouterr().out
    log = stored(settings)
    assert log[: len(before)] == before
    added = log[len(before) :]
    assert len(added) == 320
    assert min(e.recorded_at for e in added) >= max(e.recorded_at for e in before)  # type: ignore[type-var]
    times = [e.recorded_at for e in log]
    assert times == sorted(times)  # type: ignore[type-var]


@contextmanager
def caught_up(settings: Settings) -> Iterator[TestClient[Litestar]]:
    """The app over the store, once its index has caught up (until then the index is
    partial and ``/health/ready`` rightly answers 503 "catching up")."""
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 30.0
        while client.get("/health/ready").status_code != 200:
            assert time.monotonic() < deadline, "the app never caught up with its store"
            time.sleep(0.02)
        yield client


def scores(settings: Settings, knowledge: str) -> dict[str, float]:
    args = parser().parse_args(["backtest", *WHOLE, "--knowledge", knowledge])
    with caught_up(settings) as client:
        eventlog = client.app.state.tradewinds.eventlog
        result = evaluate(eventlog.index, backtest_request(args), eventlog.head_time())
    return {s.scenario_id: s.brier for s in result.scenarios}


def test_the_track_record_of_the_history_alone_is_its_hindsight(settings: Settings) -> None:
    """Each question was recorded at opens_at with its only version, each event when it
    became public: what was served at t is what hindsight computes at t."""
    with open_eventlog(settings) as log:
        import_history(log, utc_now)
    served = scores(settings, "as_served")
    hindsight = scores(settings, "hindsight")
    assert set(served) == set(hindsight) == history_ids()
    for slug in history_ids():
        assert served[slug] == pytest.approx(hindsight[slug], abs=1e-12), slug


def test_a_fresh_demo_store_has_a_track_record_of_the_whole_history(settings: Settings) -> None:
    load_demo(settings)
    assert history_ids() <= set(scores(settings, "as_served"))


def test_a_history_recorded_now_has_no_track_record(settings: Settings) -> None:
    """A demo store made before the history shipped: ``--demo`` adds it recorded now."""
    import_lines(settings, demo_lines())
    history, _ = load_demo(settings)
    assert (history.report.added, history.reconstructed) == (320, False)
    assert not history_ids() & set(scores(settings, "as_served"))
    assert history_ids() <= set(scores(settings, "hindsight"))


def test_the_generator_rebuilds_the_shipped_file_from_its_content() -> None:
    """``build_history`` is the transformation the file documents: the source it was
    made from, recovered from the file, builds the same bytes again."""
    entries = shipped()
    resolutions = {e.scenario_id: e.resolution for e in entries if isinstance(e, ResolutionEntry)}
    scenarios = []
    for e in entries:
        if isinstance(e, ScenarioEntry):
            fields = msgspec.to_builtins(e.definition)
            fields["tags"] = [t for t in fields["tags"] if t != TAG]
            if not fields["tags"]:
                del fields["tags"]
            resolution = msgspec.to_builtins(resolutions[e.scenario_id])
            scenarios.append({"id": e.scenario_id, **fields, "resolution": resolution})
    events = [
        {k: v for k, v in msgspec.to_builtins(e.event).items() if k != "event_id"}
        for e in entries
        if isinstance(e, EventEntry)
    ]
    out = io.BytesIO()
    write_jsonl(history_entries({"scenarios": scenarios, "events": events}), out)
    assert out.getvalue() == b"".join(line + b"\n" for line in history_lines())
