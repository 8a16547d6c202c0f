"""Runs mutants of a module against its tests, each in a throwaway copy of the project.

The copy holds the project's packages without byte code, and pytest runs in it
with ``PYTHONDONTWRITEBYTECODE`` so a mutant is always compiled from its
source; the working tree is never touched.
"""

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tests.mutation.mutants import Mutant, mutants, mutated_source

Outcome = Literal["killed", "timeout", "survived"]
COPIED = ("domain", "forecasts", "service", "tests", "pyproject.toml")
PYTEST_ARGS = ("-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "--noconftest")
"""``--noconftest``: the core's tests need none of the service fixtures, and importing
the app costs seconds per mutant (a baseline run checks the tests pass without it)."""


@dataclass(frozen=True)
class Target:
    """A module and the tests that are its own (run in this order: its own first,
    so a mutant is killed early)."""

    module: str
    tests: tuple[str, ...]


@dataclass(frozen=True)
class Result:
    mutant: Mutant
    outcome: Outcome
    seconds: float


def sample(found: Sequence[Mutant], size: int | None, seed: int) -> list[Mutant]:
    """``size`` of the mutants, chosen with a fixed seed (all when ``size`` is None),
    in source order: the same source gives the same sample."""
    if size is None or size >= len(found):
        return list(found)
    chosen = sorted(random.Random(seed).sample(range(len(found)), size))
    return [found[i] for i in chosen]


def _copy_project(root: Path, into: Path, entries: Sequence[str]) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache")
    for entry in entries:
        source = root / entry
        if source.is_dir():
            shutil.copytree(source, into / entry, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, into / entry)


def _run_tests(
    workdir: Path, tests: Sequence[str], timeout: float, env: Mapping[str, str]
) -> Literal[0, 1, 2]:
    """0: the tests pass, 1: they fail, 2: they ran past ``timeout``."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", **env}
    command = [sys.executable, "-m", "pytest", *PYTEST_ARGS, *tests]
    process = subprocess.Popen(
        command,
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        return 0 if process.wait(timeout=timeout) == 0 else 1
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return 2


class Workspace:
    """One copy of the project, in which one mutant at a time is written and undone."""

    def __init__(self, root: Path, entries: Sequence[str]) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="mutation-"))
        _copy_project(root, self.dir, entries)

    def run(
        self, target: Target, source: str, tests_timeout: float, env: Mapping[str, str] = {}
    ) -> Literal[0, 1, 2]:
        path = self.dir / target.module
        original = path.read_text()
        try:
            path.write_text(source)
            return _run_tests(self.dir, target.tests, tests_timeout, env)
        finally:
            path.write_text(original)

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def baseline_seconds(root: Path, target: Target, entries: Sequence[str] = COPIED) -> float:
    """How long the unmutated tests take; raises when they do not pass."""
    workspace = Workspace(root, entries)
    try:
        started = time.monotonic()
        source = (root / target.module).read_text()
        code = workspace.run(target, source, tests_timeout=600)
        if code != 0:
            msg = f"the tests of {target.module} fail without a mutant: {' '.join(target.tests)}"
            raise RuntimeError(msg)
        return time.monotonic() - started
    finally:
        workspace.close()


def run_mutants(
    root: Path,
    target: Target,
    chosen: Sequence[Mutant],
    timeout: float,
    jobs: int = 1,
    entries: Sequence[str] = COPIED,
    report: Callable[[Result], None] | None = None,
    env: Mapping[str, str] = {},
) -> list[Result]:
    """Each mutant's outcome against ``target.tests``, in ``jobs`` copies at once
    (``env``: more environment for pytest)."""
    source = (root / target.module).read_text()
    workspaces = [Workspace(root, entries) for _ in range(max(1, jobs))]
    free = list(workspaces)

    def one(mutant: Mutant) -> Result:
        workspace = free.pop()
        try:
            started = time.monotonic()
            code = workspace.run(target, mutated_source(source, mutant), timeout, env)
            outcome: Outcome = ("survived", "killed", "timeout")[code]
            result = Result(mutant, outcome, time.monotonic() - started)
        finally:
            free.append(workspace)
        if report is not None:
            report(result)
        return result

    try:
        with ThreadPoolExecutor(max_workers=len(workspaces)) as pool:
            return list(pool.map(one, chosen))
    finally:
        for workspace in workspaces:
            workspace.close()


def all_mutants(root: Path, target: Target) -> list[Mutant]:
    return mutants((root / target.module).read_text())
