"""`python -m bench.run NAME` measures some benchmarks: the others' rows of docs/performance.json
are kept (each with the date it was measured), not dropped from docs/PERFORMANCE.md."""

from __future__ import annotations

from typing import Any

from bench.common import Result
from bench.run import kept_and_fresh, previous_results, render

ORDER = ("imports", "push", "intake", "console", "instances")


def row(module: str, measure: str, at: str) -> Result:
    return Result(
        benchmark=module.title(), measure=measure, figure=1.0, baseline_name="the floor",
        baseline=2.0, unit="s", target="<= 1x", met=True, runs=1, command=f"bench.{module}",
        module=module, measured_at=at,
    )  # fmt: skip


def shown(results: list[Result]) -> list[tuple[str, str, str]]:
    return [(r.module, r.measure, r.measured_at) for r in results]


def test_a_run_of_some_benchmarks_keeps_the_others_rows_and_replaces_its_own() -> None:
    previous = [
        row("imports", "seconds", "2026-12-06 21:57"),
        row("push", "writes", "2026-12-06 21:57"),
        row("push", "a measure push no longer makes", "2026-12-06 21:57"),
        row("console", "first paint", "2026-12-06 21:57"),
    ]
    fresh = [row("instances", "takeover", "2026-12-07 18:30"), row("push", "writes", "2026-12-07")]
    merged = kept_and_fresh(previous, fresh, ORDER)
    assert shown(merged) == [
        ("imports", "seconds", "2026-12-06 21:57"),
        ("push", "writes", "2026-12-07"),
        ("console", "first paint", "2026-12-06 21:57"),
        ("instances", "takeover", "2026-12-07 18:30"),
    ]


def test_a_benchmark_that_failed_this_time_keeps_its_earlier_rows() -> None:
    previous = [row("push", "writes", "2026-12-06 21:57")]
    assert shown(kept_and_fresh(previous, [], ORDER)) == shown(previous)


def test_rows_written_before_rows_had_a_module_are_matched_by_their_benchmark_name() -> None:
    old: dict[str, Any] = {**row("imports", "seconds", "").as_dict(), "benchmark": "Import"}
    del old["module"], old["measured_at"], old["quick"]
    (loaded,) = previous_results([old], ORDER)
    assert loaded.module == "imports"
    merged = kept_and_fresh([loaded], [row("imports", "seconds", "2026-12-07")], ORDER)
    assert shown(merged) == [("imports", "seconds", "2026-12-07")]


def test_the_page_says_when_each_row_was_measured() -> None:
    quick = row("instances", "takeover", "2026-12-07 18:30")
    quick.quick = True
    page = render([row("push", "writes", "2026-12-06 21:57"), quick], [], ["instances"], 60)
    assert "| 2026-12-06 21:57 |" in page
    assert "| 2026-12-07 18:30 (--quick) |" in page
    assert "This run measured: instances. Rows of the other benchmarks are kept" in page
    alone = render([quick], [], ["instances"], 60)
    assert "kept from earlier runs" not in alone
