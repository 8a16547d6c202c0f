"""The dashboard: ``GET /`` serves its page, ``/dashboard/...`` its modules and
stylesheet (plain ES modules, no build step; the files are in ``static/``).

Both are public (the page holds no data; it asks for a key when the API needs
one) and not part of the OpenAPI document. Every file is sent with
``Cache-Control: no-cache`` and an ETag of its content, and a request whose
``If-None-Match`` holds that ETag gets a 304: a new version is picked up at
once, an unchanged one costs an empty answer. (litestar's file responses carry
an ETag but do not answer ``If-None-Match`` themselves: the two hooks below do.)
A path that names no file is a 404 before litestar's file handler sees it: a
NUL byte in it made that handler raise (a 500 with a traceback).
"""

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

from litestar import Request, Response, Router, get
from litestar.datastructures import CacheControlHeader, ETag
from litestar.exceptions import NotFoundException
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


def _requested(request: Request[Any, Any, Any]) -> Path | None:
    """The file the request asks for, if there is one in ``STATIC`` (a name the file
    system cannot take, such as one with a NUL byte or too long, names no file)."""
    name = request.path_params.get("file_path")
    if name is None:
        return PAGE
    try:
        path = (STATIC / str(name).lstrip("/")).resolve()
        return path if path.is_relative_to(STATIC) and path.is_file() else None
    except (OSError, ValueError):
        return None


def _etag(path: Path) -> ETag:
    stat = path.stat()
    return _content_etag(path, stat.st_mtime_ns, stat.st_size)


def _existing_or_not_modified(request: Request[Any, Any, Any]) -> Response[None] | None:
    """404 unless the file exists (before litestar's file handler touches the path),
    304 if the client's ``If-None-Match`` holds its ETag, else None: send it."""
    path = _requested(request)
    if path is None:
        raise NotFoundException
    sent = request.headers.get("if-none-match")
    if sent is None:
        return None
    etag = _etag(path)
    if etag.to_header() not in {t.strip() for t in sent.split(",")}:
        return None
    headers = {"etag": etag.to_header(), "cache-control": "no-cache"}
    return Response(None, status_code=304, headers=headers)


def _content_etag_header(response: Any) -> Any:
    """Send the ETag ``_existing_or_not_modified`` compares with, instead of the one litestar
    makes from the file's path, size and mtime."""
    if isinstance(response, File | ASGIFileResponse):
        response.etag = _etag(Path(response.file_path).resolve())
    return response


@get(
    "/",
    opt=needs(PUBLIC),
    include_in_schema=False,
    cache_control=REVALIDATE,
    before_request=_existing_or_not_modified,
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
        before_request=_existing_or_not_modified,
        after_request=_content_etag_header,
    )
    return [dashboard_page, assets]
