"""The push of ``invoice.created`` and ``invoice.updated``: written the company's way
(``company``), then QBO's totals read back and compared with the bill (``readback``);
``invoice.voided`` and ``invoice.deleted`` are ``ending``'s.

Each event is the whole invoice, and its timestamp orders the versions: one older than the
version the link carries changes nothing, an update that arrives before the create creates the
invoice, and a created or updated older than a void or delete JobRoutr sent for an invoice that
never reached QuickBooks is not written.

An invoice waits for its customer's and products' links (``customer:<id>``, ``product:<id>``
wake it), up to ``[push] dependency_wait_seconds``, and for the operator's tax mappings and
invoice settings (``taxrate:<id>``, ``settings:invoices``); one that bills a product archived in
JobRoutr is refused before it is written. One whose write may have happened
(an earlier attempt ran) is read back by its DocNumber before it is sent again; our note in
``PrivateNote`` tells ours from one the QBO user made. A linked invoice is read: when its
figures are the bill's already, nothing is written; else it is updated (all lines replaced).
Invoices are not mirrored.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from appliance.core.books import Books
from appliance.core.kinds import CUSTOMER, INVOICE, PRODUCT
from appliance.qbo.errors import ValidationError
from appliance.qbo.query import Select
from appliance.storage import push as jobs
from appliance.storage import taxes
from appliance.storage.books import get_books
from appliance.storage.items import archived_products
from appliance.sync.push import steps
from appliance.sync.push.books import company_books
from appliance.sync.push.depends import waiting
from appliance.sync.push.invoice import ending, readback
from appliance.sync.push.invoice.body import invoice_body, invoice_marker
from appliance.sync.push.invoice.company import CompanyWay, apply
from appliance.sync.push.job import KindPush, PushJob, Written
from appliance.sync.push.outcome import HINTS, Refused

#: An invoice waiting for its customer or products is woken the moment their links are written
#: (``storage.push.complete``, in the same transaction; links are written nowhere else): this
#: look is only a safety net, or sooner when the wait is about to give up. At 30 s, a backlog of
#: parked invoices cost a claim, a load and a park each, twice a minute, for nothing.
DEPENDENCY_RECHECK = timedelta(minutes=10)
EVENTS = ("invoice.created", "invoice.updated", *ending.EVENTS)


async def push(job: PushJob) -> Written:
    if job.work.event_type in ending.EVENTS:
        return await ending.end(job)
    link, superseded = await job.linked(INVOICE)
    if link is not None and superseded:
        return Written(link.qbo_id, note="superseded by a newer version")
    if link is None and (ended := await ending.ended_before(job)) is not None:
        return Written("", note=f"{ended} in JobRoutr before it reached QuickBooks")
    # The rates are learned even while the invoice waits for its customer and products, so the
    # operator can map them meanwhile; QuickBooks is not asked before those are linked.
    stored = await asyncio.to_thread(get_books, job.store.engine, job.realm)
    if stored is not None:
        await _learn(job, stored)
    customer_id, items = await _dependencies(job)
    books = stored or await company_books(job)
    if stored is None:
        await _learn(job, books)
    way = await _company_way(job, books, customer_id)
    body = apply(job.data, invoice_body(job.data, customer_id, items), way)
    if link is not None:
        return await _linked(job, link.qbo_id, body, items)
    await _none_archived(job, items)
    record = await _create(job, body)
    return _written(job, record)


def _written(job: PushJob, record: dict[str, Any], note: str = "") -> Written:
    qbo_id = str(record["Id"])
    return Written(
        qbo_id,
        job.link(INVOICE, qbo_id),
        note=note,
        figures=readback.figures(record),
        mismatch=readback.mismatch(record, job.data),
    )


# The company -------------------------------------------------------------------------------------


async def _learn(job: PushJob, books: Books) -> None:
    """Remember the bill's tax rates, for the operator to map (where the company needs it)."""
    rates = (job.data.get("tax") or {}).get("rates") if isinstance(job.data, dict) else None
    if books.tax_model.needs_mapping and isinstance(rates, list) and rates:
        known = [r for r in rates if isinstance(r, dict) and "id" in r]
        await asyncio.to_thread(taxes.learn, job.store.engine, job.realm, known, job.claim.event_id)


async def _company_way(job: PushJob, books: Books, customer_qbo_id: str) -> CompanyWay:
    engine = job.store.engine
    mapped = await asyncio.to_thread(taxes.mappings, engine, job.realm)
    settings = await asyncio.to_thread(taxes.invoice_settings, engine, job.realm)
    currency = None
    if books.multicurrency:
        customer = await job.qbo.read(job.realm, CUSTOMER.entity, customer_qbo_id)
        ref = customer.get("CurrencyRef")
        currency = str(ref.get("value")).upper() if isinstance(ref, dict) else None
    return CompanyWay(
        books=books,
        codes={rate_id: m.qbo_tax_code_id for rate_id, m in mapped.items()},
        discount_account=settings.discount_account_id,
        untaxed_code=settings.untaxed_tax_code_id,
        customer_currency=currency,
    )


async def _dependencies(job: PushJob) -> tuple[str, dict[str, str]]:
    """The QBO ids of the invoice's customer and products; it waits for those not linked yet."""
    engine = job.store.engine
    customer_id = str(job.data.get("customer_id", ""))
    product_ids = sorted({str(line.get("product_id", "")) for line in job.data["lines"]})
    customers = await asyncio.to_thread(
        jobs.links_of, engine, job.realm, CUSTOMER.name, [customer_id]
    )
    items = await asyncio.to_thread(jobs.links_of, engine, job.realm, PRODUCT.name, product_ids)
    missing = ([(CUSTOMER.name, customer_id)] if customer_id not in customers else []) + [
        (PRODUCT.name, p) for p in product_ids if p not in items
    ]
    if missing:
        keys = [f"{kind}:{rid}" for kind, rid in missing]
        words = [f"{kind} {rid}" for kind, rid in missing]
        words[-1] += " to reach QuickBooks"
        raise await waiting(job, words, keys, DEPENDENCY_RECHECK, keys)
    return customers[customer_id], items


async def _none_archived(job: PushJob, items: dict[str, str]) -> None:
    """Refused before writing: a line names a product archived in JobRoutr, whose item is
    inactive, which QuickBooks would refuse (610). JobRoutr re-activates it, not QuickBooks."""
    archived = await asyncio.to_thread(
        archived_products, job.store.engine, job.realm, sorted(items)
    )
    if archived:
        named = ", ".join(f"{a.name!r} ({a.jobroutr_id})" for a in archived)
        which = "product" if len(archived) == 1 else "products"
        items_are = "its item is" if len(archived) == 1 else "their items are"
        raise Refused(
            "product-archived",
            f"The invoice bills {which} {named}, archived in JobRoutr: {items_are} inactive in "
            "QuickBooks, which would refuse the invoice, so nothing was written.",
            HINTS["product-archived"],
        )


# The writes --------------------------------------------------------------------------------------


async def _create(job: PushJob, body: dict[str, Any]) -> dict[str, Any]:
    number = body.get("DocNumber")
    if job.uncertain and number:
        mine = await _ours(job, number)
        if mine is not None:
            return mine
    try:
        return await job.qbo.write(job.realm, INVOICE.entity, body, requestid=job.rid(steps.CREATE))
    except ValidationError as exc:
        if exc.qbo_code != "6140" or not number:
            raise
        mine = await _ours(job, number)
        if mine is None:
            raise Refused(
                "6140",
                f"QuickBooks already has an invoice numbered {number} that this appliance did "
                "not write, so this one was not written.",
                HINTS["6140"],
            ) from None
        return mine


async def _linked(
    job: PushJob, qbo_id: str, body: dict[str, Any], items: dict[str, str]
) -> Written:
    """The invoice is in QuickBooks already (a retry after a mismatch or a crash, or
    ``invoice.updated``): read it; a created event whose figures QBO holds already writes
    nothing, else the invoice is changed to the bill (all lines replaced) and read back."""
    record = await ending.read(job, qbo_id)
    created = job.work.event_type == "invoice.created"
    if record is None:
        if created:  # JobRoutr's resend of the first version: the delete stands
            return Written(qbo_id, note="deleted in QuickBooks")
        raise Refused(
            "deleted",
            f"This invoice (QuickBooks id {qbo_id}) was deleted in QuickBooks, so this change "
            "was not written.",
            ending.DELETED_HINT,
        )
    if readback.state(record) == "voided":
        if created:  # JobRoutr's resend of the first version: the bookkeeper's void stands
            return Written(qbo_id, note="voided in QuickBooks", figures=readback.figures(record))
        raise Refused(
            "voided",
            f"Invoice {record.get('DocNumber') or qbo_id} was voided in QuickBooks, so this "
            "change was not written to it.",
            HINTS["voided"],
        )
    if created and readback.mismatch(record, job.data) is None:
        return _written(job, record, note="already in QuickBooks")
    await _none_archived(job, items)
    updated = await job.sparse_update(
        INVOICE,
        step=steps.LINKED,
        qbo_id=qbo_id,
        sync_token=str(record["SyncToken"]),
        body=body,
        optional=(),
    )
    return _written(job, updated, note="updated")


async def _ours(job: PushJob, number: str) -> dict[str, Any] | None:
    """The QBO invoice with this DocNumber if this appliance wrote it for this JobRoutr
    invoice (it carries our note), else None."""
    body = await job.qbo.query(
        job.realm, Select(INVOICE.entity).filter("DocNumber", "=", number).page(1, 10)
    )
    rows = body.get(INVOICE.entity, [])
    for row in rows if isinstance(rows, list) else []:
        if str(row.get("PrivateNote", "")).startswith(invoice_marker(job.jobroutr_id)):
            return dict(row)
    return None


PUSH = KindPush(INVOICE, EVENTS, push)
