"""The interactive API docs (``/schema/docs``) of a real ``tradewinds serve`` with API
keys: public, every file they load is served by this server, and in a real headless
Chromium that may reach nothing but loopback they list the operations."""

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route, expect

from tests.e2e.helpers import http
from tests.e2e.test_dashboard import WAIT_MS, browser, page  # noqa: F401  (fixtures)
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e

DOCS = "/schema/docs"
KEYS = "docs-admin-key:admin"
TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("apidocs") / "data"
    with ServerProcess(data, env={"TRADEWINDS_API_KEYS": KEYS}) as server:
        yield server


def test_the_docs_are_public_and_load_only_files_of_this_server(keyed: ServerProcess) -> None:
    with http(keyed.base_url) as client:
        docs = client.get(DOCS)
        assert docs.status_code == 200, docs.text
        assert docs.headers["content-type"].startswith("text/html")
        urls = re.findall(r"""<(?:script|link)\b[^>]*?(?:src|href)=["']([^"']+)""", docs.text)
        assert len(urls) >= 3, urls
        for url in urls:
            assert url.startswith("/"), url
            assert not url.startswith("//"), url
            answer = client.get(url)
            assert answer.status_code == 200, url
            expected = TYPES[Path(urlsplit(url).path).suffix]
            assert answer.headers["content-type"].split(";")[0] == expected, url
            assert answer.content
        for path in ("/schema", "/schema/openapi.json"):
            assert client.get(path).json()["paths"]["/v1/log"], path
        assert client.get(f"{DOCS}/assets/swagger-editor.js").status_code == 404
        assert client.get("/v1/log").status_code == 401


def test_the_docs_list_the_operations_offline(keyed: ServerProcess, page: Page) -> None:  # noqa: F811
    """Every request that is not to loopback is blocked and recorded: there must be none."""
    outside: list[str] = []
    served: list[str] = []

    def only_loopback(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname in LOOPBACK:
            served.append(url)
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    page.context.route("**/*", only_loopback)
    page.goto(f"{keyed.base_url}{DOCS}")
    expect(page.get_by_text("/v1/events", exact=True).first).to_be_visible(timeout=WAIT_MS)
    log = page.locator(".opblock-summary", has_text="/v1/log").first
    expect(log).to_be_visible(timeout=WAIT_MS)
    log.click()
    expect(page.locator(".parameters").get_by_text("limit").first).to_be_visible(timeout=WAIT_MS)
    assert outside == []
    assert any("/schema/docs/assets/swagger-ui-bundle.js" in url for url in served), served
