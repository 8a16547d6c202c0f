"""The dashboard: ``GET /`` serves its page, ``/dashboard/...`` its modules and
stylesheet (plain ES modules, no build step; the files are in ``static/``).

Both are public (the page holds no data; it asks for a key when the API needs
one) and not part of the OpenAPI document. Every file is sent with
``Cache-Control: no-cache`` and an ETag of its content, and a request whose
``If-None-Match`` holds that ETag gets a 304: a new version is picked up at
once, an unchanged one costs an empty answer. (litestar's file responses carry
an ETag but do not answer ``If-None-Match`` themselves: the two hooks below do.)
"""

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

from litestar import Request, Response, Router, get
from litestar.datastructures import CacheControlHeader, ETag
from litestar.response import File
from litestar.response.file import ASGIFileResponse
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from service.access import PUBLIC, needs

STATIC = Path(__file__).with_name("static").resolve()
PAGE = STATIC / "index.html"
REVALIDATE = CacheControlHeader(no_cache=True)
# Everything the page loads comes from this origin: no CDN, no external font.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
    "style-src 'self'; script-src 'self'; connect-src 'self'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@lru_cache(maxsize=64)
def _content_etag(path: Path, mtime_ns: int, size: int) -> ETag:
    return ETag(value=hashlib.sha256(path.read_bytes()).hexdigest()[:24])


def _etag(request: Request[Any, Any, Any]) -> ETag | None:
    """The ETag of the file the request asks for (None if there is no such file)."""
    name = request.path_params.get("file_path")
    path = PAGE if name is None else (STATIC / str(name).lstrip("/")).resolve()
    if not path.is_relative_to(STATIC) or not path.is_file():
        return None
    stat = path.stat()
    return _content_etag(path, stat.st_mtime_ns, stat.st_size)


def _not_modified(request: Request[Any, Any, Any]) -> Response[None] | None:
    sent = request.headers.get("if-none-match")
    etag = _etag(request) if sent else None
    if etag is None or sent is None or etag.to_header() not in {t.strip() for t in sent.split(",")}:
        return None
    headers = {"etag": etag.to_header(), "cache-control": "no-cache"}
    return Response(None, status_code=304, headers=headers)


def _content_etag_header(response: Any) -> Any:
    """Send the ETag ``_not_modified`` compares with, instead of the one litestar
    makes from the file's path, size and mtime."""
    if isinstance(response, File | ASGIFileResponse):
        path = Path(response.file_path).resolve()
        stat = path.stat()
        response.etag = _content_etag(path, stat.st_mtime_ns, stat.st_size)
    return response


@get(
    "/",
    opt=needs(PUBLIC),
    include_in_schema=False,
    cache_control=REVALIDATE,
    before_request=_not_modified,
    after_request=_content_etag_header,
)
async def dashboard_page() -> File:
    return File(
        PAGE,
        filename=PAGE.name,
        media_type="text/html",
        content_disposition_type="inline",
        headers=SECURITY_HEADERS,
    )


def dashboard_routes() -> list[ControllerRouterHandler]:
    """The page and its static files, to add to the app's route handlers."""
    assets: Router = create_static_files_router(
        path="/dashboard",
        directories=[STATIC],
        name="dashboard",
        opt=needs(PUBLIC),
        cache_control=REVALIDATE,
        include_in_schema=False,
        before_request=_not_modified,
        after_request=_content_etag_header,
    )
    return [dashboard_page, assets]
