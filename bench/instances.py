"""Several instances, one company: two `appliance serve` on one PostgreSQL database beside one on
SQLite, in the same run, against the emulator enforcing Intuit's limits scaled as bench/push.py
scales them (3,000 requests a minute, 10 at once, 150 ms a request: its constants, burst and
sending code, imported).

- (a) One instance on SQLite with bench/push.py's 20 push workers; (b) two instances on one
  PostgreSQL database (a fresh one per run, on a cluster this benchmark starts: initdb/pg_ctl, as
  the tests' harness does), 10 workers each, JobRoutr's events sent to both in turn. For each,
  the same burst and the same measures as bench/push.py: QBO writes a minute in whole 60 s
  windows while a backlog remains (baseline: the limit), 429s over the burst (baseline: every
  request), records written twice and accepted events lost after the queue drained.
- Takeover: two instances again (a fresh database), a smaller burst sent to both; while a
  backlog remains, SIGKILL one of them. The seconds from the kill until every job it held (its
  running leases, read from the store right after the kill) is finished by the other. Baseline:
  the lease (push_lease_seconds), which bounds it: a dead instance's jobs are claimable once
  their lease runs out. Then the queue drains and the books are checked: 0 duplicates, 0 lost.

Both instances keep Intuit's limits together through the database (appliance/storage/limits.py),
so each is given the whole limit (qbo_requests_per_minute=3000, qbo_concurrent=10), as an
operator would set them.

    .venv/bin/python -m bench.instances [--quick]
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg

from appliance.emulator.app import EmulatorConfig
from appliance.emulator.limits import Limits
from bench.common import Result, machine
from bench.push import (
    CONCURRENT,
    LATENCY_MS,
    LIMIT,
    SETTINGS,
    WINDOW,
    WORKERS,
    Burst,
    Throughput,
    books_check,
    burst,
    cpu_seconds,
    drained_by,
    event_counts,
    send_alternately,
    throughput,
)
from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import Gateway, choose_default_accounts, running_gateway
from tests.harness.instances import Pair, two_instances
from tests.harness.postgres import USER, PostgresServer
from tests.harness.processes import wait_until

COMMAND = "python -m bench.instances"
HALF = WORKERS // 2  # each of the two instances: together as many workers as the one
QUICK_LEASE = 10.0  # --quick: push_lease_seconds for the takeover (the default is 60)
MARGIN = 5.0  # the takeover's target: within the lease and this many seconds
UNFINISHED = ("queued", "running", "waiting")  # job states still to be worked


def log(message: str) -> None:
    print(f"[instances] {message}", file=sys.stderr, flush=True)


def limits() -> Limits:
    return Limits(
        requests_per_minute=LIMIT, concurrent=CONCURRENT, latency_ms=LATENCY_MS, enforce=True
    )


def pair_settings(lease: float | None = None) -> dict[str, str]:
    settings = {**SETTINGS, "APPLIANCE_PUSH_WORKERS": str(HALF)}
    if lease is not None:
        settings["APPLIANCE_PUSH_LEASE_SECONDS"] = str(lease)
    return settings


# (a) and (b): the same burst through one instance on SQLite and two on PostgreSQL ---------------


@dataclass
class Measured:
    """bench/push.py's measurement, and what else the machine did meanwhile."""

    push: Throughput
    database_cores: float  # cores the PostgreSQL server used over the send and the drain
    load: float  # the machine's 1-minute load average at the end


def cpu_of_tree(root: int) -> float:
    """CPU seconds of a process and its children now (a PostgreSQL server's backends)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(stat.parent.name) == root or int(fields[1]) == root:
                total += cpu_seconds(int(stat.parent.name))
    return total


def postmaster(server: PostgresServer) -> int:
    return int((server.data / "postmaster.pid").read_text().split()[0])


def one_on_sqlite(plan: Burst, timeout: float) -> Measured:
    with (
        tempfile.TemporaryDirectory(prefix="bench-instances-") as base,
        RunningEmulator(EmulatorConfig(limits=limits())) as books,
        running_gateway(books, Path(base), **SETTINGS) as gateway,
    ):
        if not gateway.settings.database_url.startswith("sqlite"):
            raise RuntimeError("JRA_TEST_STORE chose PostgreSQL: unset it for this benchmark")
        choose_default_accounts(gateway)
        measured = throughput(books, gateway, plan, timeout)
        return Measured(measured, 0.0, os.getloadavg()[0])


def two_on_postgres(server: PostgresServer, plan: Burst, timeout: float) -> Measured:
    with (
        tempfile.TemporaryDirectory(prefix="bench-instances-") as base,
        RunningEmulator(EmulatorConfig(limits=limits())) as books,
        two_instances(books, Path(base), server, **pair_settings()) as pair,  # type: ignore[arg-type]
    ):
        choose_default_accounts(pair.a)
        before = cpu_of_tree(postmaster(server))
        measured = throughput(books, pair.a, plan, timeout, others=[pair.b])
        used = cpu_of_tree(postmaster(server)) - before
        seconds = measured.send_seconds + measured.drain_seconds
        return Measured(measured, used / seconds, os.getloadavg()[0])


# The takeover ------------------------------------------------------------------------------------


@dataclass
class Takeover:
    lease: float
    held: int  # jobs the killed instance held at the kill
    seconds: float  # from the kill until the last of them was finished by the other
    each: list[float]  # seconds until each was finished
    ended: dict[str, int]  # how many of them ended in each state
    accepted: int
    expected_writes: int
    requests: int
    throttled: int
    replays: int  # writes answered from the emulator's requestid memory (a retried write)
    duplicates: int
    missing: int
    not_done: dict[str, int]
    examples: list[str]


@contextmanager
def store_of(
    server: PostgresServer, gateway: Gateway
) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    """The instances' database, read directly (the benchmark's judge, not the appliance)."""
    name = urlsplit(gateway.settings.database_url).path.lstrip("/")
    with psycopg.connect(
        host="127.0.0.1", port=server.port, user=USER, password=server.password,
        dbname=name, autocommit=True,
    ) as connection:  # fmt: skip
        yield connection


def held_by(db: psycopg.Connection[tuple[Any, ...]], instance: str) -> list[int]:
    """Jobs running under the instance's leases (its workers own them as ``name@...``)."""
    rows = db.execute(
        "SELECT id FROM job WHERE state = 'running' AND lease_owner LIKE %s", (f"{instance}@%",)
    ).fetchall()
    return [int(row[0]) for row in rows]


def finished_after(
    db: psycopg.Connection[tuple[Any, ...]], jobs: list[int], killed: float
) -> tuple[list[float], dict[str, int]]:
    """Seconds from ``killed`` until each job left the states still to be worked, and how many
    ended in each state (``done``, else a question or a failure: said in the notes)."""
    at: dict[int, float] = {}
    ended: dict[str, int] = {}
    deadline = time.monotonic() + 600
    while len(at) < len(jobs):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(jobs) - len(at)} of the killed instance's jobs not finished")
        rows = db.execute(
            "SELECT id, state FROM job WHERE id = ANY(%s) AND state <> ALL(%s)",
            (jobs, list(UNFINISHED)),
        ).fetchall()
        now = time.perf_counter()
        for job, state in rows:
            if int(job) not in at:
                at[int(job)] = now - killed
                ended[str(state)] = ended.get(str(state), 0) + 1
        time.sleep(0.1)
    return sorted(at.values()), ended


def takeover(server: PostgresServer, plan: Burst, lease: float, timeout: float) -> Takeover:
    with (
        tempfile.TemporaryDirectory(prefix="bench-instances-") as base,
        RunningEmulator(EmulatorConfig(limits=limits())) as books,
        two_instances(books, Path(base), server, **pair_settings(lease)) as pair,  # type: ignore[arg-type]
        store_of(server, pair.a) as db,
    ):
        choose_default_accounts(pair.a)
        before = books.service.governor.stats
        zero = (before.requests, before.throttled, before.replays)
        accepted = send_alternately_now(pair, plan)
        wait_until(lambda: bool(held_by(db, "gateway-b")), timeout=60, what="b to hold jobs")
        pair.b.service.process.kill()  # SIGKILL: b ends mid-call, its leases left as they are
        killed = time.perf_counter()
        pair.b.service.process.wait()
        jobs = held_by(db, "gateway-b")  # b can change nothing now: exactly what it held
        log(f"killed b holding {len(jobs)} jobs (lease {lease:.0f} s); a finishes them")
        each, ended = finished_after(db, jobs, killed)
        log(f"a finished them {each[-1] if each else 0:.1f} s after the kill; draining")
        drained_by(pair.a, timeout)
        after = books.service.governor.stats
        duplicates, missing, examples = books_check(books, plan)
        counts = event_counts(pair.a)
    return Takeover(
        lease=lease,
        held=len(jobs),
        seconds=each[-1] if each else 0.0,
        each=each,
        ended=ended,
        accepted=accepted,
        expected_writes=plan.writes,
        requests=after.requests - zero[0],
        throttled=after.throttled - zero[1],
        replays=after.replays - zero[2],
        duplicates=duplicates,
        missing=missing,
        not_done={k: v for k, v in counts.items() if k != "done" and v},
        examples=examples,
    )


def send_alternately_now(pair: Pair, plan: Burst) -> int:
    started = time.perf_counter()
    accepted = asyncio.run(send_alternately([pair.a, pair.b], plan.sends))
    log(f"accepted {len(accepted)} events in {time.perf_counter() - started:.1f} s")
    return len(accepted)


# The benchmark -----------------------------------------------------------------------------------


def run(quick: bool = False) -> list[Result]:
    # Quick: one run each, a backlog of about one 60 s window (as bench/push.py --quick), and a
    # 10 s lease for the takeover. Full: two runs of each setup, interleaved, of two windows each,
    # and three takeovers at the default 60 s lease.
    runs, customers, products, invoices = (1, 3_600, 30, 60) if quick else (2, 6_000, 60, 120)
    takeovers, small, lease = (1, 1_500, QUICK_LEASE) if quick else (3, 3_000, 60.0)
    log(
        f"{runs} run(s) of {customers} customers, {products} products, {invoices} invoices; "
        f"{takeovers} takeover(s) of {small} customers, lease {lease:.0f} s; limit {LIMIT}/min, "
        f"{CONCURRENT} at once, {LATENCY_MS} ms per request; {machine()}"
    )
    started = time.perf_counter()
    one: list[Measured] = []
    two: list[Measured] = []
    taken: list[Takeover] = []
    server = PostgresServer()
    server.start()
    try:
        for i in range(runs):
            one.append(one_on_sqlite(burst(f"s{i}", customers, products, invoices), 900))
            log(f"SQLite run {i + 1}: writes/min {one[-1].push.writes_per_minute}")
            two.append(two_on_postgres(server, burst(f"p{i}", customers, products, invoices), 900))
            log(f"PostgreSQL run {i + 1}: writes/min {two[-1].push.writes_per_minute}")
        for i in range(takeovers):
            plan = burst(f"k{i}", small, 20, 20)
            taken.append(takeover(server, plan, lease, 900))
    finally:
        server.remove()
    log(f"done in {time.perf_counter() - started:.1f} s")
    return [
        *throughput_results("one instance on SQLite", one, f"push_workers={WORKERS}"),
        *throughput_results(
            "two instances on one PostgreSQL database", two, f"push_workers={HALF} each"
        ),
        *takeover_results(taken, quick),
    ]


def _row(
    measure: str, figure: float, baseline_name: str, baseline: float, **rest: object
) -> Result:
    return Result(
        benchmark="Instances",
        measure=measure,
        figure=figure,
        baseline_name=baseline_name,
        baseline=baseline,
        command=COMMAND,
        **rest,  # type: ignore[arg-type]
    )


def _how(setup: str, runs: list[Measured], workers: str, calls: float) -> str:
    pushes = [r.push for r in runs]
    database = (
        ", the PostgreSQL server " + ", ".join(f"{r.database_cores:.2f}" for r in runs)
        if any(r.database_cores for r in runs)
        else ""
    )
    return (
        f"{setup}, {workers}, qbo_requests_per_minute={LIMIT}, qbo_concurrent={CONCURRENT}; "
        f"emulator {LIMIT}/min and {CONCURRENT} at once (429 beyond), {LATENCY_MS} ms a "
        f"request. {len(runs)} burst(s) of {pushes[0].expected_writes} records (bench/push.py's "
        "burst), each drained "
        + ", ".join(f"{p.drain_seconds:.0f} s" for p in pushes)
        + f" after sending. {calls:.0f} QBO calls a minute (median): on average "
        f"{calls * LATENCY_MS / 1000 / WINDOW:.1f} of the {CONCURRENT} slots busy. Cores used "
        "while pushing: the appliance " + ", ".join(f"{p.appliance_cpu:.2f}" for p in pushes)
        + database + " (of the machine's " + str(os.cpu_count()) + "; load average at the end "
        + ", ".join(f"{r.load:.1f}" for r in runs) + "). " + machine() + "."
    )  # fmt: skip


def _gap(calls: float, throttled: int) -> str:
    if calls >= 0.9 * LIMIT:
        return "The calls used the budget; writes a minute are below it by the name lookups."
    return (
        f"Only {calls:.0f} calls a minute were made, with {throttled} answered 429, and on "
        f"average {calls * LATENCY_MS / 1000 / WINDOW:.1f} of the {CONCURRENT} slots were busy: "
        "the limits did not hold the push back, the workers did not keep the slots busy. The "
        "cores each process used are in the notes above; bench/stores.py compares one "
        "instance on each store."
    )


def throughput_results(setup: str, runs: list[Measured], workers: str) -> list[Result]:
    measured = [r.push for r in runs]
    writes = [w for m in measured for w in m.writes_per_minute]
    calls = [c for m in measured for c in m.calls_per_minute]
    whole = all(m.steady_seconds >= WINDOW for m in measured)
    requests = sum(m.requests for m in measured)
    throttled = sum(m.throttled for m in measured)
    duplicates = sum(m.duplicates for m in measured)
    lost = sum(m.missing + sum(m.not_done.values()) for m in measured)
    accepted = sum(m.accepted for m in measured)
    written = statistics.median(writes)
    how = _how(setup, runs, workers, statistics.median(calls))
    windowing = (
        f"{len(writes)} whole 60 s window(s) while a backlog remained, median."
        if whole
        else "The backlog lasted less than a whole 60 s window: the rate over what there was."
    )
    return [
        _row(
            f"{setup}: QBO writes a minute, sustained with a backlog",
            written,
            "the limit: requests a minute allowed per company",
            LIMIT,
            unit="/min",
            target=">= 0.9x the limit",
            met=whole and written >= 0.9 * LIMIT,
            runs=len(writes),
            notes=f"{windowing} {how}",
            samples={"writes_per_minute": writes, "calls_per_minute": calls},
            gap=_gap(statistics.median(calls), throttled),
        ),
        _row(
            f"{setup}: requests answered 429 over the burst",
            throttled,
            "every request the emulator received over the burst",
            requests,
            unit="requests",
            target="< 1% of requests (ratio < 0.01)",
            met=requests > 0 and throttled < 0.01 * requests,
            runs=len(measured),
            higher_is_better=False,
            notes="The emulator's own count; the ratio is the share.",
        ),
        _row(
            f"{setup}: records written twice in QBO",
            duplicates,
            "records the burst should leave in QBO",
            sum(m.expected_writes for m in measured),
            unit="records",
            target="0",
            met=duplicates == 0,
            runs=len(measured),
            higher_is_better=False,
            notes="The emulator's books after the queue drained, as bench/push.py counts them. "
            + "; ".join(e for m in measured for e in m.examples),
        ),
        _row(
            f"{setup}: accepted events lost",
            lost,
            "events accepted (202)",
            accepted,
            unit="events",
            target="0",
            met=lost == 0,
            runs=len(measured),
            higher_is_better=False,
            notes="Records of the burst missing from the emulator's books, and events not done "
            "(`appliance events` counts), after the queue drained.",
        ),
    ]


def takeover_results(taken: list[Takeover], quick: bool) -> list[Result]:
    lease = taken[0].lease
    seconds = statistics.median(t.seconds for t in taken)
    worst = max(t.seconds for t in taken)
    duplicates = sum(t.duplicates for t in taken)
    lost = sum(t.missing + sum(t.not_done.values()) for t in taken)
    how = (
        f"Two instances on one PostgreSQL database (push_workers={HALF} each), a burst of "
        f"{taken[0].expected_writes} records sent to both in turn; once the second held running "
        "jobs, SIGKILL; its jobs are the store's running jobs under its leases right after the "
        f"kill ({', '.join(str(t.held) for t in taken)} job(s)); each is finished when it leaves "
        "queued/running/waiting (the store read every 0.1 s), and ended "
        + "; ".join(", ".join(f"{n} {state}" for state, n in t.ended.items()) for t in taken)
        + ". push_lease_seconds="
        f"{lease:.0f}" + (" (--quick: the default 60 makes the run long)" if quick else "")
        + f". Worst of {len(taken)}: {worst:.1f} s. Writes replayed by requestid (a write the "
        f"killed instance had sent, sent again by the other): "
        + ", ".join(str(t.replays) for t in taken)
        + f"; 429s: {sum(t.throttled for t in taken)} of {sum(t.requests for t in taken)} "
        "requests."
    )  # fmt: skip
    return [
        _row(
            "takeover: seconds from SIGKILL of one of two instances until the other finished "
            "every job it held",
            seconds,
            "the lease (push_lease_seconds), which bounds it",
            lease,
            unit="s",
            target=f"<= the lease + {MARGIN:.0f} s",
            met=worst <= lease + MARGIN,
            runs=len(taken),
            higher_is_better=False,
            notes=how,
            samples={
                "seconds": [t.seconds for t in taken],
                "each": [x for t in taken for x in t.each],
            },
            gap=""
            if worst <= lease + MARGIN
            else "The jobs were claimable once their lease ran out; the rest is the other "
            "instance reaching them behind its backlog.",
        ),
        _row(
            "takeover: records written twice in QBO, SIGKILL included",
            duplicates,
            "records the bursts should leave in QBO",
            sum(t.expected_writes for t in taken),
            unit="records",
            target="0",
            met=duplicates == 0,
            runs=len(taken),
            higher_is_better=False,
            notes="The emulator's books after the other instance drained the queue. "
            + "; ".join(e for t in taken for e in t.examples),
        ),
        _row(
            "takeover: accepted events lost, SIGKILL included",
            lost,
            "events accepted (202) by either instance",
            sum(t.accepted for t in taken),
            unit="events",
            target="0",
            met=lost == 0,
            runs=len(taken),
            higher_is_better=False,
            notes="Events the killed instance had accepted count: they are in the shared store.",
        ),
    ]


def main(argv: list[str]) -> None:
    started = time.perf_counter()
    results = run(quick="--quick" in argv)
    print(json.dumps([r.as_dict() for r in results], indent=2))
    log(f"done in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
