"""Run the benchmarks and write docs/PERFORMANCE.md (and docs/performance.json, the raw runs).

    .venv/bin/python -m bench.run            # all, full size
    .venv/bin/python -m bench.run --quick    # all, smaller (minutes, not tens of minutes)
    .venv/bin/python -m bench.run intake     # some

Every figure is a ratio against a baseline measured in the same run, with medians of several
runs: the machines are shared and noisy, so raw seconds from different runs mean little.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench.common import Result, machine

ROOT = Path(__file__).resolve().parent.parent
#: Benchmark modules in the order the table shows them, each with run(quick) -> list[Result].
BENCHMARKS = ("imports", "push", "intake", "console", "stores")


def _fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def render(results: list[Result], missing: list[str], quick: bool, seconds: float) -> str:
    lines = [
        "# Performance",
        "",
        "Written by `python -m bench.run` "
        + ("(`--quick`: smaller runs) " if quick else "")
        + f"on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, in {seconds / 60:.1f} minutes.",
        "",
        f"Machine: {machine()}. Shared and noisy: every figure below is compared with a baseline",
        "measured in the same run, interleaved with it, as the median of several runs.",
        "",
        "| Benchmark | Measure | Appliance | Baseline | Ratio | Target | Met |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.benchmark} | {r.measure} | {_fmt(r.figure)} {r.unit} | "
            f"{_fmt(r.baseline)} {r.unit} ({r.baseline_name}) | {r.ratio:.2f} | {r.target} | "
            f"{'yes' if r.met else '**no**'} |"
        )
    lines += ["", "## How each was measured", ""]
    for r in results:
        lines += [
            f"**{r.benchmark}: {r.measure}.** {r.runs} runs; reproduce with `{r.command}`."
            + (f" {r.notes}" if r.notes else ""),
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
            results += module.run(quick=args.quick)
        except Exception as exc:  # one broken benchmark must not lose the others' figures
            traceback.print_exc()
            missing.append((name, f"the benchmark failed: {type(exc).__name__}: {exc}"))
    seconds = time.monotonic() - started
    args.out.write_text(render(results, missing, args.quick, seconds) + "\n", encoding="utf-8")
    args.out.with_name("performance.json").write_text(
        json.dumps([r.as_dict() for r in results], indent=2) + "\n", encoding="utf-8"
    )
    print(f"wrote {args.out}", file=sys.stderr)
    return 0 if all(r.met for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
