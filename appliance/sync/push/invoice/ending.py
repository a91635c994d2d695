"""The push of ``invoice.voided`` and ``invoice.deleted``: QBO's invoice voided (kept, its amounts
zeroed, "Voided" before its note) or deleted (../shared/qbo/FACTS.md §11 "Invoice after
creation").

Each is read fresh first, and the write names that SyncToken; a stale one (5010: someone saved the
invoice in between) is read again and the write sent once more, under a second requestid
(``vd2``, ``del2``). What the fresh read decides:

* gone (610): done, ``deleted`` (a delete whose answer was lost, or the bookkeeper's delete);
* already voided, for a void: done, nothing written (a void whose answer was lost, or the
  bookkeeper's void);
* a payment applied (``LinkedTxn`` of type Payment): refused, ``has-payments``, naming the
  payments; nothing is voided or deleted behind the bookkeeper's back.

The link keeps the event's version (an older ``invoice.created`` or ``invoice.updated`` arriving
later changes nothing) and QBO's figures with ``state`` ``voided`` or ``deleted``, for the pull
API. A void or delete for an invoice that never reached QuickBooks (no link) writes nothing and is
done; the invoice's older versions then are not written either (``ended_before``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from appliance.core.kinds import INVOICE, PAYMENT
from appliance.qbo.errors import ValidationError
from appliance.storage import push as jobs
from appliance.storage.types import utcnow
from appliance.sync.push import steps
from appliance.sync.push.invoice import readback
from appliance.sync.push.job import PushJob, Written
from appliance.sync.push.outcome import Refused

#: QBO's answer to a read of an invoice that is gone.
NOT_FOUND = "610"
HAS_PAYMENTS_HINT = (
    "Void or delete the payment in JobRoutr (it will send it) or in QuickBooks first, then "
    "retry the event (`appliance events retry ID`)."
)
DELETED_HINT = (
    "A deleted invoice is not brought back: create a new invoice in JobRoutr for the new "
    "figures, or skip the event (`appliance events skip ID`)."
)


@dataclass(frozen=True)
class Ending:
    operation: str  # QBO's ?operation=
    step: str  # the requestid's step code (steps.VOID, steps.DELETE)
    done: str  # what the invoice is after it, as the link's state says


ENDINGS = {
    "invoice.voided": Ending("void", steps.VOID, "voided"),
    "invoice.deleted": Ending("delete", steps.DELETE, "deleted"),
}
EVENTS = tuple(ENDINGS)


async def end(job: PushJob) -> Written:
    """Void or delete the linked invoice (see the module's docstring)."""
    how = ENDINGS[job.work.event_type]
    link, superseded = await job.linked(INVOICE)
    if link is None:
        return Written("", note=f"never reached QuickBooks: nothing to {how.operation}")
    if superseded:
        return Written(link.qbo_id, note="superseded by a newer version")
    qbo_id = link.qbo_id
    for attempt in (1, 2):
        record = await read(job, qbo_id)
        if record is None:
            return Written(qbo_id, job.link(INVOICE, qbo_id), note="already deleted in "
                           "QuickBooks", figures=deleted_figures(link.figures))  # fmt: skip
        if how.operation == "void" and readback.state(record) == "voided":
            return _written(job, record, "already voided")
        await _unpaid(job, record, how)
        try:
            answer = await job.qbo.write(
                job.realm,
                INVOICE.entity,
                {"Id": qbo_id, "SyncToken": str(record["SyncToken"])},
                requestid=job.rid(steps.sparse(how.step, attempt)),
                operation=how.operation,
            )
        except ValidationError as exc:
            if exc.qbo_code != "5010" or attempt == 2:
                raise
            continue
        if how.operation == "void":
            return _written(job, answer, "voided")
        figures = deleted_figures(readback.figures(record))
        return Written(qbo_id, job.link(INVOICE, qbo_id), note="deleted", figures=figures)
    raise AssertionError("unreachable")


async def read(job: PushJob, qbo_id: str) -> dict[str, Any] | None:
    """The invoice as QBO holds it now; None when it is gone (deleted)."""
    try:
        return await job.qbo.read(job.realm, INVOICE.entity, qbo_id)
    except ValidationError as exc:
        if exc.qbo_code != NOT_FOUND:
            raise
    return None


def deleted_figures(last: dict[str, Any] | None) -> dict[str, Any]:
    """A deleted invoice's figures: the last ones known, no balance, state ``deleted``."""
    return {**(last or {}), "balance": None, "state": "deleted", "read_at": utcnow().isoformat()}


async def ended_before(job: PushJob) -> str | None:
    """For a created or updated invoice with no link: a void or delete JobRoutr sent later than
    this version, done without reaching QuickBooks (``voided``, ``deleted``), else None."""
    if job.work.occurred_at is None:
        return None
    found = await asyncio.to_thread(
        jobs.ended_after,
        job.store.engine,
        job.realm,
        INVOICE.name,
        job.jobroutr_id,
        after=job.work.occurred_at,
        types=EVENTS,
    )
    return ENDINGS[found].done if found is not None else None


def _written(job: PushJob, record: dict[str, Any], note: str) -> Written:
    qbo_id = str(record["Id"])
    return Written(qbo_id, job.link(INVOICE, qbo_id), note=note, figures=readback.figures(record))


async def _unpaid(job: PushJob, record: dict[str, Any], how: Ending) -> None:
    """Refuse (``has-payments``) when QBO has payments applied to the invoice, naming them."""
    linked = record.get("LinkedTxn")
    payments = [
        str(txn.get("TxnId"))
        for txn in (linked if isinstance(linked, list) else [])
        if isinstance(txn, dict) and txn.get("TxnType") == "Payment"
    ]
    if not payments:
        return
    names = []
    for payment in payments[:10]:
        ours = await asyncio.to_thread(
            jobs.linked_to, job.store.engine, job.realm, PAYMENT.name, payment
        )
        names.append(f"payment {payment}" + (f" (JobRoutr {ours})" if ours else ""))
    figures = readback.figures(record)
    paid = Decimal(figures["total"]) - Decimal(figures["balance"])
    number = record.get("DocNumber") or record["Id"]
    raise Refused(
        "has-payments",
        f"Invoice {number} has {', '.join(names)} applied in QuickBooks ({paid} of "
        f"{figures['total']} paid), so it was not {how.done}.",
        HAS_PAYMENTS_HINT,
    )
