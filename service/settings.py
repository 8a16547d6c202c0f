"""Settings, read from the environment once, at start (and overridable from the command line)."""

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from msgspec import Struct, field

from service.access import ApiKeys, InvalidKeys


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
    # Replicas (README, "Running on PostgreSQL / two replicas locally").
    backtest_lease_s: float = 30.0
    # Backtests (README, "Backtests"): the most work one may ask for.
    backtest_max_work: int = 200_000_000
    # Access and operations (README, "Configuration"): keys, limits, logs, shutdown.
    api_keys: ApiKeys = field(default_factory=ApiKeys)
    max_body_bytes: int = 4 * 1024 * 1024
    max_header_bytes: int = 16 * 1024
    request_timeout_s: float = 30.0
    keep_alive_s: int = 5
    max_connections: int = 1000
    shutdown_timeout_s: int = 10
    commit_timeout_s: float = 10.0
    access_log: bool = True
    # Push (README, "The forecast stream" and "Alerts").
    stream_heartbeat_s: float = 15.0
    stream_horizon_positions: int = 10_000
    stream_replay_max_cuts: int = 2_000
    stream_max_queued: int = 1000
    stream_max_s: float = 3600.0
    stream_min_interval_s: float = 0.2
    """The notifier evaluates at most once per this interval while the index moves:
    under a run of records it coalesces them instead of evaluating after each turn."""
    webhook_allow_private: bool = False
    webhook_timeout_s: float = 10.0
    webhook_retry_base_s: float = 5.0
    webhook_retry_max_s: float = 3600.0
    webhook_max_attempts: int = 20
    webhook_lease_s: float = 60.0
    # Heavy reads (README, "Configuration"): forecasts off the event loop, bounded.
    heavy_read_slots: int = 2
    heavy_read_budget_s: float = 10.0
    history_max_cost: int = 20_000_000
    read_max_matches: int = 5_000_000
    # Calibration (README, "Configuration"; docs/calibration.md).
    calibration_lambda: float = 1.0
    calibration_min_scenarios: int = 5
    gil_switch_interval_s: float = 0.001
    """How long a thread may hold the interpreter before another may take it
    (``sys.setswitchinterval``; Python's default is 0.005). The projection, the
    stream and the backtest runner are CPU-bound threads: at 5 ms, a request on the
    event loop waited through several such slices and reads took 70-300 ms at p99
    during heavy batches; at 1 ms they take about 25 ms (BENCHMARKS.md)."""

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
    if env.get("TRADEWINDS_BACKTEST_LEASE_S"):
        values["backtest_lease_s"] = float(env["TRADEWINDS_BACKTEST_LEASE_S"])
    if env.get("TRADEWINDS_BACKTEST_MAX_WORK"):
        values["backtest_max_work"] = int(env["TRADEWINDS_BACKTEST_MAX_WORK"])
    values.update(_operations_from_env(env))
    values.update(_push_from_env(env))
    values.update(_heavy_reads_from_env(env))
    values.update(_calibration_from_env(env))
    return Settings(**values)  # type: ignore[arg-type]


def _operations_from_env(env: Mapping[str, str]) -> dict[str, object]:
    """Keys (inline, or from a file such as a mounted Kubernetes secret), limits, logs."""
    values: dict[str, object] = {}
    keys = env.get("TRADEWINDS_API_KEYS", "")
    if env.get("TRADEWINDS_API_KEYS_FILE"):
        try:
            keys += "\n" + Path(env["TRADEWINDS_API_KEYS_FILE"]).read_text()
        except OSError as e:
            msg = f"cannot read TRADEWINDS_API_KEYS_FILE: {e.strerror}"
            raise InvalidKeys(msg) from None
    if keys.strip():
        values["api_keys"] = ApiKeys.parse(keys)
    for name, parse in (
        ("max_body_bytes", int),
        ("max_header_bytes", int),
        ("request_timeout_s", float),
        ("keep_alive_s", int),
        ("max_connections", int),
        ("shutdown_timeout_s", int),
        ("commit_timeout_s", float),
    ):
        variable = f"TRADEWINDS_{name.upper()}"
        if env.get(variable):
            values[name] = parse(env[variable])
    if env.get("TRADEWINDS_ACCESS_LOG") == "0":
        values["access_log"] = False
    return values


def _push_from_env(env: Mapping[str, str]) -> dict[str, object]:
    """The forecast stream and alert webhooks."""
    values: dict[str, object] = {}
    for name, parse in (
        ("stream_heartbeat_s", float),
        ("stream_horizon_positions", int),
        ("stream_replay_max_cuts", int),
        ("stream_max_queued", int),
        ("stream_max_s", float),
        ("stream_min_interval_s", float),
        ("webhook_timeout_s", float),
        ("webhook_retry_base_s", float),
        ("webhook_retry_max_s", float),
        ("webhook_max_attempts", int),
        ("webhook_lease_s", float),
    ):
        variable = f"TRADEWINDS_{name.upper()}"
        if env.get(variable):
            values[name] = parse(env[variable])
    if env.get("TRADEWINDS_WEBHOOK_ALLOW_PRIVATE") == "1":
        values["webhook_allow_private"] = True
    return values


Number = TypeVar("Number", int, float)


class InvalidSetting(ValueError):
    """A ``TRADEWINDS_*`` variable outside what it allows."""


GIL_SWITCH_INTERVAL_S = (0.0001, 0.1)


def _heavy_reads_from_env(env: Mapping[str, str]) -> dict[str, object]:
    """How many heavy forecast reads run at once, for how long, and how big they may be;
    and how the interpreter shares itself between the event loop and the workers."""
    values: dict[str, object] = {}
    if env.get("TRADEWINDS_GIL_SWITCH_INTERVAL_S"):
        interval = float(env["TRADEWINDS_GIL_SWITCH_INTERVAL_S"])
        low, high = GIL_SWITCH_INTERVAL_S
        if not low <= interval <= high:
            msg = f"TRADEWINDS_GIL_SWITCH_INTERVAL_S must be from {low:g} to {high:g} seconds"
            raise InvalidSetting(msg)
        values["gil_switch_interval_s"] = interval
    for name, parse in (
        ("heavy_read_slots", int),
        ("heavy_read_budget_s", float),
        ("history_max_cost", int),
        ("read_max_matches", int),
    ):
        variable = f"TRADEWINDS_{name.upper()}"
        if env.get(variable):
            values[name] = parse(env[variable])
    return values


CALIBRATION_LAMBDA = (1e-3, 1e3)
CALIBRATION_MIN_SCENARIOS = (2, 1000)


def _calibration_from_env(env: Mapping[str, str]) -> dict[str, object]:
    """The ridge penalty lambda of the calibration fits and how many closed scenarios
    they need (model.md, "Calibration: learning from outcomes")."""
    values: dict[str, object] = {}
    if env.get("TRADEWINDS_CALIBRATION_LAMBDA"):
        low, high = CALIBRATION_LAMBDA
        lam = _number(
            "TRADEWINDS_CALIBRATION_LAMBDA", env, float, f"a number from {low:g} to {high:g}"
        )
        if not low <= lam <= high:
            msg = f"TRADEWINDS_CALIBRATION_LAMBDA must be a number from {low:g} to {high:g}"
            raise InvalidSetting(msg)
        values["calibration_lambda"] = lam
    if env.get("TRADEWINDS_CALIBRATION_MIN_SCENARIOS"):
        low_n, high_n = CALIBRATION_MIN_SCENARIOS
        allowed = f"a whole number from {low_n} to {high_n}"
        count = _number("TRADEWINDS_CALIBRATION_MIN_SCENARIOS", env, int, allowed)
        if not low_n <= count <= high_n:
            msg = f"TRADEWINDS_CALIBRATION_MIN_SCENARIOS must be {allowed}"
            raise InvalidSetting(msg)
        values["calibration_min_scenarios"] = count
    return values


def _number(
    variable: str, env: Mapping[str, str], parse: Callable[[str], Number], allowed: str
) -> Number:
    try:
        value = parse(env[variable])
    except ValueError:
        msg = f"{variable} must be {allowed}, not {env[variable]!r}"
        raise InvalidSetting(msg) from None
    return value
