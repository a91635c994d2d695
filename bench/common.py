"""What every benchmark reports: a figure, the baseline measured beside it in the same run, the
ratio, the target, and whether it was met. Medians of several runs, because these machines are
shared and noisy; only ratios are compared with targets, never raw seconds.
"""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class Result:
    benchmark: str  # e.g. "Intake"
    measure: str  # e.g. "signed events committed per second"
    figure: float  # the appliance's median
    baseline_name: str  # what it is compared with
    baseline: float  # the baseline's median, same run
    unit: str
    target: str  # in words, e.g. ">= 0.25x the bare endpoint"
    met: bool
    runs: int
    command: str  # reproduces it
    higher_is_better: bool = True
    notes: str = ""
    #: When the target is missed: where the time or memory goes, as measured (profiles, counts).
    gap: str = ""
    samples: dict[str, list[float]] = field(default_factory=dict)
    #: Filled by bench/run.py: the benchmark module that measured it, when (UTC), and whether
    #: with --quick. A run of some benchmarks keeps the others' rows, so each row says its date.
    module: str = ""
    measured_at: str = ""
    quick: bool = False

    @property
    def ratio(self) -> float:
        if self.baseline == 0:
            return float("inf")
        return self.figure / self.baseline

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> Result:
        """A row of docs/performance.json back (``ratio`` is derived, so dropped)."""
        return cls(**{f.name: row[f.name] for f in fields(cls) if f.name in row})


def median_of(runs: int, measure: Callable[[], float]) -> tuple[float, list[float]]:
    samples = [measure() for _ in range(runs)]
    return statistics.median(samples), samples


def interleaved(
    runs: int, first: Callable[[], float], second: Callable[[], float]
) -> tuple[tuple[float, list[float]], tuple[float, list[float]]]:
    """Alternate the two measurements (A B A B ...), so drift on the machine hits both alike."""
    a: list[float] = []
    b: list[float] = []
    for _ in range(runs):
        a.append(first())
        b.append(second())
    return (statistics.median(a), a), (statistics.median(b), b)


def machine() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.platform()}"
    )
