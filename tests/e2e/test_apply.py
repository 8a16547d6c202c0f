"""``tradewinds apply`` and ``tradewinds get scenario`` against a real ``tradewinds
serve`` with API keys, over HTTP: the dry run stores nothing, apply needs an admin
key, the second apply stores nothing, the diff is the one the local store gives,
and get -> apply round-trips."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.helpers import http
from tests.support.server import ServerProcess

TRADEWINDS = Path(sys.executable).with_name("tradewinds")
READ_KEY = "apply-reader"
ADMIN_KEY = "apply-admin"
Json = dict[str, Any]


def rule(name: str, bayes_factor: float, label: str) -> Json:
    return {
        "name": name,
        "match": {"kind": "signal", "where": {"label": label}},
        "bayes_factor": bayes_factor,
    }


def scenario(slug: str, rules: list[Json]) -> Json:
    return {
        "id": slug,
        "title": f"Scenario {slug}",
        "question": "Will it happen?",
        "opens_at": "2025-01-01T00:00:00Z",
        "deadline": "2027-01-01T00:00:00Z",
        "prior": 0.2,
        "rules": rules,
    }


def write(path: Path, body: Json) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(body, sort_keys=False))


def tradewinds(cwd: Path, *args: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80"}
    env.pop("TRADEWINDS_API_KEY", None)
    env.pop("TRADEWINDS_DATABASE_URL", None)
    if key is not None:
        env["TRADEWINDS_API_KEY"] = key
    return subprocess.run(
        [str(TRADEWINDS), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    keys = f"{READ_KEY}:read,{ADMIN_KEY}:admin"
    with ServerProcess(tmp_path / "served", env={"TRADEWINDS_API_KEYS": keys}) as running:
        yield running


@pytest.fixture
def admin(server: ServerProcess) -> Iterator[httpx.Client]:
    with http(server.base_url) as client:
        client.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
        yield client


def stored_position(client: httpx.Client) -> int:
    """The served log's position once this server's own writes are visible."""
    assert client.get("/v1/scenarios").status_code == 200
    position: int = client.get("/health/ready").json()["position"]
    return position


def test_apply_over_http_dry_run_apply_and_a_second_apply_that_stores_nothing(
    server: ServerProcess, admin: httpx.Client, tmp_path: Path
) -> None:
    folder = tmp_path / "scenarios"
    write(folder / "a-first.yaml", scenario("a-first", [rule("r", 2, "test")]))
    write(folder / "b-second.yaml", scenario("b-second", [rule("s", 0.5, "other")]))
    url = ("--url", server.base_url)
    empty = stored_position(admin)

    dry = tradewinds(tmp_path, "apply", "scenarios", *url, key=READ_KEY)
    assert dry.returncode == 1, dry.stderr
    assert "a-first (scenarios/a-first.yaml): new, 1 rule" in dry.stdout.splitlines()
    assert "    + s: bayes_factor 0.5" in dry.stdout.splitlines()
    refused = tradewinds(tmp_path, "apply", "scenarios", "--yes", *url, "--key", READ_KEY)
    assert refused.returncode == 2
    assert "refused: a-first (scenarios/a-first.yaml): PUT /v1/scenarios/a-first: 403" in (
        " ".join(refused.stderr.split())
    )
    nokey = tradewinds(tmp_path, "apply", "scenarios", *url)
    assert nokey.returncode == 2
    assert "GET /v1/scenarios/a-first: 401" in nokey.stderr
    assert admin.get("/v1/scenarios").json()["scenarios"] == []
    assert stored_position(admin) == empty

    applied = tradewinds(tmp_path, "apply", "scenarios", "--yes", *url, key=ADMIN_KEY)
    assert applied.returncode == 0, applied.stderr
    assert "a-first: created, version 1 stored" in applied.stdout
    assert "b-second: created, version 1 stored" in applied.stdout
    assert admin.get("/v1/scenarios/a-first").json()["definition"]["rules"][0]["bayes_factor"] == 2
    head = stored_position(admin)
    assert head > empty

    again = tradewinds(tmp_path, "apply", "scenarios", "--yes", *url, key=ADMIN_KEY)
    assert again.returncode == 0, again.stderr
    assert "a-first (scenarios/a-first.yaml): unchanged (version 1)" in again.stdout
    assert "applied: 0 stored, 2 unchanged" in again.stdout
    assert stored_position(admin) == head
    assert len(admin.get("/v1/scenarios/a-first/versions").json()["versions"]) == 1


def test_the_diff_over_http_is_the_local_stores_and_apply_stores_version_2(
    server: ServerProcess, admin: httpx.Client, tmp_path: Path
) -> None:
    path = tmp_path / "scenarios" / "a-first.yaml"
    write(path, scenario("a-first", [rule("r", 2, "test"), rule("gone", 0.5, "x")]))
    url = ("--url", server.base_url)
    local = ("--data-dir", str(tmp_path / "local"))
    for where in (url, local):
        done = tradewinds(tmp_path, "apply", "scenarios", "--yes", *where, key=ADMIN_KEY)
        assert done.returncode == 0, done.stderr
    write(path, scenario("a-first", [rule("r", 4, "test"), rule("added", 3, "y")]))

    remote = tradewinds(tmp_path, "apply", "scenarios", *url, key=READ_KEY)
    here = tradewinds(tmp_path, "apply", "scenarios", *local)
    assert remote.returncode == here.returncode == 1
    assert remote.stdout == here.stdout
    assert remote.stdout.splitlines()[:5] == [
        "a-first (scenarios/a-first.yaml): changed (version 1 -> 2)",
        "  rules:",
        "    ~ r: bayes_factor 2 -> 4",
        "    + added: bayes_factor 3",
        "    - gone: bayes_factor 0.5",
    ]
    assert max(len(line) for line in remote.stdout.splitlines()) <= 80

    applied = tradewinds(tmp_path, "apply", "scenarios", "--yes", *url, key=ADMIN_KEY)
    assert applied.returncode == 0, applied.stderr
    assert "a-first: revised, version 2 stored" in applied.stdout
    versions = admin.get("/v1/scenarios/a-first/versions").json()["versions"]
    assert [v["version"] for v in versions] == [1, 2]
    assert [r["name"] for r in versions[1]["definition"]["rules"]] == ["r", "added"]


def test_get_over_http_writes_a_file_apply_finds_unchanged_and_an_invalid_file_stores_nothing(
    server: ServerProcess, admin: httpx.Client, tmp_path: Path
) -> None:
    body = scenario("a-first", [rule("r", 1e-3, "test")])
    put = {name: value for name, value in body.items() if name != "id"}
    assert admin.put("/v1/scenarios/a-first", json=put).status_code == 201
    url = ("--url", server.base_url)
    got = tradewinds(tmp_path, "get", "scenario", "a-first", "-o", "yaml", *url, key=READ_KEY)
    assert got.returncode == 0, got.stderr
    assert yaml.safe_load(got.stdout)["id"] == "a-first"
    (tmp_path / "a-first.yaml").write_text(got.stdout)
    same = tradewinds(tmp_path, "apply", "a-first.yaml", "--yes", *url, key=ADMIN_KEY)
    assert same.returncode == 0, same.stderr
    assert same.stdout.splitlines()[0] == "a-first (a-first.yaml): unchanged (version 1)"

    head = stored_position(admin)
    wrong = {**body, "rules": [{**body["rules"][0], "bayes_factor": 0}]}
    (tmp_path / "a-first.yaml").write_text(yaml.safe_dump(wrong))
    invalid = tradewinds(tmp_path, "apply", "a-first.yaml", "--yes", *url, key=ADMIN_KEY)
    assert invalid.returncode == 2
    assert "invalid: a-first.yaml\n  rules[0].bayes_factor: must be a number at least" in (
        invalid.stderr
    )
    assert stored_position(admin) == head
    missing = tradewinds(tmp_path, "get", "scenario", "nothing-here", *url, key=READ_KEY)
    assert (missing.returncode, missing.stderr) == (2, "tradewinds: no scenario nothing-here\n")
