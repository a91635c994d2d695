"""Every benchmark under bench/ still imports: the benchmarks reach into the appliance's and the
test harness's modules, which a reshape can move (bench/intake.py once stopped importing when a
function it used was renamed, and nothing noticed)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
MODULES = sorted(p.stem for p in BENCH.glob("*.py") if p.stem != "__init__")


def test_the_benchmarks_are_found() -> None:
    assert {"intake", "imports", "push", "run"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_each_benchmark_imports(name: str) -> None:
    importlib.import_module(f"bench.{name}")
