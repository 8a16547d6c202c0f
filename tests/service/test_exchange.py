"""Export and import: the whole log as JSON Lines, round-tripped, idempotent."""

import io
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import msgspec
import pytest
from litestar.testing import TestClient

from domain.entries import EventEntry, LogEntry, ScenarioEntry
from service.bootstrap import open_eventlog
from service.cli.main import demo_lines, import_lines, main
from service.commands.exchange import ImportFailed, export_entries, write_jsonl
from service.settings import Settings
from service.web.app import create_app
from tests.service.events_data import approval, scenario, signal
from tests.support.stores import Store

Client = TestClient  # type: ignore[type-arg]


def export_bytes(settings: Settings) -> bytes:
    out = io.BytesIO()
    with open_eventlog(settings) as log:
        write_jsonl(export_entries(log), out)
    return out.getvalue()


@pytest.fixture
def filled(settings: Settings) -> Settings:
    """A store holding every kind of record: events, a batch, versions, a retraction,
    a resolution."""
    with TestClient(create_app(settings)) as client:
        first = client.post("/v1/events", json=approval()).json()
        client.put("/v1/scenarios/grand-bargain", json=scenario())
        client.post("/v1/events/batch", json={"events": [signal(str(i)) for i in range(5)]})
        client.put("/v1/scenarios/grand-bargain", json=scenario(prior=0.3))
        client.post(f"/v1/events/{first['event_id']}/retraction", json={"reason": "wrong"})
        client.post(
            "/v1/scenarios/grand-bargain/resolution",
            json={"outcome": "no", "resolved_at": "2026-06-30T00:00:00Z"},
        )
    return settings


def test_export_lists_every_record_in_position_order(filled: Settings) -> None:
    entries = [
        msgspec.json.decode(line, type=LogEntry) for line in export_bytes(filled).splitlines()
    ]
    assert [type(e).__name__ for e in entries] == [
        "EventEntry", "ScenarioEntry", *["EventEntry"] * 5, "ScenarioEntry",
        "RetractionEntry", "ResolutionEntry",
    ]  # fmt: skip
    assert [e.position for e in entries] == list(range(1, 11))
    versions = [e.version for e in entries if isinstance(e, ScenarioEntry)]
    assert versions == [1, 2]
    first = entries[0]
    assert isinstance(first, EventEntry)
    assert first.event.event_id is not None


def test_export_then_import_into_an_empty_store_reproduces_the_log(
    filled: Settings, store: Store, tmp_path: Path
) -> None:
    exported = export_bytes(filled)
    copy = store.new_settings(tmp_path / "copy")
    report = import_lines(copy, exported.splitlines())
    assert (report.added, report.skipped) == (10, 0)
    assert export_bytes(copy) == exported


def test_importing_the_same_file_twice_adds_nothing(
    filled: Settings, store: Store, tmp_path: Path
) -> None:
    exported = export_bytes(filled)
    copy = store.new_settings(tmp_path / "copy")
    import_lines(copy, exported.splitlines())
    report = import_lines(copy, exported.splitlines())
    assert (report.added, report.skipped) == (0, 10)
    assert export_bytes(copy) == exported


def test_import_keeps_recorded_at_so_known_at_answers_reproduce(
    filled: Settings, store: Store, tmp_path: Path
) -> None:
    copy = store.new_settings(tmp_path / "copy")
    import_lines(copy, export_bytes(filled).splitlines())
    with TestClient(create_app(filled)) as a, TestClient(create_app(copy)) as b:
        assert a.get("/v1/events").json() == b.get("/v1/events").json()


def test_import_stops_at_an_event_stored_with_other_content(settings: Settings) -> None:
    event_id = str(uuid4())
    good = msgspec.json.encode({"type": "event", "event": signal("a", event_id=event_id)})
    clash = msgspec.json.encode({"type": "event", "event": signal("b", event_id=event_id)})
    import_lines(settings, [good])
    with pytest.raises(ImportFailed) as failure:
        import_lines(settings, [clash])
    assert failure.value.line == 1


def test_an_invalid_line_names_its_number_and_stores_nothing_of_its_chunk(
    settings: Settings,
) -> None:
    good = msgspec.json.encode({"type": "event", "event": signal("a")})
    bad = msgspec.json.encode({"type": "event", "event": signal("b", occurred_at="soon")})
    with pytest.raises(ImportFailed) as failure:
        import_lines(settings, [good, bad])
    assert failure.value.line == 2
    assert export_bytes(settings) == b""


def test_entries_without_recorded_at_are_stamped_at_import(settings: Settings) -> None:
    line = msgspec.json.encode({"type": "event", "event": signal("a")})
    before = datetime.now(UTC)
    import_lines(settings, [line])
    (entry,) = [msgspec.json.decode(x, type=LogEntry) for x in export_bytes(settings).splitlines()]
    assert entry.recorded_at is not None
    assert entry.recorded_at >= before


def test_events_without_id_get_a_content_id_so_reimport_adds_nothing(settings: Settings) -> None:
    line = msgspec.json.encode({"type": "event", "event": signal("a")})
    import_lines(settings, [line])
    assert import_lines(settings, [line]).added == 0


def test_the_demo_timeline_loads_and_loading_it_again_adds_nothing(settings: Settings) -> None:
    first = import_lines(settings, demo_lines())
    assert first.added > 0
    assert first.skipped == 0
    again = import_lines(settings, demo_lines())
    assert (again.added, again.skipped) == (0, first.added)


def test_the_command_line_exports_and_imports_files(
    filled: Settings, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dump = tmp_path / "log.jsonl"
    monkeypatch.setenv("TRADEWINDS_DATABASE_URL", filled.database_url or "")
    assert main(["export", "--data-dir", str(filled.data_dir), "-o", str(dump)]) == 0
    copy = store.new_settings(tmp_path / "copy")
    monkeypatch.setenv("TRADEWINDS_DATABASE_URL", copy.database_url or "")
    assert main(["import", "--data-dir", str(tmp_path / "copy"), str(dump)]) == 0
    assert export_bytes(copy) == dump.read_bytes()


def test_idempotency_keys_survive_export_and_import(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    headers = {"Idempotency-Key": "analyst-7"}
    body = {"events": [signal("a"), signal("b")]}
    with TestClient(create_app(settings)) as client:
        first = client.post("/v1/events/batch", json=body, headers=headers).json()
    copy = store.new_settings(tmp_path / "copy")
    import_lines(copy, export_bytes(settings).splitlines())
    assert export_bytes(copy) == export_bytes(settings)
    with TestClient(create_app(copy)) as client:
        again = client.post("/v1/events/batch", json=body, headers=headers)
        other = client.post("/v1/events/batch", json={"events": [signal("c")]}, headers=headers)
    assert (again.status_code, again.json()) == (200, first)
    assert other.status_code == 409
