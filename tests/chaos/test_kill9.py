"""kill -9 of the service 30 times during a 10,000-event push (customers, products, invoices with
tax and discounts, 600 invoice updates, 500 payments): no acknowledged event lost, no record twice
in QuickBooks, every invoice's lines, totals and Balance as JobRoutr last sent them; and the same
storm without requestid, to show why it is there.

While JobRoutr's events pour in (several senders at once, each retrying until acknowledged, as
JobRoutr does), the service is killed with SIGKILL at evenly spread points of the push and
started again, and the emulator loses the answer of some writes after doing them ("drop_after"):
QBO wrote, the appliance never learnt it. The judge is the emulator's own books
(tests/integration/test_push_chaos.py), which also counts what it finds, so the run without
requestid can say what went wrong instead of stopping at the first assertion.

What stands between a retried write and a second record: requestid, for every write; then QBO's
unique names (customers, items) and unique invoice numbers, which the appliance reads back. An
invoice without a number has only requestid. Limits are scaled up (emulator and appliance alike)
so 10,000 events fit CI time; the run is dominated by the appliance's own work, not by QBO.
"""

from __future__ import annotations

import random
import statistics
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from appliance.emulator.app import EmulatorConfig
from appliance.emulator.limits import Limits
from appliance.storage.store import Store
from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import Appliance, connected_appliance
from tests.harness.jobroutr import Plan, Sender, plan
from tests.harness.judge import Findings, judge
from tests.harness.processes import wait_until
from tests.harness.store import queue_empty, webhook_secret

pytestmark = pytest.mark.slow

PER_MINUTE = 30_000  # the emulator's and the appliance's limit alike: QBO is not the bottleneck
SCALED = {
    "APPLIANCE_QBO_REQUESTS_PER_MINUTE": str(PER_MINUTE),
    "APPLIANCE_QBO_BATCH_PER_MINUTE": "3000",
    "APPLIANCE_QBO_CONCURRENT": "10",
}
#: QBO does the write and the answer never arrives: exactly what requestid is for.
LOST_ANSWERS = {"kind": "drop_after", "probability": 0.03, "method": "POST", "count": None,
                "path_contains": "/v3/"}  # fmt: skip
SENDERS = 4


@pytest.fixture
def books() -> Iterator[RunningEmulator]:
    limits = Limits(requests_per_minute=PER_MINUTE, concurrent=10, batch_per_minute=3000)
    with RunningEmulator(EmulatorConfig(limits=limits)) as emulator:
        emulator.service.governor.add_rule(LOST_ANSWERS)
        yield emulator


@dataclass
class Run:
    """One push under kills: what was sent and acknowledged, the kills, the judge's findings."""

    story: Plan
    senders: list[Sender]
    kills: int = 0
    backlog: list[int] = field(default_factory=list)  # jobs queued or running at each kill
    seconds: float = 0.0
    findings: Findings | None = None
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def acknowledged(self) -> set[str]:
        return set().union(*(sender.acknowledged for sender in self.senders))

    def answered(self) -> int:
        return sum(sum(sender.statuses.values()) for sender in self.senders)

    def answers(self, status: int) -> int:
        return sum(sender.statuses.get(status, 0) for sender in self.senders)

    def line(self, label: str) -> str:
        assert self.findings is not None
        events = len({event_id for event_id, _ in self.story.sends})
        backlog = int(statistics.median(self.backlog)) if self.backlog else 0
        return (
            f"{label}: {len(self.story.sends)} sends ({events} events), acknowledged "
            f"{self.answers(202)}x202 + {self.answers(200)}x200, {self.kills} kills (median "
            f"backlog {backlog} jobs) in {self.seconds:.0f}s; QBO writes {self.stats['writes']}, "
            f"answers lost {self.stats['lost_answers']}, replayed {self.stats['replays']}, "
            f"400s {self.stats['by_status'].get('400', 0)}; {self.findings.summary()}"
        )


def by_record(sends: list[tuple[str, dict[str, Any]]], parts: int) -> list[list[Any]]:
    """The sends split among parallel senders, each record's events in one, in their order."""
    split: list[list[Any]] = [[] for _ in range(parts)]
    for send in sends:
        split[zlib.crc32(send[1]["data"]["id"].encode()) % parts].append(send)
    return split


def backlog(appliance: Appliance) -> int:
    store = Store.open(appliance.settings)
    try:
        queue = store.queue_info()
    finally:
        store.close()
    return queue.queued + queue.running + queue.waiting


def push_through_kills(
    books: RunningEmulator, appliance: Appliance, story: Plan, *, kills: int, seed: int
) -> Run:
    """Send the story while killing the service ``kills`` times, spread over the intake by
    progress (kill k once about k/(kills+1) of the sends are acknowledged, give or take), so
    a fast machine and a slow one both see every kill mid-push. Then let the queue drain."""
    began = time.monotonic()
    secret = webhook_secret(appliance.settings)
    parts = by_record(story.sends, SENDERS)
    run = Run(story, [Sender(appliance.url, secret, part) for part in parts])
    for sender in run.senders:
        sender.start()
    rng = random.Random(seed)  # noqa: S311 - a reproducible storm, not secrets
    total = len(story.sends)
    for k in range(1, kills + 1):
        mark = total * (k + rng.uniform(-0.3, 0.3)) / (kills + 1)
        wait_until(
            lambda mark=mark: run.answered() >= mark,
            timeout=300,
            what=f"{mark:.0f} acknowledged sends before kill {k}",
        )
        run.backlog.append(backlog(appliance))
        appliance.kill()
        run.kills += 1
        time.sleep(rng.uniform(0.0, 0.3))
        appliance.start()
    for sender in run.senders:
        sender.join(timeout=600)
    assert not any(sender.is_alive() for sender in run.senders), "a sender did not finish"
    wait_until(lambda: queue_empty(appliance.settings), timeout=600, what="the queue to drain")
    appliance.stop()
    run.seconds = time.monotonic() - began
    governor = books.service.governor
    run.stats = governor.stats.to_json() | {"lost_answers": governor.rules[0].hits}
    run.findings = judge(books, appliance.settings, story, run.acknowledged)
    return run


@pytest.mark.timeout(900)
def test_thirty_sigkills_during_ten_thousand_events_lose_nothing_and_write_nothing_twice(
    books: RunningEmulator, tmp_path: Path
) -> None:
    story = plan(
        31, customers=1200, products=150, invoices=4600, total=10_000, unnumbered=400,
        updated=600, paid=500,
    )  # fmt: skip
    assert len(story.sends) == 10_000
    with connected_appliance(books, tmp_path / "state", **SCALED) as appliance:
        run = push_through_kills(books, appliance, story, kills=30, seed=7)
    print("\n" + run.line("kill -9 x30, requestid on"))
    found = run.findings
    assert found is not None
    assert run.kills == 30
    assert not any(sender.refusals for sender in run.senders)
    assert len(run.acknowledged) == len({event_id for event_id, _ in story.sends})
    assert not found.lost, f"acknowledged events lost: {found.lost[:5]}"
    assert found.jobs == found.events, "a redelivery was queued twice"
    assert not found.not_done, list(found.not_done.items())[:5]
    for kind in ("customer", "product", "invoice", "payment"):
        assert found.duplicates(kind) == 0, f"{kind}s written twice"
        assert not found.missing(kind), f"{kind}s missing: {found.missing(kind)[:5]}"
    assert not found.wrong, found.wrong[:5]
    assert run.stats["lost_answers"] > 0
    assert run.stats["replays"] > 0, "a lost answer should have been replayed by requestid"
    assert run.stats["throttled"] == 0, "the appliance went over the company's limits"


@pytest.mark.timeout(600)
def test_without_requestid_the_same_storm_writes_invoices_twice(
    books: RunningEmulator, tmp_path: Path
) -> None:
    story = plan(47, customers=240, products=40, invoices=920, total=2000, unnumbered=400)
    with connected_appliance(
        books, tmp_path / "state", APPLIANCE_PUSH_REQUESTID="false", **SCALED
    ) as appliance:
        run = push_through_kills(books, appliance, story, kills=30, seed=8)
    print("\n" + run.line("kill -9 x30, requestid OFF"))
    found = run.findings
    assert found is not None
    assert run.stats["replays"] == 0, "no requestid, nothing to replay"
    # Intake does not depend on requestid: nothing acknowledged is lost either way.
    assert not found.lost
    assert found.jobs == found.events
    # QBO's unique names and numbers still keep customers, items and numbered invoices single...
    assert found.duplicates("customer") == 0
    assert found.duplicates("product") == 0
    numbered = {iid for iid, data in story.invoices.items() if "number" in data}
    assert all(found.copies["invoice"][iid] <= 1 for iid in numbered)
    # ...but an invoice QBO numbers itself has nothing else: a lost answer or a kill after the
    # write means a second invoice.
    assert found.duplicates("invoice") > 0
