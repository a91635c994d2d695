"""The judge of the exactly-once runs: the store and the emulator's books against JobRoutr's story.
Every acknowledged event done, every record once in QuickBooks, each in its latest version."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlmodel import select

from appliance.config import Settings
from appliance.storage.models import Event, Job, Link
from appliance.storage.store import Store
from appliance.sync.push import invoice_marker
from tests.harness.emulator import RunningEmulator
from tests.harness.jobroutr import Plan, expected_total

KINDS = ("customer", "product", "invoice", "payment")


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
        kinds = [kind for kind in KINDS if kind in self.copies]
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
    judging = _Judging(found, links, books.service.companies[books.realm].rows)
    judging.customers(story.customers)
    judging.products(story.products)
    judging.invoices(story.invoices)
    judging.payments(story.payments, story.invoices)
    return found


class _Judging:
    """One kind of record at a time: how many QBO records are each JobRoutr record, and whether
    the one it is linked to is as JobRoutr last sent it. Writes what it finds into ``found``."""

    def __init__(
        self,
        found: Findings,
        links: dict[tuple[str, str], str],
        rows: Callable[[str], list[dict[str, Any]]],
    ) -> None:
        self.found = found
        self.links = links
        self.rows = rows

    def copies_of(
        self,
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
        self.found.copies[kind] = counted

    def linked(self, kind: str, rid: str, rows: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
        record = rows.get(self.links.get((kind, rid), ""))
        if record is None:
            self.found.wrong.append(f"{kind} {rid}: not linked to a record in QBO")
        return record

    def customers(self, story: dict[str, dict[str, Any]]) -> None:
        # A customer renamed for a clash is still that customer, written once more.
        customers = {r["Id"]: r for r in self.rows("Customer")}
        self.copies_of(
            "customer",
            {cid: {d["company_name"], d["company_name"] + " (customer)"}
             for cid, d in story.items()},
            list(customers.values()),
            lambda r: r["DisplayName"],
        )  # fmt: skip
        for cid, data in story.items():
            if (record := self.linked("customer", cid, customers)) is None:
                continue
            if (
                record["DisplayName"] != data["company_name"]
                or record.get("PrimaryPhone", {}).get("FreeFormNumber") != data["phone"]
                or record.get("PrimaryEmailAddr", {}).get("Address") != data["email"]
                or record.get("Notes")  # the latest version has no notes
            ):
                self.found.wrong.append(f"customer {cid}: not in its latest version")

    def products(self, story: dict[str, dict[str, Any]]) -> None:
        items = {r["Id"]: r for r in self.rows("Item")}
        products = {pid: {d["name"]} for pid, d in story.items()}
        self.copies_of("product", products, list(items.values()), lambda r: r["Name"])
        for pid, data in story.items():
            if (item := self.linked("product", pid, items)) is None:
                continue
            if Decimal(str(item.get("UnitPrice"))) != Decimal(data["price"]):
                self.found.wrong.append(f"product {pid}: not in its latest version")

    def invoices(self, story: dict[str, dict[str, Any]]) -> None:
        # Every invoice the appliance writes carries its JobRoutr id in the private note:
        # numbered or not, that is how a second copy shows.
        bills = {r["Id"]: r for r in self.rows("Invoice")}
        notes = {iid: {invoice_marker(iid)} for iid in story}
        self.copies_of("invoice", notes, list(bills.values()), lambda r: r.get("PrivateNote"))
        for iid, data in story.items():
            if (bill := self.linked("invoice", iid, bills)) is None:
                continue
            if not self.as_sent(bill, data):
                self.found.wrong.append(f"invoice {iid}: not as JobRoutr sent it")

    def payments(
        self, story: dict[str, dict[str, Any]], invoices: dict[str, dict[str, Any]]
    ) -> None:
        """Each payment once (its reference is its own), for its amount, applied to its invoice
        as sent, the rest a credit; each paid invoice's Balance is its total less the payment."""
        if not story:
            return
        payments = {r["Id"]: r for r in self.rows("Payment")}
        refs = {pid: {d["reference"]} for pid, d in story.items()}
        self.copies_of("payment", refs, list(payments.values()), lambda r: r.get("PaymentRefNum"))
        bills = {r["Id"]: r for r in self.rows("Invoice")}
        for pid, data in story.items():
            if (payment := self.linked("payment", pid, payments)) is None:
                continue
            [applied] = data["applied_to"]
            invoice_qbo = self.links.get(("invoice", applied["invoice_id"]))
            linked = [
                (str(t["TxnId"]), Decimal(str(line["Amount"])))
                for line in payment.get("Line", [])
                for t in line.get("LinkedTxn", [])
                if t.get("TxnType") == "Invoice"
            ]
            owed = Decimal(invoices[applied["invoice_id"]]["totals"]["total"])
            bill = bills.get(invoice_qbo or "", {})
            if (
                Decimal(str(payment["TotalAmt"])) != Decimal(data["amount"])
                or linked != [(invoice_qbo, Decimal(applied["amount"]))]
                or Decimal(str(payment.get("UnappliedAmt", 0)))
                != Decimal(data["amount"]) - Decimal(applied["amount"])
                or Decimal(str(bill.get("Balance"))) != owed - Decimal(applied["amount"])
            ):
                self.found.wrong.append(f"payment {pid}: not as JobRoutr sent it")

    def as_sent(self, bill: dict[str, Any], data: dict[str, Any]) -> bool:
        refs = [
            line["SalesItemLineDetail"]["ItemRef"]["value"]
            for line in bill["Line"]
            if line["DetailType"] == "SalesItemLineDetail"
        ]
        return not (
            ("number" in data and bill.get("DocNumber") != data["number"])
            or bill["CustomerRef"]["value"] != self.links.get(("customer", data["customer_id"]))
            or refs != [self.links.get(("product", line["product_id"])) for line in data["lines"]]
            or Decimal(str(bill["TotalAmt"])) != expected_total(data)
            or Decimal(str((bill.get("TxnTaxDetail") or {}).get("TotalTax", 0)))
            != Decimal((data.get("totals") or {}).get("tax", "0"))
        )


def check_books(
    books: RunningEmulator, settings: Settings, story: Plan, acked: set[str]
) -> Findings:
    """Every acknowledged event done; every record once in QBO, in its latest version."""
    found = judge(books, settings, story, acked)
    assert not found.lost, f"acknowledged events were lost: {found.lost[:5]}"
    assert not found.not_done, f"events not done: {list(found.not_done.items())[:5]}"
    assert found.jobs == found.events, "a redelivery was queued twice"
    for kind in [kind for kind in KINDS if kind in found.copies]:
        assert not found.missing(kind), f"{kind}s missing: {found.missing(kind)[:5]}"
        assert not found.duplicates(kind), f"{found.duplicates(kind)} {kind}s written twice"
    assert not found.wrong, found.wrong[:5]
    return found
