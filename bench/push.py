"""Push: JobRoutr events written to QuickBooks through the emulator enforcing Intuit's limits,
scaled up to 3,000 requests a minute (10 at once) with 150 ms per request, so a run stays short.

- Throughput: a burst of a few thousand distinct events (customer.created, with some
  product.created and invoice.created) sent as fast as the appliance accepts them; the emulator's
  own stats (``GET /_emulator/stats``), sampled five times a second, give QBO calls and writes in
  whole 60-second windows while a backlog remains (the limit is a sliding 60-second window, so a
  shorter slice could show a burst above it). Baseline: the limit itself.
- 429s, duplicates, lost: the emulator's 429 count against every request it received over the
  burst; after the queue drains, the emulator's books against what was accepted.
- Latency when idle: customer.created events one at a time, from the 202 to the moment the
  emulator stores the customer (its change hook, the one behind its webhooks). Baseline: the
  emulator's latency floor for one push, the calls it needs (a name lookup, then the create)
  x the emulator's 150 ms.

The appliance runs as installed (``appliance serve`` as its own process), with its own limiter set
to the same 3,000 a minute and 10 at once, and 20 push workers (the default 4 cannot use the
budget at 150 ms a call: each worker also reads and writes the store between its calls, so twice
as many workers as QuickBooks slots keep the slots busy). The emulator runs in a thread of this
process.

    .venv/bin/python -m bench.push [--quick]
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from appliance.emulator.app import EmulatorConfig
from appliance.emulator.limits import Limits
from appliance.sync.push import LOOKAHEAD
from bench.common import Result, machine
from tests.harness.bills import figured
from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import Gateway, choose_default_accounts, running_gateway
from tests.harness.processes import run_appliance, wait_until

# Test helpers, imported on purpose: the integration tests' way to start the service as installed
# (`appliance init`, `appliance serve` as its own process, connected, accounts imported).

LIMIT = 3_000  # requests a minute per company, emulator and appliance alike
CONCURRENT = 10  # requests at once per company (Intuit's)
LATENCY_MS = 150  # the emulator's answer time for every API request
WORKERS = 20  # push workers: twice the slots (each also spends time in the store)
CALLS_PER_CUSTOMER = 2  # customer.created when idle: a DisplayName lookup, then the create
WINDOW = 60.0  # the limit's sliding window, seconds
SENDERS = 16  # concurrent connections sending the burst
SAMPLE_EVERY = 0.2  # seconds between reads of the emulator's stats
COMMAND = "python -m bench.push"


def log(message: str) -> None:
    print(f"[push] {message}", file=sys.stderr, flush=True)


# The appliance's settings ------------------------------------------------------------------------


#: running_gateway's settings for this benchmark: its limits, and production push timing (the
#: tests' 0.2 s retry and 30 s dependency wait are for tests).
SETTINGS = {
    "APPLIANCE_PUSH_RETRY_SECONDS": "30",
    "APPLIANCE_PUSH_DEPENDENCY_WAIT_SECONDS": "86400",
    "APPLIANCE_PUSH_WORKERS": str(WORKERS),
    "APPLIANCE_QBO_REQUESTS_PER_MINUTE": str(LIMIT),
    "APPLIANCE_QBO_CONCURRENT": str(CONCURRENT),
}


# What JobRoutr sends ------------------------------------------------------------------------------


@dataclass
class Burst:
    """Distinct events in sending order and the records they must leave in QuickBooks."""

    sends: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    customers: list[str] = field(default_factory=list)  # DisplayNames
    products: list[str] = field(default_factory=list)  # item Names
    invoices: list[str] = field(default_factory=list)  # DocNumbers

    @property
    def calls(self) -> int:
        """QBO calls the burst needs at the least: a create for each record, and one name lookup
        for every LOOKAHEAD new customers or products (the appliance shares lookups)."""
        named = len(self.customers) + len(self.products)
        return self.writes + math.ceil(named / LOOKAHEAD)

    @property
    def writes(self) -> int:
        return len(self.customers) + len(self.products) + len(self.invoices)


def _doc(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return {"type": kind, "timestamp": stamp, "data": data}


def burst(tag: str, customers: int, products: int, invoices: int) -> Burst:
    """Products first, then customers, with an invoice after every few customers for a customer
    sent a while before it (so it seldom has to wait) and one or two of the products."""
    out = Burst()
    for i in range(products):
        name = f"Bench {tag} Product {i:03d}"
        data = {"id": f"prd_{tag}_{i}", "name": name, "type": "service", "price": f"{20 + i}.50"}
        out.sends.append((f"evt_{uuid.uuid4().hex}", _doc("product.created", data)))
        out.products.append(name)
    every = max(1, customers // max(1, invoices))
    for i in range(customers):
        name = f"Bench {tag} Customer {i:05d}"
        data = {"id": f"cus_{tag}_{i}", "company_name": name, "email": f"c{i}@bench.example"}
        out.sends.append((f"evt_{uuid.uuid4().hex}", _doc("customer.created", data)))
        out.customers.append(name)
        number = len(out.invoices)
        if i >= 50 and i % every == 0 and number < invoices:
            lines = [
                {"product_id": f"prd_{tag}_{(number + n) % products}", "quantity": "2",
                 "unit_price": "45.25", "description": f"visit {n}"}
                for n in range(1 + number % 2)
            ]  # fmt: skip
            doc_number = f"B{tag}-{number:05d}"
            data = {"id": f"inv_{tag}_{number}", "number": doc_number,
                    "customer_id": f"cus_{tag}_{i - 40}", "issue_date": "2026-11-25",
                    "lines": lines}  # fmt: skip
            out.sends.append((f"evt_{uuid.uuid4().hex}", _doc("invoice.created", figured(data))))
            out.invoices.append(doc_number)
    return out


def signed(gateway: Gateway, event_id: str, doc: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(doc)
    stamp = datetime.now(UTC)
    return body.encode(), {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": gateway.signer.sign(event_id, stamp, body),
        "content-type": "application/json",
    }


async def _send_all(
    gateway: Gateway, sends: list[tuple[str, dict[str, Any]]], senders: int = SENDERS
) -> list[str]:
    accepted: list[str] = []
    pending = iter(sends)

    async def sender(http: httpx.AsyncClient) -> None:
        for event_id, doc in pending:
            body, headers = signed(gateway, event_id, doc)
            response = await http.post("/webhooks/jobroutr", content=body, headers=headers)
            if response.status_code != 202:
                raise RuntimeError(f"{event_id} answered {response.status_code}: {response.text}")
            accepted.append(event_id)

    limits = httpx.Limits(max_connections=senders, max_keepalive_connections=senders)
    async with httpx.AsyncClient(base_url=gateway.base, limits=limits, timeout=60) as http:
        await asyncio.gather(*(sender(http) for _ in range(senders)))
    return accepted


async def send_alternately(
    gateways: Sequence[Gateway], sends: list[tuple[str, dict[str, Any]]]
) -> list[str]:
    """JobRoutr's events to several instances in turn (the i-th to gateways[i % n]), all at
    once, SENDERS connections in all."""
    n = len(gateways)
    parts = await asyncio.gather(
        *(_send_all(g, sends[i::n], max(1, SENDERS // n)) for i, g in enumerate(gateways))
    )
    return [event_id for part in parts for event_id in part]


# The emulator as the judge ------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    at: float  # time.perf_counter()
    requests: int  # every API request, 429s included
    throttled: int  # answered 429 for going over a limit
    writes: int  # writes QBO answered 200


class Sampler(threading.Thread):
    """Reads the emulator's stats over its control API every SAMPLE_EVERY seconds."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url + "/_emulator/stats"
        self.samples: list[Sample] = []
        self._done = threading.Event()

    def read(self, http: httpx.Client) -> Sample:
        stats = http.get(self.url).json()
        return Sample(time.perf_counter(), stats["requests"], stats["throttled"], stats["writes"])

    def run(self) -> None:
        with httpx.Client(timeout=10) as http:
            while not self._done.is_set():
                self.samples.append(self.read(http))
                self._done.wait(SAMPLE_EVERY)
            self.samples.append(self.read(http))

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=10)

    def at(self, when: float, value: Callable[[Sample], int]) -> float:
        """A counter at a moment, interpolated between the samples either side."""
        samples = self.samples
        for before, after in itertools.pairwise(samples):
            if before.at <= when <= after.at:
                share = (when - before.at) / (after.at - before.at) if after.at > before.at else 0
                return value(before) + share * (value(after) - value(before))
        return float(value(samples[-1] if when > samples[-1].at else samples[0]))

    def first(self, since: float, test: Callable[[Sample], bool]) -> float | None:
        return next((s.at for s in self.samples if s.at >= since and test(s)), None)


def admitted(sample: Sample) -> int:
    return sample.requests - sample.throttled


def books_check(books: RunningEmulator, plan: Burst) -> tuple[int, int, list[str]]:
    """Duplicates and missing records of the burst, from the emulator's books (control API)."""
    rows: dict[str, list[dict[str, Any]]] = {}
    with httpx.Client(base_url=f"{books.url}/_emulator/companies/{books.realm}", timeout=60) as c:
        for entity in ("Customer", "Item", "Invoice"):
            response = c.get(f"/{entity}")
            response.raise_for_status()
            rows[entity] = response.json()
    duplicates, missing, examples = 0, 0, []
    checks = (
        ("Customer", "DisplayName", plan.customers),
        ("Item", "Name", plan.products),
        ("Invoice", "DocNumber", plan.invoices),
    )
    for entity, key, expected in checks:
        found: dict[str, int] = {}
        for row in rows[entity]:
            # A second write of a customer would have to take the clash suffix: count it too.
            name = str(row.get(key, "")).removesuffix(" (customer)")
            found[name] = found.get(name, 0) + 1
        for name in expected:
            count = found.get(name, 0)
            if count == 0:
                missing += 1
                examples.append(f"missing {entity} {name!r}")
            elif count > 1:
                duplicates += count - 1
                examples.append(f"{count}x {entity} {name!r}")
    return duplicates, missing, examples[:5]


# The measurements ---------------------------------------------------------------------------------


@dataclass
class Throughput:
    calls_per_minute: list[float]  # per whole 60-second window with a backlog
    writes_per_minute: list[float]
    requests: int  # over the whole burst, until drained
    throttled: int
    accepted: int
    expected_writes: int
    writes: int
    duplicates: int
    missing: int
    not_done: dict[str, int]
    examples: list[str]
    send_seconds: float
    steady_seconds: float
    drain_seconds: float
    appliance_cpu: float  # cores used by the appliance's processes while pushing after the send
    emulator_cpu: float  # cores used by this process (the emulator's thread, mostly) meanwhile


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def event_counts(gateway: Gateway) -> dict[str, int]:
    listed = run_appliance("events", "--json", "--limit", "1", env=gateway.env)
    if listed.returncode != 0:
        raise RuntimeError(listed.stderr)
    return dict(json.loads(listed.stdout)["counts"])


def queue_depth(gateway: Gateway) -> int:
    response = gateway.http.get("/api/v1/status")
    response.raise_for_status()
    return int(response.json()["queue"]["depth"])


def drained_by(gateway: Gateway, timeout: float) -> None:
    """Wait for the queue to empty, asking the appliance once a second: a measurement must not
    load what it measures (its status answer counts the queue, a few milliseconds each)."""
    deadline = time.monotonic() + timeout
    while queue_depth(gateway) > 0:
        if time.monotonic() > deadline:
            raise AssertionError(f"the queue did not drain in {timeout:.0f} s")
        time.sleep(1.0)


def throughput(
    books: RunningEmulator,
    gateway: Gateway,
    plan: Burst,
    timeout: float,
    others: Sequence[Gateway] = (),
) -> Throughput:
    """The burst sent to ``gateway`` (and in turn to ``others``, instances on the same store)."""
    sampler = Sampler(books.url)
    sampler.start()
    wait_until(lambda: bool(sampler.samples), what="the first stats sample")
    zero = sampler.samples[-1]
    began = time.perf_counter()
    accepted = asyncio.run(send_alternately([gateway, *others], plan.sends))
    sent = time.perf_counter()
    log(f"accepted {len(accepted)} events in {sent - began:.1f} s; pushing")
    pids = [g.service.process.pid for g in (gateway, *others)]
    cpu_before = (sum(map(cpu_seconds, pids)), time.process_time())
    drained_by(gateway, timeout)
    drained = time.perf_counter()
    cpu_after = (sum(map(cpu_seconds, pids)), time.process_time())
    sampler.stop()
    last = sampler.samples[-1]

    # The steady part: from the burst's first QBO call until all but the last few writes are done
    # (then fewer jobs than workers are left and the rate falls for want of work, not budget).
    start = sampler.first(began, lambda s: admitted(s) > admitted(zero)) or began
    near_end = zero.writes + plan.writes - 2 * WORKERS
    end = sampler.first(start, lambda s: s.writes >= near_end) or drained
    windows = int((end - start) // WINDOW)
    calls, writes = [], []
    for i in range(windows):
        a, b = start + i * WINDOW, start + (i + 1) * WINDOW
        calls.append(sampler.at(b, admitted) - sampler.at(a, admitted))
        writes.append(sampler.at(b, lambda s: s.writes) - sampler.at(a, lambda s: s.writes))
    if not windows:  # too short a backlog: the rate over what there was, said so in the notes
        span = max(end - start, 1e-9)
        calls.append((sampler.at(end, admitted) - sampler.at(start, admitted)) * WINDOW / span)
        writes.append(
            (sampler.at(end, lambda s: s.writes) - sampler.at(start, lambda s: s.writes))
            * WINDOW
            / span
        )
    log(f"per 60 s window: calls {calls}, writes {writes}")
    duplicates, missing, examples = books_check(books, plan)
    counts = event_counts(gateway)
    not_done = {k: v for k, v in counts.items() if k != "done" and v}
    return Throughput(
        calls_per_minute=calls,
        writes_per_minute=writes,
        requests=last.requests - zero.requests,
        throttled=last.throttled - zero.throttled,
        accepted=len(accepted),
        expected_writes=plan.writes,
        writes=last.writes - zero.writes,
        duplicates=duplicates,
        missing=missing,
        not_done=not_done,
        examples=examples,
        send_seconds=sent - began,
        steady_seconds=end - start,
        drain_seconds=drained - sent,
        appliance_cpu=(cpu_after[0] - cpu_before[0]) / (drained - sent),
        emulator_cpu=(cpu_after[1] - cpu_before[1]) / (drained - sent),
    )


class Landed:
    """The emulator's change hook: when each customer was stored, by DisplayName."""

    def __init__(self, books: RunningEmulator) -> None:
        self.company = books.service.companies[books.realm]
        self.times: dict[str, float] = {}
        self.changed = threading.Condition()

    def __call__(self, realm: str, entity: str, rid: str, operation: str) -> None:
        if entity == "Customer" and operation == "Create":
            name = str(self.company.records["Customer"][rid]["DisplayName"])
            with self.changed:
                self.times[name] = time.perf_counter()
                self.changed.notify_all()

    def wait(self, name: str, timeout: float) -> float:
        with self.changed:
            if not self.changed.wait_for(lambda: name in self.times, timeout=timeout):
                raise RuntimeError(f"{name!r} did not reach the emulator in {timeout:.0f} s")
            return self.times[name]

    @contextmanager
    def hooked(self) -> Iterator[Landed]:
        self.company.listeners.append(self)
        try:
            yield self
        finally:
            self.company.listeners.remove(self)


def idle_latencies(books: RunningEmulator, gateway: Gateway, tag: str, count: int) -> list[float]:
    """Seconds from each 202 to the customer stored in the emulator, one event at a time."""
    latencies = []
    with Landed(books).hooked() as landed:
        for i in range(count):
            name = f"Bench {tag} Idle {i:03d}"
            event_id = f"evt_{uuid.uuid4().hex}"
            body, headers = signed(
                gateway, event_id, _doc("customer.created", {"id": f"cus_{tag}_idle_{i}",
                                                             "company_name": name})
            )  # fmt: skip
            response = gateway.http.post("/webhooks/jobroutr", content=body, headers=headers)
            accepted = time.perf_counter()
            if response.status_code != 202:
                raise RuntimeError(f"answered {response.status_code}: {response.text}")
            latencies.append(landed.wait(name, timeout=30) - accepted)
            time.sleep(0.3)  # let the worker finish its job and go idle again
    return latencies


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def wait_for_budget(sampler_url: str, timeout: float = 90.0) -> float:
    """After the burst the appliance's own 60-second window is full: wait until the emulator has
    admitted fewer than half the limit in the last minute, so no idle push waits for a slot."""
    started = time.perf_counter()
    history: list[tuple[float, int]] = []
    with httpx.Client(timeout=10) as http:
        while time.perf_counter() - started < timeout:
            stats = http.get(sampler_url + "/_emulator/stats").json()
            now = time.perf_counter()
            history.append((now, stats["requests"] - stats["throttled"]))
            # calls since the moment a window ago (or since we began watching)
            old = next((n for t, n in history if t >= now - WINDOW), history[0][1])
            recent = history[-1][1] - old
            if now - started >= 1 and recent < LIMIT / 2:
                return now - started
            time.sleep(0.5)
    return timeout


# The benchmark -----------------------------------------------------------------------------------


def run(quick: bool = False) -> list[Result]:
    # Sized so the backlog outlasts whole 60 s windows even at the full limit and about one call
    # a write: quick ~75 s (one window), full ~190 s (three).
    customers, products, invoices = (3_600, 30, 60) if quick else (9_000, 100, 200)
    idle = 30 if quick else 60
    tag = uuid.uuid4().hex[:6]
    plan = burst(tag, customers, products, invoices)
    limits = Limits(
        requests_per_minute=LIMIT, concurrent=CONCURRENT, latency_ms=LATENCY_MS, enforce=True
    )
    floor_ms = CALLS_PER_CUSTOMER * LATENCY_MS
    log(
        f"{len(plan.sends)} events ({customers} customers, {products} products, {invoices} "
        f"invoices; {plan.calls} QBO calls at the least), limit {LIMIT}/min, {CONCURRENT} at "
        f"once, {LATENCY_MS} ms per request, {WORKERS} push workers; {machine()}"
    )
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="bench-push-") as base,
        RunningEmulator(EmulatorConfig(limits=limits)) as books,
        running_gateway(books, Path(base), **SETTINGS) as gateway,
    ):
        choose_default_accounts(gateway)
        log(f"appliance ready in {time.perf_counter() - started:.1f} s")
        measured = throughput(books, gateway, plan, timeout=900)
        log(
            f"drained {measured.drain_seconds:.1f} s after sending; {measured.requests} requests, "
            f"{measured.throttled} answered 429, {measured.writes} writes "
            f"(expected {measured.expected_writes}); duplicates {measured.duplicates}, "
            f"missing {measured.missing}, not done {measured.not_done}; cores used meanwhile: "
            f"appliance {measured.appliance_cpu:.2f}, emulator {measured.emulator_cpu:.2f}"
        )
        waited = wait_for_budget(books.url)
        log(f"budget back after {waited:.1f} s; {idle} idle events one at a time")
        latencies = idle_latencies(books, gateway, tag, idle)
    log(f"done in {time.perf_counter() - started:.1f} s")
    return results(measured, latencies, floor_ms, plan)


def results(m: Throughput, latencies: list[float], floor_ms: float, plan: Burst) -> list[Result]:
    windows = len(m.writes_per_minute)
    writes = statistics.median(m.writes_per_minute)
    calls = statistics.median(m.calls_per_minute)
    whole = m.steady_seconds >= WINDOW
    setup = (
        f"Emulator limits: {LIMIT} requests/min and {CONCURRENT} at once per company (429 "
        f"beyond), {LATENCY_MS} ms per request; appliance: qbo_requests_per_minute={LIMIT}, "
        f"qbo_concurrent={CONCURRENT}, push_workers={WORKERS}, production retry timing. Burst: "
        f"{len(plan.customers)} customer.created, {len(plan.products)} product.created, "
        f"{len(plan.invoices)} invoice.created, sent over {SENDERS} connections in "
        f"{m.send_seconds:.0f} s (pushing meanwhile); drained {m.drain_seconds:.0f} s later. "
        f"{machine()}."
    )
    windowing = (
        f"Counted by the emulator (its /_emulator/stats, sampled every {SAMPLE_EVERY} s) in "
        f"{windows} whole 60 s window(s) from the burst's first QBO call while a backlog remained "
        f"({m.steady_seconds:.0f} s); median of the windows."
        if whole
        else f"The backlog lasted only {m.steady_seconds:.0f} s (< 60 s): the rate over that "
        "part, which a sliding 60 s limit lets run above the limit; not comparable."
    )
    per_write = calls / writes if writes else math.inf
    lost = m.missing + sum(m.not_done.values())
    return [
        Result(
            benchmark="Push",
            measure=f"QBO writes a minute, sustained with a backlog ({LATENCY_MS} ms/request)",
            figure=writes,
            baseline_name="the limit: requests a minute allowed per company",
            baseline=LIMIT,
            unit="/min",
            target=">= 0.9x the limit",
            met=whole and writes >= 0.9 * LIMIT,
            runs=windows,
            command=COMMAND,
            notes=f"{windowing} {per_write:.2f} calls per write here: a new customer or product "
            "is looked up by name before it is created (QBO has no upsert; a same-named record, "
            f"inactive ones included, is linked), and one lookup covers the next {LOOKAHEAD} "
            "queued names, so a backlog costs about one call a write. All calls (next row) are "
            f"the budget actually used. {setup}",
            samples={"writes_per_minute": m.writes_per_minute},
            gap="The backlog did not outlast a whole 60 s window: run without --quick."
            if not whole
            else f"The calls used the budget, but {per_write:.2f} calls a write leave room for "
            f"{LIMIT / per_write:.0f} writes a minute."
            if calls >= 0.9 * LIMIT
            else f"Only {calls:.0f} calls a minute were made (next row): the workers did not keep "
            "QuickBooks' slots busy; see the appliance's CPU in the setup above.",
        ),
        Result(
            benchmark="Push",
            measure="QBO calls a minute (every request admitted), sustained with a backlog",
            figure=calls,
            baseline_name="the limit: requests a minute allowed per company",
            baseline=LIMIT,
            unit="/min",
            target="0.9x to 1.0x the limit (uses the budget, never exceeds it)",
            met=whole and 0.9 * LIMIT <= calls <= LIMIT,
            runs=windows,
            command=COMMAND,
            notes=windowing,
            samples={"calls_per_minute": m.calls_per_minute},
        ),
        Result(
            benchmark="Push",
            measure="requests answered 429 over the whole burst",
            figure=m.throttled,
            baseline_name="every request the emulator received over the burst",
            baseline=m.requests,
            unit="requests",
            target="< 1% of requests (ratio < 0.01)",
            met=m.requests > 0 and m.throttled < 0.01 * m.requests,
            runs=1,
            command=COMMAND,
            higher_is_better=False,
            notes="From the emulator's stats (429s for going over a limit; none were injected). "
            f"The ratio is the share. {m.writes} writes answered 200 for "
            f"{m.expected_writes} records.",
        ),
        Result(
            benchmark="Push",
            measure="records written twice in QBO",
            figure=m.duplicates,
            baseline_name="records the burst should leave in QBO",
            baseline=m.expected_writes,
            unit="records",
            target="0",
            met=m.duplicates == 0,
            runs=1,
            command=COMMAND,
            higher_is_better=False,
            notes="After the queue drained, the emulator's books (/_emulator/companies/...): "
            "each customer DisplayName (with or without the clash suffix), item Name and "
            "invoice DocNumber of the burst counted; more than one is a duplicate. "
            + ("; ".join(m.examples) if m.examples else ""),
        ),
        Result(
            benchmark="Push",
            measure="accepted events lost (not in QBO after the queue drained)",
            figure=lost,
            baseline_name="events accepted (202)",
            baseline=m.accepted,
            unit="events",
            target="0",
            met=lost == 0,
            runs=1,
            command=COMMAND,
            higher_is_better=False,
            notes=f"Records of the burst missing from the emulator's books: {m.missing}; "
            f"events not done by the appliance (`appliance events` counts): {m.not_done or 0}.",
        ),
        *latency_results(latencies, floor_ms),
    ]


def latency_results(latencies: list[float], floor_ms: float) -> list[Result]:
    ms = [s * 1000 for s in latencies]
    how = (
        f"{len(ms)} customer.created events one at a time on an idle appliance (queue empty, "
        "the limiter's minute mostly free), 0.3 s apart; each from its 202 to the moment the "
        "emulator stored the customer (its change hook, in this process: no polling). The "
        f"floor is the emulator alone: {CALLS_PER_CUSTOMER} calls (DisplayName lookup, create) "
        f"x {LATENCY_MS} ms. The issue sets no number; the bars are this benchmark's."
    )
    out = []
    for share, bar in ((0.5, 1.5), (0.95, 2.0)):
        value = percentile(ms, share)
        out.append(
            Result(
                benchmark="Push",
                measure=f"p{share * 100:.0f} latency when idle, event accepted -> record in QBO",
                figure=value,
                baseline_name=f"emulator floor: {CALLS_PER_CUSTOMER} calls x {LATENCY_MS} ms",
                baseline=floor_ms,
                unit="ms",
                target=f"<= {bar}x the floor",
                met=value <= bar * floor_ms,
                runs=len(ms),
                command=COMMAND,
                higher_is_better=False,
                notes=how,
                samples={"latency_ms": ms},
            )
        )
    return out


def main(argv: list[str]) -> None:
    started = time.perf_counter()
    results_ = run(quick="--quick" in argv)
    print(json.dumps([r.as_dict() for r in results_], indent=2))
    log(f"done in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
