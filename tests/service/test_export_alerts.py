"""Alert definitions in export and import: written without their webhook secret
unless asked for, read back idempotently, and an alert without its secret is left
out of an import (and named) rather than stored unable to sign."""

import io
from pathlib import Path

import msgspec
import pytest
from litestar.testing import TestClient

from service.bootstrap import open_eventlog
from service.cli.main import import_lines, main
from service.commands.exchange import ImportFailed, export_entries, write_jsonl
from service.settings import Settings
from service.web.app import create_app
from tests.service.events_data import scenario
from tests.support.stores import Store

SECRET = "hunter2-but-longer"
URL = "http://127.0.0.1:9/hook"


def hook(**changes: object) -> dict[str, object]:
    return {"condition": {"crosses": 0.5}, "url": URL, "secret": SECRET, **changes}


def allowed(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, webhook_allow_private=True)


def export_bytes(settings: Settings, *, with_secrets: bool = False) -> bytes:
    out = io.BytesIO()
    with open_eventlog(settings) as log:
        write_jsonl(export_entries(log, with_secrets=with_secrets), out)
    return out.getvalue()


def alerts_of(settings: Settings) -> list[dict[str, object]]:
    with TestClient(create_app(allowed(settings))) as client:
        answer = client.get("/v1/alerts")
    assert answer.status_code == 200, answer.text
    alerts: list[dict[str, object]] = answer.json()["alerts"]
    return alerts


@pytest.fixture
def with_alerts(settings: Settings) -> Settings:
    """A scenario; an alert on it, changed once; an alert deleted and defined again."""
    with TestClient(create_app(allowed(settings))) as client:
        assert client.put("/v1/scenarios/grand-bargain", json=scenario()).status_code == 201
        on_one = hook(scenario_ids=["grand-bargain"])
        assert client.put("/v1/alerts/bargain-watch", json=on_one).status_code == 201
        moves = {"moves_by": 0.1, "within": "P1D"}
        assert client.put(
            "/v1/alerts/bargain-watch", json={**on_one, "condition": moves}
        ).is_success
        assert client.put("/v1/alerts/all-crossings", json=hook()).status_code == 201
        assert client.delete("/v1/alerts/all-crossings").status_code == 204
        assert client.put("/v1/alerts/all-crossings", json=hook(secret="x" * 40)).is_success
    return settings


def entries(exported: bytes) -> list[dict[str, object]]:
    return [msgspec.json.decode(line) for line in exported.splitlines()]


def test_export_writes_alert_versions_and_deletions_without_secrets(with_alerts: Settings) -> None:
    exported = export_bytes(with_alerts)
    alert_lines = [e for e in entries(exported) if str(e["type"]).startswith("alert")]
    assert [(e["type"], e["alert_id"], e["version"]) for e in alert_lines] == [
        ("alert", "bargain-watch", 1),
        ("alert", "bargain-watch", 2),
        ("alert", "all-crossings", 1),
        ("alert_deletion", "all-crossings", 2),
        ("alert", "all-crossings", 3),
    ]
    first = alert_lines[0]["definition"]
    assert first == {"scenario_ids": ["grand-bargain"], "condition": {"crosses": 0.5}, "url": URL}
    assert b"secret" not in exported
    assert SECRET.encode() not in exported
    assert b"x" * 40 not in exported


def test_export_with_secrets_writes_them(with_alerts: Settings) -> None:
    definitions = [
        e["definition"] for e in entries(export_bytes(with_alerts, with_secrets=True))
        if e["type"] == "alert"
    ]  # fmt: skip
    assert [d["secret"] for d in definitions] == [SECRET, SECRET, SECRET, "x" * 40]


def test_an_export_with_secrets_imports_into_an_empty_store_as_it_was(
    with_alerts: Settings, store: Store, tmp_path: Path
) -> None:
    exported = export_bytes(with_alerts, with_secrets=True)
    copy = store.new_settings(tmp_path / "copy")
    report = import_lines(copy, exported.splitlines())
    assert (report.added, report.skipped, report.alerts_without_secret) == (6, 0, [])
    assert alerts_of(copy) == alerts_of(with_alerts)
    assert sorted(str(a["id"]) for a in alerts_of(copy)) == ["all-crossings", "bargain-watch"]
    assert export_bytes(copy, with_secrets=True) == exported
    again = import_lines(copy, exported.splitlines())
    assert (again.added, again.skipped) == (0, 6)


def test_an_alert_exported_without_its_secret_is_not_imported_and_is_named(
    with_alerts: Settings, store: Store, tmp_path: Path
) -> None:
    copy = store.new_settings(tmp_path / "copy")
    report = import_lines(copy, export_bytes(with_alerts).splitlines())
    assert report.alerts_without_secret == ["bargain-watch", "all-crossings"]
    assert report.added == 1  # the scenario
    assert alerts_of(copy) == []


def test_reimporting_an_export_without_secrets_into_its_own_store_adds_nothing(
    with_alerts: Settings,
) -> None:
    report = import_lines(with_alerts, export_bytes(with_alerts).splitlines())
    assert (report.added, report.skipped, report.alerts_without_secret) == (0, 6, [])


def test_an_alert_stored_otherwise_stops_the_import_at_its_line(with_alerts: Settings) -> None:
    lines = export_bytes(with_alerts, with_secrets=True).splitlines()
    changed = [
        line.replace(URL.encode(), b"http://127.0.0.1:9/other") if b'"bargain-watch"' in line
        else line
        for line in lines
    ]  # fmt: skip
    with pytest.raises(ImportFailed) as failure:
        import_lines(with_alerts, changed)
    assert failure.value.line == 2
    assert "alert bargain-watch v1 is stored otherwise" in str(failure.value)


def test_the_command_line_exports_secrets_only_when_asked_and_warns_on_import(
    with_alerts: Settings,
    store: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TRADEWINDS_DATABASE_URL", with_alerts.database_url or "")
    plain, secret = tmp_path / "plain.jsonl", tmp_path / "secret.jsonl"
    source = ["--data-dir", str(with_alerts.data_dir)]
    assert main(["export", *source, "-o", str(plain)]) == 0
    assert main(["export", *source, "--with-secrets", "-o", str(secret)]) == 0
    assert SECRET not in plain.read_text()
    assert SECRET in secret.read_text()
    copy = store.new_settings(tmp_path / "copy")
    monkeypatch.setenv("TRADEWINDS_DATABASE_URL", copy.database_url or "")
    capsys.readouterr()
    assert main(["import", "--data-dir", str(copy.data_dir), str(plain)]) == 0
    warning = capsys.readouterr().err
    assert "2 alerts NOT imported" in warning
    assert "bargain-watch, all-crossings" in warning
    assert main(["import", "--data-dir", str(copy.data_dir), str(secret)]) == 0
    assert "NOT imported" not in capsys.readouterr().err
    assert sorted(str(a["id"]) for a in alerts_of(copy)) == ["all-crossings", "bargain-watch"]
