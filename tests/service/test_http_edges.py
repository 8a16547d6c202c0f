"""HTTP at the edges, in process: HEAD on every GET route, a complete Allow, a request
without Host, and client input (a NUL byte, a name too long) that never becomes a 500
or a logged traceback."""

import asyncio
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import TestClient

from service.access import ApiKeys, Scope
from service.settings import Settings
from service.web.app import create_app

KEYS = {"edge-reader": Scope.read, "edge-admin": Scope.admin}
# Differ between two answers of the same resource.
VOLATILE = {"x-request-id", "date", "content-length", "etag", "last-modified"}


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient[Litestar]]:
    # The forecast stream ends after stream_max_s, so a GET on it answers.
    settings = Settings(data_dir=tmp_path_factory.mktemp("edges") / "data", stream_max_s=0.1)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient[Litestar]]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("keyed-edges") / "data",
        api_keys=ApiKeys(KEYS),
        stream_max_s=0.1,
    )
    with TestClient(create_app(settings)) as client:
        yield client


def concrete(template: str, value: str = "some-thing") -> str:
    path = re.sub(r"\{\w+:uuid\}", "00000000-0000-4000-8000-000000000000", template)
    return re.sub(r"\{[^}]+\}", value, path)


def routes(app: Litestar) -> dict[str, set[str]]:
    """Every route path (as litestar writes it) and its methods."""
    found: dict[str, set[str]] = {}
    for route in app.routes:
        assert isinstance(route, HTTPRoute)
        found.setdefault(route.path, set()).update(route.methods)
    return found


def get_paths(app: Litestar) -> list[str]:
    return sorted(concrete(path) for path, methods in routes(app).items() if "GET" in methods)


def test_head_answers_every_get_route_like_get_without_a_body(
    app_client: TestClient[Litestar],
) -> None:
    paths = get_paths(app_client.app)
    assert "/v1/forecasts" in paths
    for path in paths:
        got = app_client.get(path)
        head = app_client.head(path)
        assert (path, head.status_code) == (path, got.status_code)
        assert head.content == b"", path
        same = {k: v for k, v in got.headers.items() if k not in VOLATILE}
        assert {k: v for k, v in head.headers.items() if k not in VOLATILE} == same, path


@pytest.mark.parametrize("path", ["/v1/forecasts", "/health/live", "/", "/dashboard/app.js"])
def test_head_sends_the_length_get_would_send(app_client: TestClient[Litestar], path: str) -> None:
    got = app_client.get(path)
    head = app_client.head(path)
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(got.content))
    assert head.content == b""


def test_head_on_the_forecast_stream_answers_its_headers_and_ends(
    app_client: TestClient[Litestar],
) -> None:
    head = app_client.head("/v1/forecasts/stream")
    assert head.status_code == 200
    assert head.headers["content-type"].startswith("text/event-stream")
    assert head.content == b""


@pytest.mark.timeout(60)
def test_head_on_an_endless_stream_ends_after_the_headers(tmp_path: Path) -> None:
    """With the stream's default lifetime (an hour) the answer still ends at once."""
    with TestClient(create_app(Settings(data_dir=tmp_path / "data"))) as client:
        head = client.head("/v1/forecasts/stream")
        assert (head.status_code, head.content) == (200, b"")
        assert client.get("/health/live").status_code == 200


def test_head_needs_the_scope_get_needs(keyed: TestClient[Litestar]) -> None:
    reader = {"Authorization": "Bearer edge-reader"}
    assert keyed.head("/v1/forecasts").status_code == 401
    assert keyed.head("/v1/forecasts", headers=reader).status_code == 200
    assert keyed.get("/v1/alerts", headers=reader).status_code == 403
    refused = keyed.head("/v1/alerts", headers=reader)
    assert (refused.status_code, refused.content) == (403, b"")
    assert keyed.head("/health/live").status_code == 200


def test_the_access_log_says_head(
    app_client: TestClient[Litestar], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="tradewinds.access"):
        assert app_client.head("/v1/forecasts").status_code == 200
    lines = [r for r in caplog.records if r.name == "tradewinds.access"]
    assert [r.getMessage() for r in lines] == ["HEAD /v1/forecasts 200"]


def allow(value: str) -> set[str]:
    return {m.strip() for m in value.split(",")}


def test_options_lists_every_method_of_the_path(app_client: TestClient[Litestar]) -> None:
    for template, methods in routes(app_client.app).items():
        answer = app_client.options(concrete(template, "app.js"))  # a dashboard file too
        expected = methods | {"OPTIONS"} | ({"HEAD"} if "GET" in methods else set())
        assert (template, answer.status_code) == (template, 204)
        assert (template, allow(answer.headers["allow"])) == (template, expected)
    assert allow(app_client.options("/v1/events").headers["allow"]) == {
        "GET",
        "HEAD",
        "OPTIONS",
        "POST",
    }


def test_options_needs_no_key(keyed: TestClient[Litestar]) -> None:
    answer = keyed.options("/v1/alerts/some-alert")
    assert answer.status_code == 204
    assert allow(answer.headers["allow"]) == {"DELETE", "GET", "HEAD", "OPTIONS", "PUT"}
    assert keyed.get("/v1/alerts/some-alert").status_code == 401


def test_a_405_allows_head_where_it_allows_get(app_client: TestClient[Litestar]) -> None:
    refused = app_client.delete("/v1/forecasts")
    assert refused.status_code == 405
    assert allow(refused.headers["allow"]) == {"GET", "HEAD", "OPTIONS"}


def call(app: Litestar, scope: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """One request straight into the ASGI app (the test client always sends Host)."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    base = {"type": "http", "scheme": "http", "root_path": "", "query_string": b""}
    asyncio.run(app({**base, **scope}, receive, send))  # type: ignore[arg-type]
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], headers, body


@pytest.mark.parametrize(
    "headers",
    [[], [(b"host", b"a.example"), (b"host", b"b.example")]],
    ids=["no Host", "two Host"],
)
def test_an_http_1_1_request_needs_exactly_one_host(
    tmp_path: Path, headers: list[tuple[bytes, bytes]]
) -> None:
    app = create_app(Settings(data_dir=tmp_path / "data"))
    scope = {"method": "GET", "path": "/nope", "http_version": "1.1", "headers": headers}
    status, answer_headers, body = call(app, scope)
    assert status == 400
    assert answer_headers["content-type"] == "application/problem+json"
    assert "Host" in json.loads(body)["detail"]
    # HTTP/1.0 may leave Host out: routed as usual (here: no such route)
    assert call(app, {**scope, "http_version": "1.0", "headers": []})[0] == 404
    assert call(app, {**scope, "headers": [(b"host", b"a.example")]})[0] == 404


NASTY = ["%00", "a%00b", "x" * 300, "%FF%FE", "..%2F..%2Fetc%2Fpasswd", "%2e%2e"]


@pytest.mark.parametrize("name", NASTY)
def test_a_dashboard_path_that_names_no_file_is_404_without_a_traceback(
    app_client: TestClient[Litestar], caplog: pytest.LogCaptureFixture, name: str
) -> None:
    with caplog.at_level(logging.INFO):
        plain = app_client.get(f"/dashboard/{name}")
        conditional = app_client.get(f"/dashboard/{name}", headers={"If-None-Match": '"x"'})
        head = app_client.head(f"/dashboard/{name}")
    assert [plain.status_code, conditional.status_code, head.status_code] == [404, 404, 404]
    assert plain.headers["content-type"] == "application/problem+json"
    assert [
        r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR
    ] == []


def test_no_client_input_on_any_route_is_a_500_or_a_logged_traceback(
    app_client: TestClient[Litestar], caplog: pytest.LogCaptureFixture
) -> None:
    """Every route, each path parameter (or, without one, the query) given each of NASTY."""
    failures = []
    with caplog.at_level(logging.INFO):
        for template, methods in routes(app_client.app).items():
            for method in sorted(methods - {"OPTIONS"}):
                for value in NASTY:
                    path = concrete(template, value)
                    if path == template:
                        path += f"?limit={value}&known_at={value}&after={value}"
                    body = {"x": "\x00"} if method in ("POST", "PUT") else None
                    answer = app_client.request(method, path, json=body)
                    if answer.status_code >= 500:
                        failures.append((method, path, answer.status_code))
    logged = [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert (failures, logged) == ([], [])
