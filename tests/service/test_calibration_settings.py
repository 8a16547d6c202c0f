"""TRADEWINDS_CALIBRATION_LAMBDA and TRADEWINDS_CALIBRATION_MIN_SCENARIOS: read,
bounded, and a value out of bounds stops the command with exit 2 and the range."""

import subprocess
import sys
from datetime import datetime

import msgspec
import pytest
from litestar.testing import TestClient

from service.settings import InvalidSetting, Settings, settings_from_env
from service.web.app import create_app
from tests.service.calibrationdata import closed_world


def test_defaults_and_values_are_read() -> None:
    assert Settings().calibration_lambda == 1.0
    assert Settings().calibration_min_scenarios == 5
    read = settings_from_env(
        {"TRADEWINDS_CALIBRATION_LAMBDA": "0.25", "TRADEWINDS_CALIBRATION_MIN_SCENARIOS": "7"}
    )
    assert (read.calibration_lambda, read.calibration_min_scenarios) == (0.25, 7)


@pytest.mark.parametrize("value", ["0", "-1", "0.0009", "1001", "nan", "inf", "much"])
def test_a_lambda_out_of_bounds_is_refused_with_the_range(value: str) -> None:
    with pytest.raises(InvalidSetting, match=r"LAMBDA must be a number from 0\.001 to 1000"):
        settings_from_env({"TRADEWINDS_CALIBRATION_LAMBDA": value})


@pytest.mark.parametrize("value", ["1", "0", "1001", "2.5", "five"])
def test_min_scenarios_out_of_bounds_is_refused_with_the_range(value: str) -> None:
    with pytest.raises(
        InvalidSetting, match=r"MIN_SCENARIOS must be a whole number from 2 to 1000"
    ):
        settings_from_env({"TRADEWINDS_CALIBRATION_MIN_SCENARIOS": value})


@pytest.mark.parametrize(
    ("variable", "value"),
    [("TRADEWINDS_CALIBRATION_LAMBDA", "0"), ("TRADEWINDS_CALIBRATION_MIN_SCENARIOS", "1")],
)
def test_the_command_refuses_a_setting_out_of_bounds(variable: str, value: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "service.cli.main", "serve"],
        env={variable: value, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert f"invalid setting: {variable} must be" in done.stderr


def test_the_served_fit_uses_the_settings(settings: Settings) -> None:
    tuned = msgspec.structs.replace(settings, calibration_lambda=3.0, calibration_min_scenarios=7)
    with TestClient(create_app(tuned)) as client:
        world = closed_world(client, 6)
        body = client.get("/v1/calibration").json()
        assert (body["alpha"], body["n_scenarios"]) == (None, 6)
        world.scenario("seventh", "2025-08-01T00:00:00Z", 0.5)
        world.resolve("seventh", "no", "2025-08-01T00:00:00Z")
        body = client.get("/v1/calibration").json()
        as_of = datetime.fromisoformat(client.get("/v1/forecasts").json()["as_of"]).timestamp()
    recalibration, _, n = world.fit(at=as_of, lam=3.0, min_scenarios=7)
    assert recalibration is not None
    assert (body["n_scenarios"], body["lambda"]) == (n, 3.0) == (7, 3.0)
    assert body["alpha"] == pytest.approx(recalibration.alpha, abs=1e-9)
    assert body["beta"] == pytest.approx(recalibration.beta, abs=1e-9)
