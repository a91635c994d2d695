"""What a QuickBooks record, as Change Data Capture (or a re-read) returns it, means to JobRoutr:
pure functions from the record and what the store knows of it to the changes to report.

Only records JobRoutr wrote or imported count: linked invoices and payments, linked or mirrored
customers, and payments received in QuickBooks against a linked invoice. The appliance's own
writes are not changes: they left the store holding what QuickBooks holds (the invoice's figures,
the customer's name), or an event of JobRoutr's asked for them (a void, a delete), or a worker is
writing the record right now (then the record is ``deferred``: read again at the next poll).

=================  ===========================================================================
invoice            ``voided``, ``deleted``, ``changed`` (number, total or tax not what the
                   appliance last knew), ``payment_received``, ``payment_voided``,
                   ``payment_deleted`` (a payment made in QuickBooks, not by JobRoutr)
payment            ``voided``, ``deleted`` (a payment JobRoutr sent, undone in QuickBooks)
customer           ``renamed``, ``made_inactive``, ``made_active``, ``deleted``
=================  ===========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from appliance.core.kinds import CUSTOMER, INVOICE, PAYMENT
from appliance.storage.changes import SEEN, Held, snapshot
from appliance.sync.figures import invoice_figures, money

#: The entities the feed asks Change Data Capture for.
ENTITIES = [INVOICE.entity, PAYMENT.entity, CUSTOMER.entity]
#: What QuickBooks appends to the name of a customer made inactive (and removes on reactivation).
INACTIVE_SUFFIX = " (deleted)"
#: Figures that, changed, make an invoice ``changed`` (the balance moves with payments).
BILLED = ("doc_number", "total", "tax")


@dataclass(frozen=True)
class Found:
    """A change to report at ``/api/v1/changes``."""

    kind: str
    jobroutr_id: str | None
    qbo_id: str
    change: str
    at: datetime
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    """What an answer comes to: the changes, the invoices' figures now, the customers to mirror,
    the invoices a payment touched that the answer did not hold, and the oldest record put off."""

    changes: list[Found] = field(default_factory=list)
    figures: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    customers: list[dict[str, Any]] = field(default_factory=list)
    reread: set[str] = field(default_factory=set)
    deferred: datetime | None = None

    def defer(self, at: datetime) -> None:
        self.deferred = at if self.deferred is None else min(self.deferred, at)


def baseline(figures: dict[str, Any]) -> dict[str, Any]:
    """What the appliance last knew it had written or seen: the feed's snapshot (kept when the
    pull API's live read updates the figures, dropped when a push writes new ones), else the
    figures themselves (as the push left them)."""
    seen = figures.get(SEEN)
    return dict(seen) if isinstance(seen, dict) else figures


def older(token: Any, than: Any) -> bool:
    """Whether SyncToken ``token`` names an earlier version than ``than`` (both known)."""
    return (
        isinstance(token, str)
        and isinstance(than, str)
        and token.isdigit()
        and than.isdigit()
        and int(token) < int(than)
    )


def changed_at(record: dict[str, Any], default: datetime) -> datetime:
    """The record's ``MetaData.LastUpdatedTime`` in UTC (``default`` when it has none)."""
    meta = record.get("MetaData")
    stamp = meta.get("LastUpdatedTime") if isinstance(meta, dict) else None
    try:
        moment = datetime.fromisoformat(str(stamp)) if stamp else default
    except ValueError:
        return default
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def is_deleted(record: dict[str, Any]) -> bool:
    return str(record.get("status", "")).lower() == "deleted"


def is_voided(record: dict[str, Any]) -> bool:
    return str(record.get("PrivateNote") or "").startswith("Voided")


def classify(answer: dict[str, list[dict[str, Any]]], known: Held, now: datetime) -> Outcome:
    """Every record of an answer (by entity), against what the store knows."""
    outcome = Outcome()
    for record in answer.get(INVOICE.entity, []):
        invoice(record, known, now, outcome)
    for record in answer.get(PAYMENT.entity, []):
        payment(record, known, now, outcome)
    for record in answer.get(CUSTOMER.entity, []):
        customer(record, known, now, outcome)
    outcome.reread -= {qbo_id for qbo_id, _ in outcome.figures.values()}
    return outcome


def invoice(record: dict[str, Any], known: Held, now: datetime, outcome: Outcome) -> None:
    qbo_id = str(record.get("Id", ""))
    if qbo_id not in known.invoices:
        return
    jobroutr_id, figures = known.invoices[qbo_id]
    at = changed_at(record, now)
    key = f"{INVOICE.name}:{jobroutr_id}"
    if key in known.busy:
        outcome.defer(at)
        return
    before = baseline(figures)
    if is_deleted(record):
        after = {"state": "deleted", "read_at": now.isoformat()}
    else:
        after = invoice_figures(record, now)
    if older(after.get("sync_token"), before.get("sync_token")):
        # QuickBooks' answer predates what the store holds: the appliance wrote the invoice
        # again (an update, a void) after the version in it. Nothing new, nothing to keep.
        return
    outcome.figures[jobroutr_id] = (qbo_id, {**after, SEEN: snapshot(after)})
    if before.get("sync_token") and before.get("sync_token") == after.get("sync_token"):
        return  # what the appliance last read: nothing new
    state = after["state"]
    change = None
    if state in ("deleted", "voided") and before.get("state") != state:
        change = None if key in known.undone else state
    elif (
        state != "voided"
        and before.get("total") is not None
        and any(before.get(name) != after.get(name) for name in BILLED)
    ):
        change = "changed"
    if change is not None:
        detail = {
            "before": {name: before.get(name) for name in (*BILLED, "balance", "state")},
            "after": {name: after.get(name) for name in (*BILLED, "balance", "state")},
        }
        outcome.changes.append(Found(INVOICE.name, jobroutr_id, qbo_id, change, at, detail))


def applied(record: dict[str, Any]) -> list[tuple[str, str | None]]:
    """The invoices a payment is applied to: (invoice id, amount applied)."""
    found = []
    lines = record.get("Line")
    for line in lines if isinstance(lines, list) else []:
        if not isinstance(line, dict):
            continue
        linked = line.get("LinkedTxn")
        for txn in linked if isinstance(linked, list) else []:
            if isinstance(txn, dict) and txn.get("TxnType") == INVOICE.entity:
                found.append((str(txn.get("TxnId", "")), money(line.get("Amount"))))
    return found


def payment(record: dict[str, Any], known: Held, now: datetime, outcome: Outcome) -> None:
    qbo_id = str(record.get("Id", ""))
    at = changed_at(record, now)
    if qbo_id in known.payments:  # a payment JobRoutr sent
        jobroutr_id = known.payments[qbo_id][0]
        key = f"{PAYMENT.name}:{jobroutr_id}"
        if key in known.busy:
            outcome.defer(at)
            return
        change = "deleted" if is_deleted(record) else "voided" if is_voided(record) else None
        if change is not None and key not in known.undone:
            outcome.changes.append(Found(PAYMENT.name, jobroutr_id, qbo_id, change, at))
        return
    seen = known.seen_payments.get(qbo_id, [])
    if is_deleted(record) or is_voided(record):
        change = "payment_deleted" if is_deleted(record) else "payment_voided"
        for jobroutr_id, invoice_id in seen:
            detail: dict[str, Any] = {"payment_qbo_id": qbo_id}
            outcome.changes.append(Found(INVOICE.name, jobroutr_id, invoice_id, change, at, detail))
            outcome.reread.add(invoice_id)
        return
    paid = [(i, amount) for i, amount in applied(record) if i in known.invoices]
    if paid and PAYMENT.name in known.busy:
        outcome.defer(at)  # JobRoutr's own payment may be being written: its link comes next
        return
    reported = {invoice_id for _, invoice_id in seen}
    for invoice_id, amount in paid:
        outcome.reread.add(invoice_id)
        if invoice_id in reported:
            continue
        detail = {
            "payment_qbo_id": qbo_id,
            "amount": amount,
            "total": money(record.get("TotalAmt")),
        }
        jobroutr_id = known.invoices[invoice_id][0]
        found = Found(INVOICE.name, jobroutr_id, invoice_id, "payment_received", at, detail)
        outcome.changes.append(found)


def customer(record: dict[str, Any], known: Held, now: datetime, outcome: Outcome) -> None:
    qbo_id = str(record.get("Id", ""))
    if qbo_id not in known.customers:
        return
    jobroutr_id, display_name, was_active = known.customers[qbo_id]
    at = changed_at(record, now)
    if jobroutr_id is not None and f"{CUSTOMER.name}:{jobroutr_id}" in known.busy:
        outcome.defer(at)
        return

    def report(change: str, **detail: Any) -> None:
        found = Found(CUSTOMER.name, jobroutr_id, qbo_id, change, at, detail)
        outcome.changes.append(found)

    if is_deleted(record):
        report("deleted")
        return
    outcome.customers.append(record)
    name = record.get("DisplayName")
    # QuickBooks appends " (deleted)" to the name of a customer made inactive: no rename.
    bare = str(name or "").removesuffix(INACTIVE_SUFFIX)
    if display_name is not None and name and bare != display_name.removesuffix(INACTIVE_SUFFIX):
        report("renamed", before=display_name, after=name)
    active = record.get("Active", True) is not False
    if active != was_active:
        report("made_active" if active else "made_inactive")
