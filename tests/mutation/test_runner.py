"""The mutation runner makes mutants and tells a killed one from a survivor."""

from pathlib import Path

from tests.mutation.mutants import mutants, mutated_source
from tests.mutation.runner import Target, run_mutants, sample

SOURCE = '''"""A docstring is not mutated."""


def bigger(a: int | None, b: int) -> bool:
    return a > b


def scaled(x: float) -> float:
    return x * 2 + 0
'''


def test_mutants_cover_operators_constants_and_returns_but_not_docstrings_or_types() -> None:
    found = {(m.line, m.description) for m in mutants(SOURCE)}
    assert found == {
        (5, "> -> >="),
        (5, "return not ..."),
        (9, "* -> /"),
        (9, "+ -> -"),
        (9, "2 -> 3"),
        (9, "0 -> 1"),
    }
    (weaker,) = [m for m in mutants(SOURCE) if m.description == "> -> >="]
    assert "return a >= b" in mutated_source(SOURCE, weaker)
    first, again = (
        [(m.line, m.description) for m in sample(mutants(SOURCE), 3, seed=1)] for _ in range(2)
    )
    assert first == again
    assert len(first) == 3


def test_a_mutant_the_tests_notice_is_killed_and_one_they_miss_survives(tmp_path: Path) -> None:
    (tmp_path / "calc.py").write_text(SOURCE)
    (tmp_path / "test_calc.py").write_text(
        "from calc import bigger\n\ndef test_bigger():\n    assert bigger(2, 1)\n"
    )
    target = Target("calc.py", ("test_calc.py",))
    chosen = [m for m in mutants(SOURCE) if m.line == 5]
    results = run_mutants(
        tmp_path,
        target,
        chosen,
        timeout=60,
        jobs=2,
        entries=("calc.py", "test_calc.py"),
        env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )
    assert {r.mutant.description: r.outcome for r in results} == {
        "> -> >=": "survived",
        "return not ...": "killed",
    }
    assert (tmp_path / "calc.py").read_text() == SOURCE
