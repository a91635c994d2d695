"""Exactly once under fire: thousands of JobRoutr events (creates, updates, invoices, duplicates,
out-of-order deliveries) while the service is killed with SIGKILL and restarted, or while the
emulator throws 5xx, HTML 503s, dropped connections, answers lost after the write, and 429s.

The judge is the emulator's own books: every record exactly once, each in JobRoutr's latest
version, every invoice with the right customer, items and total; every acknowledged event done.
"""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select
from standardwebhooks.webhooks import Webhook

from appliance.config import Settings
from appliance.emulator.app import EmulatorConfig
from appliance.emulator.limits import Limits
from appliance.storage import credentials
from appliance.storage.models import Event, Job, Link
from appliance.storage.store import Store
from appliance.sync.push import invoice_marker
from tests.integration.test_connect_cli import connect_link
from tests.integration.test_service import Service, env_for, start
from tests.support import RunningEmulator, approve, free_port, run_appliance, wait_until

pytestmark = pytest.mark.slow
CENT = Decimal("0.01")


# What JobRoutr sends ----------------------------------------------------------------------------


@dataclass
class Plan:
    """A generated history of JobRoutr records, its events in delivery order, and the expected
    final state of each record."""

    sends: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)  # latest data by id
    products: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)


def plan(
    seed: int, *, customers: int, products: int, invoices: int, total: int, unnumbered: int = 0
) -> Plan:
    """``unnumbered``: the last that many invoices carry no number (QBO numbers them), so nothing
    but requestid tells a retried write of one from a new invoice."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible story, not secrets
    start = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    timeline: list[tuple[float, str, dict[str, Any]]] = []
    result = Plan()
    tag = f"{seed:x}"

    def add(at: float, kind: str, data: dict[str, Any]) -> None:
        stamp = (start + timedelta(seconds=at)).isoformat().replace("+00:00", "Z")
        doc = {"type": kind, "timestamp": stamp, "data": data}
        # Delivery order: production order with jitter, so versions and dependencies cross.
        timeline.append((at + rng.uniform(-40, 40), f"evt_{uuid.uuid4().hex}", doc))

    for i in range(customers):
        cid = f"cus_{tag}_{i:04d}"
        base = {"id": cid, "company_name": f"Chaos {tag} Customer {i:04d}"}
        at = rng.uniform(0, 400)
        for version in range(3):
            data = {**base, "phone": f"555-{i:04d}-{version}",
                    "email": f"c{i}.v{version}@example.com"}  # fmt: skip
            if version == 0:
                data["notes"] = "first version only"
            add(at, "customer.created" if version == 0 else "customer.updated", data)
            at += rng.uniform(1, 30)  # each version after the one before
        result.customers[cid] = data
    for i in range(products):
        pid = f"prd_{tag}_{i:03d}"
        at = rng.uniform(0, 300)
        for version in range(2):
            data = {"id": pid, "name": f"Chaos {tag} Product {i:03d}",
                    "price": f"{10 + i + version}.{rng.randrange(100):02d}",
                    "type": "service" if i % 2 else "non_inventory"}  # fmt: skip
            add(at + version * 20, "product.created" if version == 0 else "product.updated", data)
        result.products[pid] = data
    customer_ids, product_ids = list(result.customers), list(result.products)
    for i in range(invoices):
        lines = [
            {"product_id": rng.choice(product_ids),
             "quantity": str(Decimal(rng.randrange(1, 40)) / 4),
             "unit_price": f"{rng.randrange(1, 500)}.{rng.randrange(100):02d}",
             "description": f"line {n}"}
            for n in range(rng.randrange(1, 4))
        ]  # fmt: skip
        data = {"id": f"inv_{tag}_{i:05d}", "number": f"C{tag}-{i:05d}",
                "customer_id": rng.choice(customer_ids), "issue_date": "2026-11-25",
                "lines": lines}  # fmt: skip
        if i >= invoices - unnumbered:
            del data["number"]
        add(rng.uniform(50, 500), "invoice.created", data)
        result.invoices[data["id"]] = data
    timeline.sort(key=lambda t: t[0])
    unique = [(event_id, doc) for _, event_id, doc in timeline]
    sends = list(unique)
    # JobRoutr's retries: the same webhook-id again, some soon, some much later.
    while len(sends) < total:
        position = rng.randrange(len(sends))
        again = unique[rng.randrange(min(len(unique), position + 1))]
        sends.insert(position + 1 + rng.randrange(3), again)
    result.sends = sends[:total] if len(unique) <= total else unique
    return result


def expected_total(invoice: dict[str, Any]) -> Decimal:
    return sum(
        (
            (Decimal(line["quantity"]) * Decimal(line["unit_price"])).quantize(
                CENT, rounding=ROUND_HALF_UP
            )
            for line in invoice["lines"]
        ),
        Decimal(0),
    )


# The appliance as a process, and JobRoutr's sender ------------------------------------------------


class Appliance:
    def __init__(self, env: dict[str, str], settings: Settings) -> None:
        self.env = env
        self.settings = settings
        self.service: Service | None = None
        self.url = f"http://127.0.0.1:{settings.http_port}"

    def start(self) -> None:
        self.service = start(self.env, self.settings)

    def kill(self) -> None:
        assert self.service is not None
        self.service.process.kill()  # SIGKILL: no clean-up of any kind
        self.service.process.wait()

    def stop(self) -> None:
        if self.service is not None and self.service.process.poll() is None:
            self.service.process.kill()
            self.service.process.wait()


class Sender(threading.Thread):
    """Sends each event until the appliance acknowledges it (as JobRoutr retries non-2xx and
    refused connections), signed with a fresh timestamp every time."""

    def __init__(self, url: str, secret: str, sends: list[tuple[str, dict[str, Any]]]) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.signer = Webhook(secret)
        self.sends = sends
        self.acknowledged: set[str] = set()
        self.statuses: dict[int, int] = {}  # 202 accepted, 200 a redelivery answered again
        self.refusals: list[str] = []
        self.retries = 0

    def run(self) -> None:
        with httpx.Client(timeout=20) as http:
            for event_id, doc in self.sends:
                body = json.dumps(doc)
                while True:
                    stamp = datetime.now(UTC)
                    headers = {
                        "webhook-id": event_id,
                        "webhook-timestamp": str(int(stamp.timestamp())),
                        "webhook-signature": self.signer.sign(event_id, stamp, body),
                        "content-type": "application/json",
                    }
                    try:
                        response = http.post(
                            self.url + "/webhooks/jobroutr", content=body, headers=headers
                        )
                    except httpx.TransportError:
                        self.retries += 1
                        time.sleep(0.05)
                        continue
                    if response.status_code in (200, 202):
                        self.acknowledged.add(event_id)
                        code = response.status_code
                        self.statuses[code] = self.statuses.get(code, 0) + 1
                        break
                    if response.status_code >= 500:
                        self.refusals.append(f"{response.status_code} {response.text[:200]}")
                        self.retries += 1
                        time.sleep(0.05)
                        continue
                    self.refusals.append(f"{response.status_code} {response.text[:200]}")
                    break


@pytest.fixture
def books() -> Iterator[RunningEmulator]:
    limits = Limits(requests_per_minute=6000, concurrent=10, batch_per_minute=600)
    with RunningEmulator(EmulatorConfig(limits=limits)) as emulator:
        yield emulator


@pytest.fixture
def appliance(books: RunningEmulator, tmp_path: Path) -> Iterator[Appliance]:
    with connected_appliance(books, tmp_path / "state") as running:
        yield running


@contextlib.contextmanager
def connected_appliance(books: RunningEmulator, state_dir: Path, **env: str) -> Iterator[Appliance]:
    """An initialised service on ``books``, connected, with accounts imported and default
    accounts chosen: ready to push. ``env`` (APPLIANCE_*) overrides the fast-test settings."""
    short = Path(tempfile.mkdtemp(prefix="jra-", dir="/tmp"))
    settings = Settings(
        state_dir=state_dir,
        http_port=free_port(),
        admin_socket=short / "admin.sock",
        log_format="json",
    )
    fast = {
        "APPLIANCE_QBO_EMULATOR_URL": books.url,
        "APPLIANCE_QBO_EMULATOR_EMBEDDED": "false",
        "APPLIANCE_PUBLIC_URL": "http://127.0.0.1:8780",
        "APPLIANCE_QBO_REQUESTS_PER_MINUTE": "6000",
        "APPLIANCE_QBO_BATCH_PER_MINUTE": "600",
        "APPLIANCE_QBO_RETRY_INITIAL_SECONDS": "0.05",
        "APPLIANCE_QBO_THROTTLE_INITIAL_SECONDS": "0.5",
        "APPLIANCE_QBO_TIMEOUT_SECONDS": "5",
        "APPLIANCE_PUSH_WORKERS": "8",
        "APPLIANCE_PUSH_LEASE_SECONDS": "3",
        "APPLIANCE_PUSH_RETRY_SECONDS": "0.2",
    }
    env = env_for(settings, **{**fast, **env})
    assert run_appliance("init", env=env).returncode == 0
    running = Appliance(env, settings)
    running.start()
    try:
        location = approve(connect_link(env), books.realm)
        assert run_appliance("connect", "--redirect-url", location, env=env).returncode == 0
        assert run_appliance("import", "accounts", "--wait", env=env).returncode == 0
        picked = [
            json.loads(run_appliance("accounts", "--kind", kind, "--json", env=env).stdout)[0]
            for kind in ("income", "expense")
        ]
        chosen = run_appliance(
            "settings", "set", "--income-account", picked[0]["qbo_id"],
            "--expense-account", picked[1]["qbo_id"], env=env,
        )  # fmt: skip
        assert chosen.returncode == 0, chosen.stderr
        yield running
    finally:
        running.stop()
        shutil.rmtree(short, ignore_errors=True)


def webhook_secret(settings: Settings) -> str:
    store = Store.open(settings)
    try:
        with store.session() as session:
            secret = credentials.webhook_secret(session, store.vault)
    finally:
        store.close()
    assert secret is not None
    return secret


def queue_empty(settings: Settings) -> bool:
    store = Store.open(settings)
    try:
        queue = store.queue_info()
    finally:
        store.close()
    return queue.queued + queue.running + queue.waiting == 0


@dataclass
class Findings:
    """What the judge found in the store and in the emulator's books."""

    acknowledged: int = 0
    events: int = 0  # distinct events in the store
    jobs: int = 0
    lost: list[str] = field(default_factory=list)  # acknowledged, yet not in the store
    not_done: dict[str, str] = field(default_factory=dict)  # event id: status, code, message
    #: kind -> JobRoutr id -> how many QBO records are that one record (1 is right).
    copies: dict[str, dict[str, int]] = field(default_factory=dict)
    wrong: list[str] = field(default_factory=list)  # in QBO, but not as JobRoutr last had it

    def missing(self, kind: str) -> list[str]:
        return [rid for rid, n in self.copies[kind].items() if n == 0]

    def duplicates(self, kind: str) -> int:
        """QBO records too many: a record written twice counts 1."""
        return sum(n - 1 for n in self.copies[kind].values() if n > 1)

    def summary(self) -> str:
        kinds = ("customer", "product", "invoice")
        dupes = " ".join(f"{kind}s {self.duplicates(kind)}" for kind in kinds)
        missing = sum(len(self.missing(kind)) for kind in kinds)
        codes: dict[str, int] = {}
        for reason in self.not_done.values():
            code = reason.split(" ")[1]
            codes[code] = codes.get(code, 0) + 1
        return (
            f"lost {len(self.lost)}, not done {len(self.not_done)} {codes or ''}, "
            f"duplicates: {dupes}, missing {missing}, wrong {len(self.wrong)}"
        )


def judge(books: RunningEmulator, settings: Settings, story: Plan, acked: set[str]) -> Findings:
    """Compare the store and the emulator's books with the story; assert nothing."""
    store = Store.open(settings)
    try:
        with store.session() as session:
            events = {e.id: e for e in session.exec(select(Event)).all()}
            jobs = session.exec(select(Job)).all()
            links = {(k.kind, k.jobroutr_id): k.qbo_id for k in session.exec(select(Link)).all()}
    finally:
        store.close()
    found = Findings(acknowledged=len(acked), events=len(events), jobs=len(jobs))
    found.lost = sorted(acked - set(events))
    found.not_done = {
        e.id: f"{e.status} {e.error_code} {e.error_message}"
        for e in events.values()
        if e.status != "done"
    }
    company = books.service.companies[books.realm]

    def copies_of(
        kind: str,
        names: dict[str, set[str]],
        rows: list[dict[str, Any]],
        key: Callable[[dict[str, Any]], Any],
    ) -> None:
        counted = dict.fromkeys(names, 0)
        owner = {name: rid for rid, aliases in names.items() for name in aliases}
        for row in rows:
            if (rid := owner.get(key(row))) is not None:
                counted[rid] += 1
        found.copies[kind] = counted

    def linked(kind: str, rid: str, rows: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
        record = rows.get(links.get((kind, rid), ""))
        if record is None:
            found.wrong.append(f"{kind} {rid}: not linked to a record in QBO")
        return record

    # A customer renamed for a clash is still that customer, written once more.
    customers = {r["Id"]: r for r in company.rows("Customer")}
    copies_of(
        "customer",
        {cid: {d["company_name"], d["company_name"] + " (customer)"}
         for cid, d in story.customers.items()},
        list(customers.values()),
        lambda r: r["DisplayName"],
    )  # fmt: skip
    for cid, data in story.customers.items():
        if (record := linked("customer", cid, customers)) is None:
            continue
        if (
            record["DisplayName"] != data["company_name"]
            or record.get("PrimaryPhone", {}).get("FreeFormNumber") != data["phone"]
            or record.get("PrimaryEmailAddr", {}).get("Address") != data["email"]
            or record.get("Notes")  # the latest version has no notes
        ):
            found.wrong.append(f"customer {cid}: not in its latest version")

    items = {r["Id"]: r for r in company.rows("Item")}
    products = {pid: {d["name"]} for pid, d in story.products.items()}
    copies_of("product", products, list(items.values()), lambda r: r["Name"])
    for pid, data in story.products.items():
        if (item := linked("product", pid, items)) is None:
            continue
        if Decimal(str(item.get("UnitPrice"))) != Decimal(data["price"]):
            found.wrong.append(f"product {pid}: not in its latest version")

    # Every invoice the appliance writes carries its JobRoutr id in the private note: numbered
    # or not, that is how a second copy shows.
    bills = {r["Id"]: r for r in company.rows("Invoice")}
    notes = {iid: {invoice_marker(iid)} for iid in story.invoices}
    copies_of("invoice", notes, list(bills.values()), lambda r: r.get("PrivateNote"))
    for iid, data in story.invoices.items():
        if (bill := linked("invoice", iid, bills)) is None:
            continue
        refs = [
            line["SalesItemLineDetail"]["ItemRef"]["value"]
            for line in bill["Line"]
            if line["DetailType"] == "SalesItemLineDetail"
        ]
        if (
            ("number" in data and bill.get("DocNumber") != data["number"])
            or bill["CustomerRef"]["value"] != links.get(("customer", data["customer_id"]))
            or refs != [links.get(("product", line["product_id"])) for line in data["lines"]]
            or Decimal(str(bill["TotalAmt"])) != expected_total(data)
        ):
            found.wrong.append(f"invoice {iid}: not as JobRoutr sent it")
    return found


def check_books(
    books: RunningEmulator, settings: Settings, story: Plan, acked: set[str]
) -> Findings:
    """Every acknowledged event done; every record once in QBO, in its latest version."""
    found = judge(books, settings, story, acked)
    assert not found.lost, f"acknowledged events were lost: {found.lost[:5]}"
    assert not found.not_done, f"events not done: {list(found.not_done.items())[:5]}"
    assert found.jobs == found.events, "a redelivery was queued twice"
    for kind in ("customer", "product", "invoice"):
        assert not found.missing(kind), f"{kind}s missing: {found.missing(kind)[:5]}"
        assert not found.duplicates(kind), f"{found.duplicates(kind)} {kind}s written twice"
    assert not found.wrong, found.wrong[:5]
    return found


@pytest.mark.timeout(900)
def test_two_thousand_events_through_ten_sigkills_apply_once_each_in_the_latest_version(
    books: RunningEmulator, appliance: Appliance
) -> None:
    story = plan(11, customers=220, products=60, invoices=460, total=2000)
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
