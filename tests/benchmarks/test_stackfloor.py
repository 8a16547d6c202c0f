"""The stack's floor app (``benchmarks.stackfloor``), served in its own process as the
benchmark runs it: each kind of append is committed before its 201, to a SQLite file
in WAL with synchronous FULL, and a body that is not an event is refused."""

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import httpx
import msgspec
import pytest
from eventsourcing.sqlite import SQLiteApplicationRecorder

from benchmarks.stackfloor import SYNCHRONOUS, connect, floor_server
from benchmarks.write import batch_json, event_json, fresh_store

Floor = tuple[httpx.Client, Path]


@pytest.fixture
def floor(tmp_path: Path) -> Iterator[Floor]:
    with (
        floor_server(tmp_path, tmp_path / "floor.log") as (port, _),
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client,
    ):
        yield client, tmp_path / "stackfloor" / "floor.sqlite3"


def _stored(path: Path) -> dict[str, tuple[int, bytes]]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT originator_id, rowid, state FROM stored_events")
        return {str(UUID(i)): (position, state) for i, position, state in rows}


def _post(client: httpx.Client, path: str, body: bytes) -> httpx.Response:
    return client.post(path, content=body, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("path", ["/floor/event", "/floor/event-on-loop"])
def test_an_append_is_committed_when_answered(floor: Floor, path: str) -> None:
    client, db = floor
    answer = _post(client, path, event_json(7))
    assert answer.status_code == 201
    receipt = answer.json()
    position, state = _stored(db)[receipt["id"]]
    assert position == receipt["position"]
    assert msgspec.json.decode(state)["summary"] == msgspec.json.decode(event_json(7))["summary"]


def test_a_batch_is_committed_whole_when_answered(floor: Floor) -> None:
    client, db = floor
    answer = _post(client, "/floor/batch", batch_json(0, 1000))
    assert answer.status_code == 201
    receipts = answer.json()
    stored = _stored(db)
    assert len(receipts) == len(stored) == 1000
    assert all(stored[r["id"]][0] == r["position"] for r in receipts)


def test_the_store_is_durable_as_ours(floor: Floor) -> None:
    client, db = floor
    assert _post(client, "/floor/event", event_json(1)).status_code == 201
    with sqlite3.connect(db) as reader:
        assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    commits = client.get("/floor/commits").json()
    assert commits["commits"] == 1
    assert commits["seconds"] > 0


@pytest.mark.parametrize("body", [b'{"kind":"signal"}', b"{", b'{"kind":"signal","x":1}'])
def test_a_body_that_is_not_an_event_is_refused_and_not_stored(floor: Floor, body: bytes) -> None:
    client, db = floor
    assert _post(client, "/floor/event", body).status_code == 422
    assert _post(client, "/floor/event", event_json(2)).status_code == 201
    assert len(_stored(db)) == 1


def test_the_floor_commits_as_durably_as_our_store(tmp_path: Path) -> None:
    with fresh_store(tmp_path / "ours") as app:
        assert isinstance(app.recorder, SQLiteApplicationRecorder)
        with app.recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute("PRAGMA synchronous")
            ours = cursor.fetchone()[0]
            cursor.execute("PRAGMA journal_mode")
            our_journal = cursor.fetchone()[0]
    floor = connect(tmp_path / "floor.sqlite3")
    try:
        assert floor.execute("PRAGMA synchronous").fetchone()[0] == ours == SYNCHRONOUS
        assert floor.execute("PRAGMA journal_mode").fetchone()[0] == our_journal == "wal"
    finally:
        floor.close()
