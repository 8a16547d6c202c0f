"""The dashboard: ``GET /`` serves its page, ``/dashboard/...`` its modules and
stylesheet (plain ES modules, no build step; the files are in ``static/``).

Both are public (the page holds no data; it asks for a key when the API needs
one) and not part of the OpenAPI document. Every file is revalidated on each
load (``no-cache`` with the ETag and Last-Modified of a file response), so a new
version is picked up at once and an unchanged one costs a 304.
"""

from pathlib import Path

from litestar import Router, get
from litestar.datastructures import CacheControlHeader
from litestar.response import File
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from service.access import PUBLIC, needs

STATIC = Path(__file__).with_name("static")
REVALIDATE = CacheControlHeader(no_cache=True)
# Everything the page loads comes from this origin: no CDN, no external font.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
    "style-src 'self'; script-src 'self'; connect-src 'self'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@get("/", opt=needs(PUBLIC), include_in_schema=False, cache_control=REVALIDATE)
async def dashboard_page() -> File:
    return File(
        STATIC / "index.html",
        filename="index.html",
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
    )
    return [dashboard_page, assets]
