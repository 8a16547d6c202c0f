"""API keys and scopes: every route of the app, called with no key, an unknown key
and each scope's key, answers 401, 403 or gets past the guard as its scope says."""

import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import TestClient

from service.access import PUBLIC, SCOPE_OPT, ApiKeys, InvalidKeys, Scope
from service.settings import Settings, settings_from_env
from service.web.app import create_app, openapi_document
from tests.service.events_data import signal

KEYS = {"reader-key": Scope.read, "writer-key": Scope.write, "admin-key": Scope.admin}
CREDENTIALS: dict[str, str | None] = {
    "no key": None,
    "unknown key": "not-a-configured-key",
    "read": "reader-key",
    "write": "writer-key",
    "admin": "admin-key",
}
# What api.md and the README promise, stated independently of the code.
EXPECTED_SCOPES = {
    ("POST", "/v1/events"): "write",
    ("POST", "/v1/events/batch"): "write",
    ("POST", "/v1/events/duplicates"): "write",
    ("GET", "/v1/events"): "read",
    ("GET", "/v1/events/{event_id}"): "read",
    ("POST", "/v1/events/{event_id}/retraction"): "write",
    ("PUT", "/v1/scenarios/{scenario_id}"): "admin",
    ("GET", "/v1/scenarios"): "read",
    ("GET", "/v1/scenarios/{scenario_id}"): "read",
    ("GET", "/v1/scenarios/{scenario_id}/versions"): "read",
    ("POST", "/v1/scenarios/{scenario_id}/preview"): "read",
    ("POST", "/v1/scenarios/{scenario_id}/resolution"): "admin",
    ("POST", "/v1/scenarios/{scenario_id}/resolution/retraction"): "admin",
    ("GET", "/v1/scenarios/{scenario_id}/suggested-rules"): "read",
    ("GET", "/v1/calibration"): "read",
    ("GET", "/v1/forecasts"): "read",
    ("GET", "/v1/forecasts/{scenario_id}"): "read",
    ("GET", "/v1/forecasts/{scenario_id}/history"): "read",
    ("GET", "/v1/forecasts/stream"): "read",
    ("PUT", "/v1/alerts/{alert_id}"): "admin",
    ("GET", "/v1/alerts"): "admin",
    ("GET", "/v1/alerts/{alert_id}"): "admin",
    ("DELETE", "/v1/alerts/{alert_id}"): "admin",
    ("GET", "/v1/alerts/{alert_id}/deliveries"): "admin",
    ("GET", "/v1/log"): "admin",
    ("POST", "/v1/backtests"): "admin",
    ("GET", "/v1/backtests"): "read",
    ("GET", "/v1/backtests/{backtest_id}"): "read",
    ("GET", "/v1/backtests/{backtest_id}/reliability.svg"): "read",
    ("GET", "/v1/backtests/{backtest_id}/series"): "read",
    ("GET", "/health/live"): PUBLIC,
    ("GET", "/health/ready"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("GET", "/v1/access"): PUBLIC,
}
# The dashboard's page and its files: public, and not in the OpenAPI document.
DASHBOARD_ROUTES = {("GET", "/"): PUBLIC, ("GET", "/dashboard/{file_path}"): PUBLIC}


def keyed_settings(tmp_path: Path) -> Settings:
    # The forecast stream ends after stream_max_s, so the matrix can read its answer.
    return Settings(data_dir=tmp_path / "data", api_keys=ApiKeys(KEYS), stream_max_s=0.1)


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient[Litestar]]:
    with TestClient(create_app(keyed_settings(tmp_path_factory.mktemp("keyed")))) as client:
        yield client


def operations(app: Litestar) -> list[tuple[str, str, str]]:
    """(method, path template, required scope) for every route handler of the app."""
    found = []
    for route in app.routes:
        assert isinstance(route, HTTPRoute), route
        for handler in route.route_handlers:
            for method in sorted(handler.http_methods):
                if method in ("HEAD", "OPTIONS"):
                    continue
                found.append((method, route.path_format, str(handler.opt.get(SCOPE_OPT))))
    return found


def concrete(path: str) -> str:
    """The path template with its parameters filled in."""
    path = re.sub(r"\{(event_id|backtest_id)\}", str(uuid4()), path)
    return re.sub(r"\{\w+\}", "some-scenario", path)


def test_every_route_states_its_scope_or_that_it_is_public(keyed: TestClient[Litestar]) -> None:
    found = operations(keyed.app)
    unstated = [(m, p) for m, p, s in found if s not in {*Scope.__members__, PUBLIC}]
    assert unstated == []
    api = {(m, p): s for m, p, s in found if not p.startswith("/schema")}
    assert api == {**EXPECTED_SCOPES, **DASHBOARD_ROUTES}
    schema_routes = [s for m, p, s in found if p.startswith("/schema")]
    assert schema_routes
    assert set(schema_routes) == {PUBLIC}


def test_the_scope_matrix(keyed: TestClient[Litestar]) -> None:
    """Every route x {no key, unknown key, read, write, admin}."""
    failures = []
    for method, template, required in operations(keyed.app):
        path = concrete(template)
        for who, key in CREDENTIALS.items():
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            body = {} if method in ("POST", "PUT") else None
            response = keyed.request(method, path, headers=headers, json=body)
            if required == PUBLIC:
                expected = "past the guard"
            elif key is None or key not in KEYS:
                expected = "401"
            elif KEYS[key] < Scope[required]:
                expected = "403"
            else:
                expected = "past the guard"
            status = response.status_code
            got = str(status) if status in (401, 403) else "past the guard"
            if got != expected:
                failures.append(f"{method} {template} with {who}: {status}, expected {expected}")
            elif status in (401, 403):
                assert response.headers["content-type"] == "application/problem+json"
                assert response.json()["status"] == status
                assert response.headers["x-request-id"]
                if status == 401:
                    assert response.headers["www-authenticate"].startswith("Bearer")
    assert failures == []


def test_a_key_without_the_bearer_scheme_is_refused(keyed: TestClient[Litestar]) -> None:
    assert keyed.get("/v1/events", headers={"Authorization": "reader-key"}).status_code == 401
    assert keyed.get("/v1/events", headers={"Authorization": "Basic reader-key"}).status_code == 401
    assert (
        keyed.get("/v1/events", headers={"Authorization": "bearer reader-key"}).status_code == 200
    )


def test_the_key_and_the_payload_are_not_logged(
    keyed: TestClient[Litestar], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    payload = signal("payload-marker-4711")
    response = keyed.post(
        "/v1/events", json=payload, headers={"Authorization": "Bearer writer-key"}
    )
    assert response.status_code == 201
    keyed.get("/v1/events", headers={"Authorization": "Bearer wrong-key-0815"})
    access = [r for r in caplog.records if r.name == "tradewinds.access"]
    assert len(access) == 2
    text = caplog.text + "".join(str(getattr(r, "fields", "")) for r in caplog.records)
    for secret in ("writer-key", "wrong-key-0815", "payload-marker-4711"):
        assert secret not in text


def test_without_keys_every_route_is_open(tmp_path: Path) -> None:
    """The command line only listens on loopback then (tests/e2e/test_operations.py)."""
    with TestClient(create_app(Settings(data_dir=tmp_path / "data"))) as client:
        assert client.post("/v1/events", json=signal()).status_code == 201
        assert client.put("/v1/scenarios/x", json={}).status_code == 422


def test_the_openapi_document_states_the_bearer_scheme_and_each_scope(
    keyed: TestClient[Litestar],
) -> None:
    document = openapi_document(keyed.app)
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for (method, path), scope in EXPECTED_SCOPES.items():
        operation = document["paths"][path][method.lower()]
        if scope == PUBLIC:
            assert "security" not in operation, path
        else:
            assert operation["security"] == [{"bearer": [scope]}], (method, path)


class TestKeyList:
    def test_parses_scopes_from_commas_and_lines(self) -> None:
        keys = ApiKeys.parse("k1:read, k2:write\nk3:admin\n\n")
        assert keys == ApiKeys({"k1": Scope.read, "k2": Scope.write, "k3": Scope.admin})
        assert keys.scope_of(b"k2") == Scope.write
        assert keys.scope_of(b"k") is None
        assert keys.scope_of(b"k22") is None

    def test_a_key_may_contain_colons(self) -> None:
        assert ApiKeys.parse("a:b:c:admin").scope_of(b"a:b:c") == Scope.admin

    @pytest.mark.parametrize("text", ["k1", "k1:owner", ":read", "k 1:read"])
    def test_malformed_entries_are_refused_without_echoing_the_key(self, text: str) -> None:
        with pytest.raises(InvalidKeys) as raised:
            ApiKeys.parse(text)
        assert "k1" not in str(raised.value)
        assert "k 1" not in str(raised.value)

    def test_repr_never_shows_a_key(self) -> None:
        settings = Settings(api_keys=ApiKeys.parse("hunter2:admin"))
        assert "hunter2" not in repr(settings)

    def test_keys_come_from_the_environment_and_a_file(self, tmp_path: Path) -> None:
        secret = tmp_path / "keys"
        secret.write_text("from-file:admin\n")
        settings = settings_from_env(
            {"TRADEWINDS_API_KEYS": "inline:read", "TRADEWINDS_API_KEYS_FILE": str(secret)}
        )
        assert settings.api_keys.scope_of(b"inline") == Scope.read
        assert settings.api_keys.scope_of(b"from-file") == Scope.admin

    def test_an_unreadable_key_file_is_an_error(self, tmp_path: Path) -> None:
        with pytest.raises(InvalidKeys, match="TRADEWINDS_API_KEYS_FILE"):
            settings_from_env({"TRADEWINDS_API_KEYS_FILE": str(tmp_path / "missing")})


def test_a_read_only_key_does_not_wait_for_this_replicas_writes(tmp_path: Path) -> None:
    """Reads follow this replica's acknowledged writes, except with a read-only key:
    it has none of its own, so a dashboard polling with one is answered from what is
    applied instead of queueing behind heavy batches. Arranged: a commit acknowledged
    and not yet applied (the state the projection is in while it works through them)."""
    wait_s = 3.0
    settings = Settings(
        data_dir=tmp_path / "data", api_keys=ApiKeys(KEYS), read_your_writes_wait_s=wait_s
    )
    with TestClient(create_app(settings)) as client:
        log = client.app.state.tradewinds.eventlog
        posted = client.post(
            "/v1/events", json=signal(), headers={"Authorization": "Bearer writer-key"}
        )
        assert posted.status_code == 201
        assert log.index.reached(posted.json()["position"], 10)
        log.committer.last_position = log.index.position + 1
        took = {}
        for key in ("reader-key", "writer-key"):
            started = time.monotonic()
            response = client.get("/v1/forecasts", headers={"Authorization": f"Bearer {key}"})
            took[key] = time.monotonic() - started
            assert response.status_code == 200
        assert took["writer-key"] >= wait_s
        assert took["reader-key"] < wait_s


@pytest.mark.parametrize(
    ("header", "answer"),
    [
        (None, {"keys_required": True, "presented": False, "scope": None}),
        ("Bearer nobody-key", {"keys_required": True, "presented": True, "scope": None}),
        ("Bearer reader-key", {"keys_required": True, "presented": True, "scope": "read"}),
        ("Bearer writer-key", {"keys_required": True, "presented": True, "scope": "write"}),
        ("Bearer admin-key", {"keys_required": True, "presented": True, "scope": "admin"}),
    ],
)
def test_access_tells_a_client_what_its_key_may_do(
    keyed: TestClient[Litestar], header: str | None, answer: dict[str, object]
) -> None:
    headers = {"Authorization": header} if header else {}
    response = keyed.get("/v1/access", headers=headers)
    assert response.status_code == 200
    assert response.json() == answer


def test_without_keys_access_says_everything_is_open(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(data_dir=tmp_path / "data"))) as client:
        answer = client.get("/v1/access", headers={"Authorization": "Bearer anything"}).json()
    assert answer == {"keys_required": False, "presented": False, "scope": "admin"}
