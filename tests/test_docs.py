"""The project's documents: docs/model.md's tables are the model's own numbers, and
nothing links outside the project (a user's clone has only what git tracks)."""

import math
import posixpath
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from forecasts.model import RuleMatches, RuleModel, ScenarioModel
from forecasts.points import Point, forecast_points

ROOT = Path(__file__).resolve().parents[1]
MODEL_MD = ROOT / "docs" / "model.md"
DAY = 86_400.0


def table_after(marker: str) -> list[list[str]]:
    """The body rows (cells stripped) of the Markdown table after ``<!-- ... marker -->``."""
    lines = MODEL_MD.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("<!--") and marker in line)
    rows: list[list[str]] = []
    for line in lines[start + 3 :]:  # the marker, the header, the rule
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def one_match(prior: float, bayes_factor: float, prior_strength: float = 10.0) -> Point:
    """The served point just after one full-weight match, timing none."""
    rule = RuleModel("r", math.log(bayes_factor), 0.0, None, 1.0)
    model = ScenarioModel(prior, prior_strength, 0.0, 1000 * DAY, False, (rule,))
    at = np.array([DAY])
    matches = RuleMatches(at, np.array([1]), at, np.array([np.inf]))
    return forecast_points(model, [matches], np.array([2 * DAY])).point(0)


def at_opening(prior: float, prior_strength: float) -> Point:
    model = ScenarioModel(prior, prior_strength, 0.0, 1000 * DAY, False, ())
    return forecast_points(model, [], np.array([0.0])).point(0)


def percent_range(bounds: tuple[float, float] | None) -> str:
    assert bounds is not None
    return f"{100 * bounds[0]:.1f}% to {100 * bounds[1]:.1f}%"


def test_the_bayes_factor_table_is_what_one_match_does() -> None:
    rows = table_after("bayes-factors")
    assert [row[0] for row in rows] == ["0.25", "0.5", "0.8", "1.25", "2", "3", "5", "10"]
    for factor, *cells in rows:
        expected = []
        for prior in (0.1, 0.3, 0.5):
            p = one_match(prior, float(factor)).probability
            assert p is not None
            expected.append(f"{100 * (p - prior):+.1f} pp")
        assert cells == expected, factor


def test_the_prior_interval_table_is_the_model_s() -> None:
    rows = table_after("prior-intervals")
    assert [row[0] for row in rows] == ["2", "10", "100", "1000"]
    for strength, *cells in rows:
        low, high = at_opening(0.2, float(strength)), at_opening(0.5, float(strength))
        expected = [
            percent_range(low.interval80), percent_range(low.interval95),
            percent_range(high.interval80), percent_range(high.interval95),
        ]  # fmt: skip
        assert cells == expected, strength


def test_the_timing_shape_table_is_the_model_s() -> None:
    rows = table_after("timing-shapes")
    assert [row[0] for row in rows] == ["0.5", "1", "2", "3"]
    for shape, *cells in rows:
        model = ScenarioModel(0.2, 10.0, 0.0, 1000 * DAY, True, (), timing_shape=float(shape))
        t = np.array([250.0, 500.0, 750.0, 900.0]) * DAY
        p = forecast_points(model, [], t).probability
        assert cells == [f"{100 * x:.1f}%" for x in p], shape


def test_the_group_example_is_the_model_s() -> None:
    """Three reports: two matched by one rule, one by the other (B = 2, r = 0.5 each)."""
    text = " ".join(MODEL_MD.read_text().split())
    at = np.array([1.0, 2.0, 3.0]) * DAY
    reports = [RuleMatches(at[[0, 2]], np.array([1, 3]), at[[0, 2]], np.full(2, np.inf))]
    reports.append(RuleMatches(at[[1]], np.array([2]), at[[1]], np.full(1, np.inf)))
    found = {}
    for group in (None, "steer"):
        rules = tuple(RuleModel(n, math.log(2.0), 0.0, None, 0.5, group) for n in "ab")
        model = ScenarioModel(0.2, 10.0, 0.0, 1000 * DAY, False, rules)
        point = forecast_points(model, reports, np.array([4 * DAY])).point(0)
        assert point.logit is not None
        assert point.probability is not None
        found[group] = (math.exp(point.logit - model.prior_logit), point.probability)
    alone, grouped = found[None], found["steer"]
    assert f"2^2.5 = {alone[0]:.2f} (20% to {100 * alone[1]:.1f}%)" in text
    assert f"2^1.75 = {grouped[0]:.2f} (20% to {100 * grouped[1]:.1f}%)" in text


def tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    return [ROOT / name for name in listed.decode().split("\0") if name]


def tracked_text_outside_tests() -> dict[str, str]:
    texts = {}
    for path in tracked_files():
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith("tests/") or not path.is_file():
            continue
        try:
            texts[relative] = path.read_text()
        except UnicodeDecodeError:
            continue
    return texts


@pytest.mark.parametrize("outside", ["../shared", "shared/design"])
def test_nothing_tracked_points_outside_the_project(outside: str) -> None:
    found = [name for name, text in tracked_text_outside_tests().items() if outside in text]
    assert found == []


LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_every_relative_link_in_the_documents_is_a_tracked_file() -> None:
    tracked = {path.relative_to(ROOT).as_posix() for path in tracked_files()}
    broken = []
    for name, text in tracked_text_outside_tests().items():
        if not name.endswith(".md"):
            continue
        for target in LINK.findall(text):
            path = target.split("#", 1)[0]
            if not path or re.match(r"^[a-z]+:", path):
                continue
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), path))
            if resolved not in tracked and not (ROOT / resolved).is_dir():
                broken.append(f"{name}: {target}")
    assert broken == []
