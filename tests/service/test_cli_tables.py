"""`tradewinds backtest` prints a table that fits the terminal: at 80 and at 120
columns no line is wider, nothing is cut to "…", every score is shown with three
decimals and a long scenario id is wrapped whole. Beneath it, in words wrapped to
the same width: the sentences the API serves as a backtest's summary, the Murphy
terms with what they mean, and each scenario's rules ranked by what they did."""

import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from forecasts.scoring import Scores
from forecasts.verdicts import verdicts
from service.cli.main import demo_lines, import_lines
from service.settings import Settings

LONG_ID = "a-rather-long-scenario-id-an-analyst-might-choose-for-h20-approval-2025"
WINDOW = ["--from", "2025-01-01T00:00:00Z", "--to", "2026-11-01T00:00:00Z", "--step", "P7D"]


def _with_a_long_id(lines: list[bytes]) -> list[bytes]:
    """The demo, plus a copy of one resolved scenario (and its resolution) under LONG_ID."""
    copies = []
    for line in lines:
        entry = msgspec.json.decode(line)
        if entry.get("scenario_id") == "us-h20-approval-2025":
            copies.append(msgspec.json.encode({**entry, "scenario_id": LONG_ID}))
    return [*lines, *copies]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tables") / "data"
    import_lines(Settings(data_dir=path), _with_a_long_id(demo_lines()))
    return path


def backtest(data_dir: Path, columns: int, json_path: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "service.cli.main", "backtest", "--data-dir", str(data_dir),
         *WINDOW, "--json", str(json_path)],
        env={"COLUMNS": str(columns), "PATH": "/usr/bin:/bin", "TERM": "dumb"},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def first_cells(table: str) -> str:
    """The scenario column, its folded pieces joined."""
    return "".join(
        line.split("│")[1].strip() for line in table.splitlines() if line.startswith("│")
    )


@pytest.mark.parametrize("columns", [80, 120])
def test_the_backtest_table_fits_the_terminal(data_dir: Path, tmp_path: Path, columns: int) -> None:
    table = backtest(data_dir, columns, tmp_path / "scores.json")
    scores = msgspec.json.decode((tmp_path / "scores.json").read_bytes())
    assert [len(line) for line in table.splitlines() if len(line) > columns] == []
    assert "…" not in table
    assert LONG_ID in first_cells(table)
    rows = [*scores["scenarios"], scores["overall"]]
    assert len(scores["scenarios"]) >= 5
    for row in rows:
        numbers = [f"{row['brier']:.3f}", f"{row['brier_prior']:.3f}", f"{row['log']:.3f}"]
        line = f"│ {numbers[0]} │ {numbers[1]} │ {row['skill']:+.3f} │ {numbers[2]} │"
        assert line in table, (line, table)
    overall = scores["overall"]
    assert f"ECE {overall['ece']:.3f}, sharpness {overall['sharpness']:.3f}" in table


def words(text: str) -> str:
    """The text with its wrapping undone: every run of white space one space."""
    return " ".join(text.split())


def phrase(name: str, interval: list[float]) -> str:
    lo, hi = interval
    if lo > 0:
        return f"Worse than {name}: "
    if hi < 0:
        return f"Better than {name}: "
    return f"Not distinguishable from {name}: "


def scenario_part(text: str, scenario_ids: list[str], index: int) -> str:
    """What the rules section says under scenario ``index`` (up to the next one)."""
    start = text.index(f"{scenario_ids[index]} (resolved ")
    following = scenario_ids[index + 1] if index + 1 < len(scenario_ids) else None
    end = text.index(f"{following} (resolved ", start) if following else len(text)
    return text[start:end]


@pytest.mark.parametrize("columns", [80, 120])
def test_beneath_the_table_the_scores_are_said_in_words(
    data_dir: Path, tmp_path: Path, columns: int
) -> None:
    output = backtest(data_dir, columns, tmp_path / "scores.json")
    raw = (tmp_path / "scores.json").read_bytes()
    scores = msgspec.json.decode(raw)
    assert [len(line) for line in output.splitlines() if len(line) > columns] == []
    text = words(output)
    overall = scores["overall"]
    served = msgspec.json.decode(raw, type=Scores).overall
    assert served is not None
    for sentence in verdicts(served):  # the very sentences the API serves as summary
        assert sentence in text, sentence
    assert phrase("always-50%", overall["vs_half_ci"]) in text
    assert phrase("the prior alone", overall["vs_prior_ci"]) in text
    assert ("fewer than 5 scenarios" in text) is overall["few_scenarios"]
    terms = overall["murphy"]
    assert f"pooled Brier {overall['brier_pooled']:.3f}" in text
    assert f"reliability {terms['reliability']:.3f} how far the forecasts were" in text
    assert f"resolution {terms['resolution']:.3f} how much the forecasts separated" in text
    assert f"uncertainty {terms['uncertainty']:.3f} the variance of the base rate" in text

    rules_text = text[text.index("What each rule did") :]
    ids = [s["scenario_id"] for s in scores["scenarios"]]
    for i, scenario in enumerate(scores["scenarios"]):
        part = scenario_part(rules_text, ids, i)
        rules = sorted(
            scenario["rules"], key=lambda r: (-r["delta_brier"], r["rule"])
        )  # ties by name
        best, worst = rules[0], rules[-1]
        assert best["delta_brier"] > 0.001 > -0.001 > worst["delta_brier"]  # the demo's
        assert f"helped {best['delta_brier']:+.3f} {best['rule']}" in part, part
        assert f"hurt {worst['delta_brier']:+.3f} {worst['rule']}" in part, part
        named = [r for r in rules if f" {r['rule']} " in f"{part} "]
        assert part.index(f" {best['rule']} ") < part.index(f" {worst['rule']} ")
        positions = [part.index(f" {r['rule']} ") for r in named]
        assert positions == sorted(positions), part  # the largest help first
        left_out = len(rules) - len(named)
        if left_out:
            assert f"and {left_out} more rule" in part


def test_the_same_backtest_over_the_same_log_gives_the_same_intervals(
    data_dir: Path, tmp_path: Path
) -> None:
    """The command line's bootstrap is seeded from the request and the log, not from
    the time it runs: run twice, the intervals are the same."""
    runs = []
    for name in ("one.json", "two.json"):
        backtest(data_dir, 120, tmp_path / name)
        runs.append(msgspec.json.decode((tmp_path / name).read_bytes())["overall"])
    assert runs[0]["brier_ci"] is not None
    keys = ("brier_ci", "skill_ci", "vs_prior_ci", "vs_half_ci")
    assert [runs[0][k] for k in keys] == [runs[1][k] for k in keys]
