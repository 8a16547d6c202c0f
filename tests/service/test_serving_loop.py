"""The served process runs on uvloop with the httptools parser, and says so at startup
(issue 19: the loop's share of an append is only what it is on that stack; uvicorn's
``auto`` would fall back to asyncio's own loop without a word if uvloop were missing)."""

import asyncio
import json
from pathlib import Path
from typing import Any

import uvloop

from service.cli.serving import running_on, uvicorn_config
from service.settings import Settings
from tests.support.server import ServerProcess


async def _asgi(scope: Any, receive: Any, send: Any) -> None:
    """An ASGI app that answers nothing (uvicorn's config needs one to load)."""


def _loaded_config() -> Any:
    config = uvicorn_config(_asgi, Settings())
    config.load()
    return config


async def _running_on() -> dict[str, str]:
    return running_on(_loaded_config())


def test_the_check_tells_uvloop_from_asyncios_own_loop() -> None:
    assert asyncio.run(_running_on())["loop"].startswith("asyncio.")
    assert uvloop.run(_running_on()) == {"loop": "uvloop.Loop", "http": "httptools"}


def test_the_server_is_configured_for_uvloop_by_name() -> None:
    assert _loaded_config().loop == "uvloop"


def test_the_served_process_runs_on_uvloop_with_httptools(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with ServerProcess(tmp_path / "data", log_path=log):
        pass
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    said = [line for line in lines if line["logger"] == "service.serving" and "loop" in line]
    assert said, "the server did not say which loop it runs on"
    assert said[0]["loop"] == "uvloop.Loop"
    assert said[0]["http"] == "httptools"
