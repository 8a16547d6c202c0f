"""What every benchmark shares: metrics, targets, statistics, scratch directories on disk."""

import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

# Scratch data goes to the real disk: /var/tmp is not cleared at boot and is not a tmpfs
# here (checked at run time, see ``filesystem_of``).
SCRATCH_PARENT = Path(os.environ.get("TRADEWINDS_BENCH_DIR", "/var/tmp"))
MEMORY_FILESYSTEMS = frozenset({"tmpfs", "ramfs", "overlay-tmpfs", "devtmpfs"})


@dataclass(frozen=True)
class Target:
    """What counts as good: ``value`` (or ``ratio``) at least ``minimum`` (with
    ``at_most``: at most it, for costs)."""

    minimum: float
    on: str = "ratio"  # "ratio" or "value"
    at_most: bool = False

    def met(self, metric: "Metric") -> bool | None:
        measured = metric.ratio if self.on == "ratio" else metric.value
        if measured is None:
            return None
        return measured <= self.minimum if self.at_most else measured >= self.minimum

    def describe(self, unit: str) -> str:
        sign = "<=" if self.at_most else ">="
        if self.on == "ratio":
            return f"ratio {sign} {self.minimum:g}"
        return f"{sign} {self.minimum:,.0f} {unit}"


@dataclass(frozen=True)
class Metric:
    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str | None = None
    targets: tuple[Target, ...] = ()
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline

    def met(self) -> bool | None:
        """Whether every target is met (None: no target, or nothing to compare)."""
        verdicts = [t.met(self) for t in self.targets]
        if not verdicts or None in verdicts:
            return None
        return all(verdicts)

    def as_json(self) -> dict[str, float | str | None]:
        ratio = self.ratio
        return {
            "value": round(self.value, 4),
            "unit": self.unit,
            "baseline": None if self.baseline is None else round(self.baseline, 4),
            "ratio": None if ratio is None else round(ratio, 4),
        }


@dataclass
class Context:
    """Passed to every benchmark: where to put data, how long to run, what came before."""

    scratch: Path
    quick: bool = False
    results: dict[str, Metric] = field(default_factory=dict)
    reports: list[str] = field(default_factory=list)  # tables printed after the metrics

    def value(self, name: str) -> float | None:
        metric = self.results.get(name)
        return None if metric is None else metric.value

    def reps(self, normal: int) -> int:
        return max(2, normal // 2) if self.quick else normal

    def seconds(self, normal: float) -> float:
        return normal / 2 if self.quick else normal


Benchmark = Callable[[Context], Sequence[Metric]]


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, round(q / 100 * len(sorted_values) + 0.5 - 1e-9))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


def filesystem_of(path: Path) -> tuple[str, str, str]:
    """(mount point, filesystem type, device) of the mount holding ``path``."""
    target = str(path.resolve())
    best = ("/", "?", "?")
    with Path("/proc/mounts").open() as mounts:
        for line in mounts:
            device, mount_point, fstype, *_ = line.split()
            inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
            if inside and len(mount_point) >= len(best[0]):
                best = (mount_point, fstype, device)
    return best


@contextmanager
def scratch_dir(parent: Path = SCRATCH_PARENT, *, keep: bool = False) -> Iterator[Path]:
    """A fresh directory on the real disk, removed afterwards."""
    parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="tradewinds-bench-", dir=parent))
    _, fstype, _ = filesystem_of(path)
    if fstype in MEMORY_FILESYSTEMS:
        shutil.rmtree(path)
        msg = f"{parent} is on {fstype}; set TRADEWINDS_BENCH_DIR to a directory on disk"
        raise RuntimeError(msg)
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_busy(seconds: float = 1.0) -> float:
    """How busy all CPUs are (0..1) over ``seconds``, from /proc/stat: other work on the
    machine disturbs every figure here, so the runner reports it."""

    def sample() -> tuple[int, int]:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = values[3] + values[4]  # idle + iowait
        return sum(values), idle

    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    return 1 - (idle1 - idle0) / max(1, total1 - total0)
