"""Write the OpenAPI document generated from the code.

``python -m service.cli.openapi_export FILE``"""

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import msgspec

from service.settings import Settings
from service.web.app import create_app, openapi_document


def current_document() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as data_dir:
        return openapi_document(create_app(Settings(data_dir=Path(data_dir))))


def render(document: dict[str, Any]) -> str:
    """Stable, reviewable JSON (msgspec first: it knows datetimes and durations)."""
    return json.dumps(json.loads(msgspec.json.encode(document)), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    Path(sys.argv[1]).write_text(render(current_document()))
