"""Settings, read from the environment once, at start (and overridable from the command line)."""

import os
from pathlib import Path

from msgspec import Struct, field


class Settings(Struct, kw_only=True, frozen=True):
    data_dir: Path = Path("data")
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    group_commit_max_jobs: int = 1000
    read_your_writes_wait_s: float = 2.0
    poll_interval_s: float = 0.25
    tick_seconds: float = 60.0
    min_position_wait_s: float = 2.0
    history_max_points: int = 20_000
    benchmark_routes: bool = False
    freeze_after_catch_up: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "tradewinds.sqlite3"


def settings_from_env(environ: dict[str, str] | None = None) -> Settings:
    """Settings from ``TRADEWINDS_*`` variables; unset ones keep their defaults."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    if "TRADEWINDS_DATA_DIR" in env:
        values["data_dir"] = Path(env["TRADEWINDS_DATA_DIR"])
    if env.get("TRADEWINDS_DATABASE_URL"):
        values["database_url"] = env["TRADEWINDS_DATABASE_URL"]
    if "TRADEWINDS_HOST" in env:
        values["host"] = env["TRADEWINDS_HOST"]
    if "TRADEWINDS_PORT" in env:
        values["port"] = int(env["TRADEWINDS_PORT"])
    if "TRADEWINDS_POLL_INTERVAL_S" in env:
        values["poll_interval_s"] = float(env["TRADEWINDS_POLL_INTERVAL_S"])
    if "TRADEWINDS_TICK_SECONDS" in env:
        values["tick_seconds"] = float(env["TRADEWINDS_TICK_SECONDS"])
    if "TRADEWINDS_MIN_POSITION_WAIT_S" in env:
        values["min_position_wait_s"] = float(env["TRADEWINDS_MIN_POSITION_WAIT_S"])
    if env.get("TRADEWINDS_BENCHMARK_ROUTES") == "1":
        values["benchmark_routes"] = True
    return Settings(**values)  # type: ignore[arg-type]
