"""Interactive API docs at ``/schema/docs``: Swagger UI over the served OpenAPI
document, its script, stylesheet and icon sent from this server.

The files are the ones packaged in ``swagger-ui-py`` (a runtime dependency), so
the page works offline and loads nothing from a CDN (litestar's plugin would load
them, and its favicon, from one). Like the OpenAPI document, the page and its
files are public and not in the document themselves. Only the few files the page
loads are served, by name: any other name is a 404.
"""

from importlib.util import find_spec
from pathlib import Path
from typing import Annotated

from litestar import get
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.params import PathParameter
from litestar.response import File

from service.access import PUBLIC, needs

DOCS_PATH = "/docs"
"""Under the OpenAPI router (``/schema``)."""
ASSETS = "/schema/docs/assets"
_FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-standalone-preset.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}
_CACHE = CacheControlHeader(public=True, max_age=3600)


def swagger_ui_dir() -> Path:
    """The package's directory of Swagger UI files, found without importing the package
    (its ``__init__`` loads adapters for other web frameworks)."""
    spec = find_spec("swagger_ui")
    if spec is None or spec.origin is None:
        msg = "the swagger-ui-py package is not installed"
        raise RuntimeError(msg)
    return Path(spec.origin).parent / "static"


def docs_plugin() -> SwaggerRenderPlugin:
    return SwaggerRenderPlugin(
        path=DOCS_PATH,
        js_url=f"{ASSETS}/swagger-ui-bundle.js",
        css_url=f"{ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{ASSETS}/favicon-32x32.png'>",
    )


def docs_assets() -> HTTPRouteHandler:
    """The route that sends the page's files."""
    directory = swagger_ui_dir()

    @get(
        f"{ASSETS}/{{name:str}}",
        opt=needs(PUBLIC),
        include_in_schema=False,
        cache_control=_CACHE,
        sync_to_thread=False,
    )
    def docs_asset(name: Annotated[str, PathParameter()]) -> File:
        media_type = _FILES.get(name)
        if media_type is None:
            raise NotFoundException(f"no file {name!r} in the API docs")
        return File(directory / name, media_type=media_type, content_disposition_type="inline")

    return docs_asset
