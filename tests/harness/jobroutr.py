"""JobRoutr's side of the wire: its example documents, generated histories of records with their
events in delivery order, and a sender that retries until the appliance acknowledges."""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from tests.harness.bill_table import SEATTLE, Rate, Spec, bill
from tests.harness.processes import shared_dir

EXAMPLES = shared_dir() / "jobroutr" / "examples"


def example(name: str) -> dict[str, Any]:
    path = EXAMPLES / f"{name}.json"
    if not path.exists():
        pytest.skip(f"the JobRoutr examples are not at {EXAMPLES} (set JOBROUTR_SHARED_DIR)")
    return dict(json.loads(path.read_text()))


def created(jobroutr_id: str, company: str) -> dict[str, Any]:
    return {
        "type": "customer.created",
        "timestamp": "2026-11-25T11:00:00Z",
        "data": {"id": jobroutr_id, "company_name": company},
    }


@dataclass
class Plan:
    """A generated history of JobRoutr records, its events in delivery order, and the expected
    final state of each record."""

    sends: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)  # latest data by id
    products: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)


def plan(
    seed: int,
    *,
    customers: int,
    products: int,
    invoices: int,
    total: int,
    unnumbered: int = 0,
    updated: int = 0,
    paid: int = 0,
) -> Plan:
    """``unnumbered``: the last that many invoices carry no number (QBO numbers them), so nothing
    but requestid tells a retried write of one from a new invoice. ``updated``: the first that
    many invoices get an ``invoice.updated`` soon after (a line more, the first line's quantity
    changed), so the update often arrives first, or between the create's retries. ``paid``: the
    first that many invoices (the updated ones first) get a ``payment.created`` well after their
    last version: in full, in part (the rest owed), or over (the rest a credit); a payment may
    still reach the appliance while the invoice's update waits in its queue."""
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
        data = with_bill(data, i % 3)
        at = rng.uniform(50, 500)
        add(at, "invoice.created", data)
        if i < updated:
            data = with_bill(_changed(data, rng.choice(product_ids)), i % 3)
            at += rng.uniform(1, 40)
            add(at, "invoice.updated", data)
        result.invoices[data["id"]] = data
        if i < paid:
            payment = _payment(data, i, tag)
            add(at + 90 + rng.uniform(0, 60), "payment.created", payment)  # after the jitter
            result.payments[payment["id"]] = payment
    timeline.sort(key=lambda t: t[0])
    result.sends = redelivered([(event_id, doc) for _, event_id, doc in timeline], total, rng)
    return result


METHODS = ("card", "cash", "check", "ach", "other")


def _payment(invoice: dict[str, Any], i: int, tag: str) -> dict[str, Any]:
    """A payment of the invoice's latest total: in full, 10.00 short, or 5.00 over (a credit)."""
    total = Decimal(invoice["totals"]["total"])
    amount = {0: total, 1: max(total - 10, Decimal("0.01")), 2: total + 5}[i % 3]
    applied = min(amount, total)
    return {"id": f"pay_{tag}_{i:05d}", "customer_id": invoice["customer_id"],
            "date": "2026-11-26", "amount": str(amount), "method": METHODS[i % len(METHODS)],
            "reference": f"P{tag}-{i:05d}",
            "applied_to": [{"invoice_id": invoice["id"], "amount": str(applied)}]}  # fmt: skip


def _changed(data: dict[str, Any], product_id: str) -> dict[str, Any]:
    """A later version of an invoice: the first line's quantity up by one, and a line more."""
    first = {**data["lines"][0], "quantity": str(Decimal(data["lines"][0]["quantity"]) + 1)}
    extra = {"product_id": product_id, "quantity": "1", "unit_price": "35.00",
             "description": "added after a second visit"}  # fmt: skip
    lines = [first, *data["lines"][1:], extra]
    return {**data, "lines": [{k: v for k, v in line.items() if k != "amount"} for line in lines]}


def redelivered(
    unique: list[tuple[str, dict[str, Any]]], total: int, rng: random.Random
) -> list[tuple[str, dict[str, Any]]]:
    """``unique`` with JobRoutr's retries, ``total`` sends in all: the same webhook-id again,
    some soon, some much later."""
    sends = list(unique)
    while len(sends) < total:
        position = rng.randrange(len(sends))
        again = unique[rng.randrange(min(len(unique), position + 1))]
        sends.insert(position + 1 + rng.randrange(3), again)
    return sends[:total] if len(unique) <= total else unique


#: What every third invoice of a plan charges: sales tax in Seattle (the emulator's default
#: company has automated sales tax), or a discount before tax.
SEATTLE_TAX = Rate("wa_seattle", "Seattle WA 10.35%", "10.35")


def with_bill(data: dict[str, Any], variant: int) -> dict[str, Any]:
    """The invoice with the bill JobRoutr figures for it (line amounts, totals): untaxed
    (variant 0), taxed in Seattle (1), or with a 10 % discount before tax (2)."""
    rate = SEATTLE_TAX if variant == 1 else None
    lines = [(line["quantity"], line["unit_price"], rate) for line in data["lines"]]
    discount = {"percent": "10", "before_tax": True} if variant == 2 else None
    where = SEATTLE if variant == 1 else None
    figured = bill(Spec("plan", lines, discount, service_address=where), 0, "", "")
    merged = {**data, **{k: v for k, v in figured.items() if k not in ("id", "number",
              "customer_id", "issue_date", "lines")}}  # fmt: skip
    merged["lines"] = [
        {**line, **{k: v for k, v in mine.items() if k in ("amount", "tax_rate_id")}}
        for line, mine in zip(data["lines"], figured["lines"], strict=True)
    ]
    return merged


def expected_total(invoice: dict[str, Any]) -> Decimal:
    """What the customer was billed: the invoice's ``totals.total``."""
    return Decimal(invoice["totals"]["total"])


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
