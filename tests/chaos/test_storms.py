"""QuickBooks fault storms during an import and during a push: everything completes, nothing twice,
and the appliance never goes over the company's limits.

A storm is a list of the emulator's fault rules (``/_emulator/faults``), tried in order on each
API request. Rules with a count and probability 1 take consecutive requests, so they make the
shapes random faults seldom do: a burst of 429s in a row, a 30-second stall (the answer comes,
late), HTML 503 pages back to back. Rules without a count then keep a rain of 5xx, dropped
connections and lost answers going until the end. The appliance runs with its production timeout
(60 s, so a 30-second stall is waited out, as it would be against QBO) and with back-off shortened
so the run fits CI.

The judge is the emulator: its books (every active record imported once; every pushed record
once, in its latest version), and its stats: no 429 beyond the injected ones, never more than 10
requests at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.emulator.app import EmulatorConfig
from appliance.emulator.limits import FaultRule, Limits
from appliance.storage.models import QboCustomer, QboItem
from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import connected_appliance
from tests.harness.jobroutr import Sender, plan
from tests.harness.judge import check_books
from tests.harness.processes import run_appliance, wait_until
from tests.harness.store import queue_empty, stored, webhook_secret

pytestmark = pytest.mark.slow

#: The production timeout: a 30-second stall is an answer that comes late, not a failure.
PATIENT = {"APPLIANCE_QBO_TIMEOUT_SECONDS": "60"}
STALL = 30.0


def storm(books: RunningEmulator, rules: list[dict[str, Any]], path: str) -> list[FaultRule]:
    governor = books.service.governor
    return [governor.add_rule({"path_contains": path, **rule}) for rule in rules]


def assert_within_limits(books: RunningEmulator, rules: list[FaultRule]) -> None:
    stats = books.service.governor.stats
    injected = sum(rule.hits for rule in rules if rule.kind == "429")
    assert stats.throttled == 0, "the appliance went over the company's limits"
    assert stats.by_status.get("429", 0) == injected, "a 429 that was not injected"
    assert stats.peak_concurrency <= 10


@pytest.fixture
def big_books() -> Iterator[RunningEmulator]:
    # Intuit's own limits: 500 requests a minute, 10 at once.
    config = EmulatorConfig(customers=12_000, items=1_500, limits=Limits())
    with RunningEmulator(config) as emulator:
        yield emulator


@pytest.mark.timeout(600)
def test_an_import_through_a_fault_storm_brings_every_active_record_once(
    big_books: RunningEmulator, tmp_path: Path
) -> None:
    books = big_books
    with connected_appliance(
        books, tmp_path / "state", APPLIANCE_QBO_REQUESTS_PER_MINUTE="500", **PATIENT
    ) as appliance:
        rules = storm(
            books,
            [
                {"kind": "429", "count": 5},  # a burst: five refusals in a row
                {"kind": "stall", "count": 1, "stall_seconds": STALL},
                {"kind": "503_html", "count": 2},
                # One of each shape for certain (an import is only ~20 requests: a random rain
                # alone can miss a shape), then the rain until the end.
                {"kind": "500", "count": 1},
                {"kind": "drop", "count": 1},
                {"kind": "502", "count": 1},
                {"kind": "500", "probability": 0.15, "count": None},
                {"kind": "drop", "probability": 0.1, "count": None},
                {"kind": "502", "probability": 0.05, "count": None},
            ],
            "/query",
        )
        reports = {}
        for kind in ("customers", "products"):
            done = run_appliance("import", kind, "--wait", "--json", env=appliance.env, timeout=500)
            assert done.returncode == 0, done.stderr + done.stdout
            reports[kind] = json.loads(done.stdout)
        hits = {f"{rule.kind}/{rule.id}": rule.hits for rule in rules}
        books.service.governor.clear_rules()
        customers = stored(appliance.settings, QboCustomer)
        items = stored(appliance.settings, QboItem)

    company = books.service.companies[books.realm]
    active = {c["Id"] for c in company.rows("Customer") if c.get("Active", True)}
    assert reports["customers"]["state"] == "done"
    assert reports["customers"]["done"] == len(active)
    assert sorted(c.qbo_id for c in customers) == sorted(active)  # each once, none missing
    sellable = {
        i["Id"]
        for i in company.rows("Item")
        if i.get("Active", True)
        and i["Type"] in ("Service", "NonInventory", "Inventory")
        and "UnitPrice" in i
    }
    assert reports["products"]["state"] == "done"
    assert sorted(i.qbo_id for i in items) == sorted(sellable)

    # Every shape of the storm really hit the import.
    assert [rule.hits for rule in rules[:6]] == [5, 1, 2, 1, 1, 1], hits
    assert_within_limits(books, rules)


@pytest.fixture
def books() -> Iterator[RunningEmulator]:
    # Scaled up as the appliance is (connected_appliance: 6,000 a minute), 10 at once as Intuit.
    limits = Limits(requests_per_minute=6000, concurrent=10, batch_per_minute=600)
    with RunningEmulator(EmulatorConfig(limits=limits)) as emulator:
        yield emulator


@pytest.mark.timeout(600)
def test_a_push_through_stalls_and_429_bursts_writes_everything_once(
    books: RunningEmulator, tmp_path: Path
) -> None:
    with connected_appliance(books, tmp_path / "state", **PATIENT) as appliance:
        rules = storm(
            books,
            [
                {"kind": "429", "count": 12},  # every worker refused at once, some twice
                {"kind": "stall", "count": 2, "probability": 0.02, "stall_seconds": STALL},
                {
                    "kind": "stall",
                    "count": 1,
                    "probability": 0.02,
                    "stall_seconds": STALL,
                    "method": "POST",
                },  # a write answered 30 s late
                {"kind": "429", "count": 8, "probability": 0.02},  # and later bursts
                {"kind": "503_html", "probability": 0.03, "count": None},
                {"kind": "500", "probability": 0.03, "count": None},
                {"kind": "drop", "probability": 0.03, "count": None},
                {"kind": "drop_after", "probability": 0.05, "method": "POST", "count": None},
            ],
            "/v3/",
        )
        story = plan(59, customers=50, products=15, invoices=100, total=400, unnumbered=30)
        sender = Sender(appliance.url, webhook_secret(appliance.settings), story.sends)
        sender.start()
        sender.join(timeout=300)
        assert not sender.refusals, sender.refusals[:5]
        wait_until(lambda: queue_empty(appliance.settings), timeout=400, what="the queue to drain")
        hits = {f"{rule.kind}/{rule.id}": rule.hits for rule in rules}
        books.service.governor.clear_rules()
        appliance.stop()
        check_books(books, appliance.settings, story, sender.acknowledged)

    assert rules[0].hits == 12, hits
    assert rules[1].hits + rules[2].hits >= 2, f"fewer than two 30-second stalls: {hits}"
    assert all(rule.hits > 0 for rule in rules[4:]), hits
    assert books.service.governor.stats.replays > 0, "no lost answer was replayed by requestid"
    assert_within_limits(books, rules)
