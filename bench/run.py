"""Run the benchmarks and write docs/PERFORMANCE.md (and docs/performance.json, the raw runs).

    .venv/bin/python -m bench.run            # all, full size
    .venv/bin/python -m bench.run --quick    # all, smaller (minutes, not tens of minutes)
    .venv/bin/python -m bench.run intake     # some: the others' rows are kept, with their date

Every figure is a ratio against a baseline measured in the same run, with medians of several
runs: the machines are shared and noisy, so raw seconds from different runs mean little. A run
of some benchmarks replaces their rows in docs/performance.json and keeps the others' (each row
says when it was measured), so the page always shows every benchmark.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import Result, machine

ROOT = Path(__file__).resolve().parent.parent
#: Benchmark modules in the order the table shows them, each with run(quick) -> list[Result].
BENCHMARKS = ("imports", "push", "intake", "console", "stores", "instances")


def _fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def previous_results(rows: list[dict[str, Any]], order: Sequence[str]) -> list[Result]:
    """The rows of an earlier docs/performance.json. Rows written before rows named their module
    are matched by their benchmark's name ("Import" is bench/imports.py)."""
    results = []
    for row in rows:
        result = Result.from_dict(row)
        if not result.module:
            name = result.benchmark.lower()
            result.module = next((m for m in order if m.startswith(name)), name)
        results.append(result)
    return results


def kept_and_fresh(
    previous: list[Result], fresh: list[Result], order: Sequence[str]
) -> list[Result]:
    """This run's rows, and the earlier rows of every benchmark that gave none this time (not
    run, or failed), in the order of ``order`` (unknown modules last)."""
    measured = {r.module for r in fresh}
    rows = [r for r in previous if r.module not in measured] + fresh
    place = {name: i for i, name in enumerate(order)}
    return sorted(rows, key=lambda r: place.get(r.module, len(order)))  # stable within a module


def _when(r: Result) -> str:
    return (r.measured_at or "an earlier run") + (" (--quick)" if r.quick else "")


def render(
    results: list[Result], missing: list[tuple[str, str]], ran: list[str], seconds: float
) -> str:
    lines = [
        "# Performance",
        "",
        f"Written by `python -m bench.run` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, in "
        f"{seconds / 60:.1f} minutes. This run measured: {', '.join(ran)}."
        + (
            " Rows of the other benchmarks are kept from earlier runs."
            if {r.module for r in results} - set(ran)
            else ""
        )
        + " The Measured column says when each row was (UTC); `--quick` marks the smaller runs.",
        "",
        f"Machine of this run: {machine()}. Shared and noisy: every figure below is compared",
        "with a baseline measured in the same run, interleaved with it, as the median of several "
        "runs.",
        "",
        "| Benchmark | Measure | Appliance | Baseline | Ratio | Target | Met | Measured |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.benchmark} | {r.measure} | {_fmt(r.figure)} {r.unit} | "
            f"{_fmt(r.baseline)} {r.unit} ({r.baseline_name}) | {r.ratio:.2f} | {r.target} | "
            f"{'yes' if r.met else '**no**'} | {_when(r)} |"
        )
    lines += ["", "## How each was measured", ""]
    for r in results:
        lines += [
            f"**{r.benchmark}: {r.measure}.** {r.runs} runs on {_when(r)}; reproduce with "
            f"`{r.command}`." + (f" {r.notes}" if r.notes else ""),
            "",
        ]
    missed = [r for r in results if not r.met]
    if missed:
        lines += ["## Targets missed, and why", ""]
        for r in missed:
            lines.append(
                f"- **{r.benchmark}: {r.measure}** ({r.target}; here {r.ratio:.2f}). "
                + (r.gap or "The cause has not been measured yet.")
            )
        lines.append("")
    if missing:
        lines += [
            "## Not measured in this run",
            "",
            *[f"- {name}: {why}" for name, why in missing],
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"some of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "PERFORMANCE.md")
    args = parser.parse_args(argv)
    names = args.names or list(BENCHMARKS)
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"no benchmark named {', '.join(unknown)}; choose from {BENCHMARKS}")
    started = time.monotonic()
    results: list[Result] = []
    missing: list[tuple[str, str]] = []
    for name in names:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"bench.{name}":
                raise
            missing.append((name, "no benchmark yet (see the issue tracker)"))
            continue
        print(f"== {name}", file=sys.stderr, flush=True)
        try:
            measured = module.run(quick=args.quick)
        except Exception as exc:  # one broken benchmark must not lose the others' figures
            traceback.print_exc()
            missing.append(
                (name, f"the benchmark failed: {type(exc).__name__}: {exc} (rows shown for it "
                 "are from an earlier run)")
            )  # fmt: skip
            continue
        at = f"{datetime.now(UTC):%Y-%m-%d %H:%M}"
        for result in measured:
            result.module, result.measured_at, result.quick = name, at, args.quick
        results += measured
    seconds = time.monotonic() - started
    raw = args.out.with_name("performance.json")
    earlier = json.loads(raw.read_text(encoding="utf-8")) if raw.exists() else []
    rows = kept_and_fresh(previous_results(earlier, BENCHMARKS), results, BENCHMARKS)
    args.out.write_text(render(rows, missing, names, seconds) + "\n", encoding="utf-8")
    raw.write_text(json.dumps([r.as_dict() for r in rows], indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0 if all(r.met for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
