"""`tradewinds backtest` prints a table that fits the terminal: at 80 and at 120
columns no line is wider, nothing is cut to "…", every score is shown with three
decimals and a long scenario id is wrapped whole."""

import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

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
