"""``tradewinds calibrate --evaluate`` on the shipped history, at 80 columns."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HISTORY = Path(__file__).parents[2] / "service" / "demo" / "history.jsonl"


def tradewinds(data_dir: Path, *args: str) -> str:
    env = {**os.environ, "COLUMNS": "80", "TRADEWINDS_DATA_DIR": str(data_dir)}
    done = subprocess.run(
        [sys.executable, "-m", "service.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


def history_ids() -> set[str]:
    ids = set()
    for line in HISTORY.read_text().splitlines():
        record = json.loads(line)
        if isinstance(record, dict) and "opens_at" in (record.get("definition") or {}):
            ids.add(record["scenario_id"])
    return ids


def test_the_evaluation_table_fits_80_columns_and_scores_every_closed_scenario(
    tmp_path: Path,
) -> None:
    tradewinds(tmp_path, "import", "--history")
    out = tradewinds(tmp_path, "calibrate", "--evaluate")
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    rows = {}
    for line in lines:
        cells = [c.strip() for c in line.strip("│").split("│")]
        if len(cells) == 4 and cells[0] in history_ids():
            rows[cells[0]] = (float(cells[2]), float(cells[3]))
    assert set(rows) == history_ids()
    current = np.mean([r[0] for r in rows.values()])
    suggested = np.mean([r[1] for r in rows.values()])
    summary = " ".join(lines[-6:])
    printed = re.search(r"current factors (\S+), suggested (\S+) ", summary)
    assert printed is not None
    assert float(printed[1]) == pytest.approx(current, abs=1e-4)
    assert float(printed[2]) == pytest.approx(suggested, abs=1e-4)
    assert "95% bootstrap interval" in summary
    assert "of its stated weight" in summary
