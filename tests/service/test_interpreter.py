"""The served process shares the interpreter in short slices: CPU-bound worker
threads (projection, stream, backtest runner) hand it back to the event loop
every ``gil_switch_interval_s`` (at Python's 5 ms, reads during heavy batches
waited 70-300 ms at p99; BENCHMARKS.md, reads under load)."""

import subprocess
import sys
from collections.abc import Iterator

import pytest

from service.cli.serving import share_interpreter
from service.settings import InvalidSetting, Settings, settings_from_env


@pytest.fixture
def restore_interval() -> Iterator[None]:
    before = sys.getswitchinterval()
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def test_the_default_slice_is_a_millisecond() -> None:
    assert settings_from_env({}).gil_switch_interval_s == 0.001


def test_serving_sets_the_interpreter_slice(restore_interval: None) -> None:
    sys.setswitchinterval(0.005)
    share_interpreter(settings_from_env({"TRADEWINDS_GIL_SWITCH_INTERVAL_S": "0.002"}))
    assert sys.getswitchinterval() == pytest.approx(0.002)
    share_interpreter(Settings())
    assert sys.getswitchinterval() == pytest.approx(0.001)


@pytest.mark.parametrize("value", ["0", "-1", "0.5", "0.00001"])
def test_a_slice_out_of_range_is_refused_with_the_range(value: str) -> None:
    with pytest.raises(InvalidSetting, match=r"from 0\.0001 to 0\.1 seconds"):
        settings_from_env({"TRADEWINDS_GIL_SWITCH_INTERVAL_S": value})


def test_the_command_refuses_a_slice_out_of_range() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "service.cli.main", "serve"],
        env={"TRADEWINDS_GIL_SWITCH_INTERVAL_S": "2", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "invalid setting: TRADEWINDS_GIL_SWITCH_INTERVAL_S must be from" in done.stderr
