"""Export and import of resolutions, their retractions and resolutions anew."""

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from litestar.testing import TestClient

from domain.entries import LogEntry, ResolutionEntry, ResolutionRetractionEntry
from service.bootstrap import open_eventlog
from service.cli.main import import_lines
from service.commands.exchange import ImportFailed, export_entries, write_jsonl
from service.settings import Settings
from service.web.app import create_app
from tests.service.events_data import scenario
from tests.service.test_resolution_retraction import RESOLUTION, RETRACTION, SLUG, Clock
from tests.support.stores import Store

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def export_bytes(settings: Settings) -> bytes:
    out = io.BytesIO()
    with open_eventlog(settings) as log:
        write_jsonl(export_entries(log), out)
    return out.getvalue()


@pytest.fixture
def corrected(settings: Settings) -> Settings:
    """A scenario resolved yes, that resolution retracted, then resolved no."""
    clock = Clock(START)
    with TestClient(create_app(settings, clock)) as client:
        client.put(f"/v1/scenarios/{SLUG}", json=scenario())
        for step in (
            (RESOLUTION, {"outcome": "yes", "resolved_at": "2026-02-01T00:00:00Z"}),
            (RETRACTION, {"reason": "the deal was not signed"}),
            (RESOLUTION, {"outcome": "no", "resolved_at": "2026-02-15T00:00:00Z"}),
        ):
            clock.now += timedelta(hours=1)
            assert client.post(step[0], json=step[1]).status_code == 201
    return settings


def answers(settings: Settings) -> list[object]:
    """The scenario and its forecast now and at each knowledge cut of the log."""
    with TestClient(create_app(settings, Clock(START + timedelta(days=1)))) as client:
        view = client.get(f"/v1/scenarios/{SLUG}").json()
        cuts = [None, *(START + timedelta(hours=h, minutes=30) for h in range(4))]
        found: list[object] = [view]
        for cut in cuts:
            params = {} if cut is None else {"known_at": cut.isoformat()}
            body = client.get(f"/v1/forecasts/{SLUG}", params=params).json()
            found.append((body["status"], body["probability"], body["position"]))
        return found


def test_the_corrections_are_exported_in_order(corrected: Settings) -> None:
    lines = export_bytes(corrected).splitlines()
    entries = [msgspec.json.decode(line, type=LogEntry) for line in lines]
    kinds = [(type(e).__name__, getattr(e, "version", None)) for e in entries[1:]]
    assert kinds == [
        ("ResolutionEntry", 1),
        ("ResolutionRetractionEntry", 2),
        ("ResolutionEntry", 3),
    ]
    retraction = entries[2]
    assert isinstance(retraction, ResolutionRetractionEntry)
    assert retraction.reason == "the deal was not signed"
    assert b'"type":"resolution_retraction"' in lines[2]


def test_an_export_imported_into_an_empty_store_answers_the_same(
    corrected: Settings, store: Store, tmp_path: Path
) -> None:
    exported = export_bytes(corrected)
    copy = store.new_settings(tmp_path / "copy")
    report = import_lines(copy, exported.splitlines())
    assert (report.added, report.skipped) == (4, 0)
    assert export_bytes(copy) == exported
    assert answers(copy) == answers(corrected)
    again = import_lines(copy, exported.splitlines())
    assert (again.added, again.skipped) == (0, 4)


def test_an_entry_that_disagrees_with_the_store_stops_the_import(
    corrected: Settings, store: Store, tmp_path: Path
) -> None:
    lines = export_bytes(corrected).splitlines()
    copy = store.new_settings(tmp_path / "copy")
    import_lines(copy, lines)
    other = msgspec.json.decode(lines[2], type=LogEntry)
    assert isinstance(other, ResolutionRetractionEntry)
    other.reason = "another reason"
    with pytest.raises(ImportFailed) as failure:
        import_lines(copy, [msgspec.json.encode(other)])
    assert "stored otherwise" in str(failure.value)


def test_hand_written_entries_without_numbers_act_like_the_commands(settings: Settings) -> None:
    def line(entry: object) -> bytes:
        return msgspec.json.encode(entry)

    definition = {"type": "scenario", "scenario_id": SLUG, "definition": scenario()}
    resolved = {
        "type": "resolution",
        "scenario_id": SLUG,
        "resolution": {"outcome": "yes", "resolved_at": "2026-02-01T00:00:00Z"},
    }
    retracted = {"type": "resolution_retraction", "scenario_id": SLUG, "reason": "wrong"}
    lines = [line(definition), line(resolved), line(retracted), line(resolved)]
    assert import_lines(settings, lines).added == 4
    entries = [msgspec.json.decode(x, type=LogEntry) for x in export_bytes(settings).splitlines()]
    assert [getattr(e, "version", None) for e in entries[1:]] == [1, 2, 3]
    assert isinstance(entries[-1], ResolutionEntry)
    again = import_lines(settings, [line(resolved), line(retracted)])
    assert (again.added, again.skipped) == (1, 1)
