"""Exactly once under fire: thousands of JobRoutr events (creates, updates, invoices and their
updates, duplicates, out-of-order deliveries) while the service is killed with SIGKILL and
restarted, or while the emulator throws 5xx, HTML 503s, dropped connections, answers lost after
the write, and 429s.

The judge is the emulator's own books: every record exactly once, each in JobRoutr's latest
version, every invoice with the right customer, items and total; every acknowledged event done.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.emulator.app import EmulatorConfig
from appliance.emulator.limits import Limits
from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import Appliance, connected_appliance
from tests.harness.jobroutr import Sender, plan
from tests.harness.judge import check_books
from tests.harness.processes import wait_until
from tests.harness.store import queue_empty, webhook_secret

pytestmark = pytest.mark.slow


@pytest.fixture
def books() -> Iterator[RunningEmulator]:
    limits = Limits(requests_per_minute=6000, concurrent=10, batch_per_minute=600)
    with RunningEmulator(EmulatorConfig(limits=limits)) as emulator:
        yield emulator


@pytest.fixture
def appliance(books: RunningEmulator, tmp_path: Path) -> Iterator[Appliance]:
    with connected_appliance(books, tmp_path / "state") as running:
        yield running


@pytest.mark.timeout(900)
def test_two_thousand_events_through_ten_sigkills_apply_once_each_in_the_latest_version(
    books: RunningEmulator, appliance: Appliance
) -> None:
    story = plan(11, customers=220, products=60, invoices=460, total=2000, updated=120, paid=100)
    assert len(story.sends) == 2000
    sender = Sender(appliance.url, webhook_secret(appliance.settings), story.sends)
    sender.start()
    rng = random.Random(5)  # noqa: S311
    kills = 0
    while kills < 10:
        time.sleep(rng.uniform(1.0, 2.5))
        appliance.kill()
        kills += 1
        time.sleep(rng.uniform(0.0, 0.5))
        appliance.start()
    began = time.monotonic()
    sender.join(timeout=600)
    print(f"sent in {time.monotonic() - began:.1f}s after the kills; retries {sender.retries}")
    assert not sender.is_alive(), "the sender did not finish"
    assert not sender.refusals, sender.refusals[:5]
    assert len(sender.acknowledged) == len({event_id for event_id, _ in story.sends})
    began = time.monotonic()
    wait_until(lambda: queue_empty(appliance.settings), timeout=600, what="the queue to drain")
    print(f"drained in {time.monotonic() - began:.1f}s; stats {books.service.governor.stats}")
    appliance.stop()
    check_books(books, appliance.settings, story, sender.acknowledged)
    stats = books.service.governor.stats
    assert stats.peak_concurrency <= 10
    assert stats.throttled == 0, "the appliance went over the company's limits"


@pytest.mark.timeout(900)
def test_a_fault_storm_changes_nothing_and_no_limit_is_exceeded(
    books: RunningEmulator, appliance: Appliance
) -> None:
    governor = books.service.governor
    storm = [
        {"kind": "500", "probability": 0.04},
        {"kind": "503_html", "probability": 0.04},
        {"kind": "502", "probability": 0.02},
        {"kind": "drop", "probability": 0.04},
        {"kind": "drop_after", "probability": 0.06, "method": "POST"},
        {"kind": "429", "probability": 0.04},
        {"kind": "stall", "probability": 0.005, "stall_seconds": 8},
    ]
    for rule in storm:
        governor.add_rule({**rule, "count": None, "path_contains": "/v3/"})
    story = plan(23, customers=60, products=20, invoices=120, total=600)
    sender = Sender(appliance.url, webhook_secret(appliance.settings), story.sends)
    sender.start()
    sender.join(timeout=600)
    assert not sender.refusals, sender.refusals[:5]
    wait_until(lambda: queue_empty(appliance.settings), timeout=600, what="the queue to drain")
    hits = {rule.kind: rule.hits for rule in governor.rules}
    governor.clear_rules()
    appliance.stop()
    check_books(books, appliance.settings, story, sender.acknowledged)
    assert all(hits[kind] > 0 for kind in ("drop_after", "500", "429")), hits
    assert governor.stats.replays > 0, "a lost answer should have been replayed by requestid"
    assert governor.stats.peak_concurrency <= 10
    # Every 429 the emulator sent was one it was told to inject: none for going over a limit.
    assert governor.stats.throttled == 0
    assert governor.stats.by_status.get("429", 0) == hits["429"]
