"""Invoices: JobRoutr's invoice as a QBO body, and the push of ``invoice.created``.

An invoice waits for its customer's and products' links (``customer:<id>``, ``product:<id>``
wake it), up to ``[push] dependency_wait_seconds``. One whose write may have happened (an earlier
attempt ran) is read back by its DocNumber before it is sent again; our note in ``PrivateNote``
tells ours from one the QBO user made. Invoices are not mirrored: no QBO -> row mapping yet.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from appliance.core.kinds import CUSTOMER, INVOICE, PRODUCT
from appliance.qbo.errors import ValidationError
from appliance.qbo.query import Select
from appliance.storage import push as jobs
from appliance.sync.fields import field
from appliance.sync.push import steps
from appliance.sync.push.job import KindPush, PushJob, Written
from appliance.sync.push.outcome import HINTS, Refused, Wait

CENT = Decimal("0.01")
DEPENDENCY_RECHECK = timedelta(seconds=30)


# JobRoutr -> QBO ---------------------------------------------------------------------------------


def line_amount(quantity: Decimal, unit_price: Decimal) -> Decimal:
    """Quantity x unit price in Decimal, rounded half-up to cents (as invoices are)."""
    return (quantity * unit_price).quantize(CENT, rounding=ROUND_HALF_UP)


def invoice_marker(jobroutr_id: str) -> str:
    return f"Created by JobRoutr (invoice {jobroutr_id})"


def _line(line: dict[str, Any], item_qbo_ids: dict[str, str]) -> dict[str, Any]:
    quantity = Decimal(str(line["quantity"]))
    price = Decimal(str(line["unit_price"]))
    entry: dict[str, Any] = {
        "DetailType": "SalesItemLineDetail",
        "Amount": line_amount(quantity, price),
        "SalesItemLineDetail": {
            "ItemRef": {"value": item_qbo_ids[str(line["product_id"])]},
            "Qty": quantity,
            "UnitPrice": price,
        },
    }
    if field(line, "description"):
        entry["Description"] = field(line, "description")
    return entry


def invoice_body(
    data: dict[str, Any], customer_qbo_id: str, item_qbo_ids: dict[str, str]
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "CustomerRef": {"value": customer_qbo_id},
        "Line": [_line(line, item_qbo_ids) for line in data.get("lines", [])],
        "TxnDate": data["issue_date"],
        "PrivateNote": invoice_marker(str(data["id"])),
    }
    if field(data, "number"):
        body["DocNumber"] = field(data, "number")
    if field(data, "due_date"):
        body["DueDate"] = field(data, "due_date")
    if field(data, "memo"):
        body["CustomerMemo"] = {"value": field(data, "memo")}
    if field(data, "email"):
        body["BillEmail"] = {"Address": field(data, "email")}
    if field(data, "currency"):
        body["CurrencyRef"] = {"value": field(data, "currency")}
    return body


# The push ----------------------------------------------------------------------------------------


async def push(job: PushJob) -> Written:
    link = await asyncio.to_thread(
        jobs.link_of, job.store.engine, job.realm, INVOICE.name, job.jobroutr_id
    )
    if link is not None:
        return Written(link.qbo_id, note="already in QuickBooks")
    body = invoice_body(job.data, *await _dependencies(job))
    number = body.get("DocNumber")
    if job.uncertain and number:
        mine = await _ours(job, number)
        if mine is not None:
            return Written(mine, job.link(INVOICE, mine), note="read back")
    try:
        record = await job.qbo.write(
            job.realm, INVOICE.entity, body, requestid=job.rid(steps.CREATE)
        )
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
        return Written(mine, job.link(INVOICE, mine), note="already in QuickBooks")
    qbo_id = str(record["Id"])
    return Written(qbo_id, job.link(INVOICE, qbo_id))


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
        raise Wait(
            f"{' and '.join(f'{kind} {rid}' for kind, rid in missing)} to reach QuickBooks",
            DEPENDENCY_RECHECK,
            waits_on=[f"{kind}:{rid}" for kind, rid in missing],
            give_up_after=job.config.dependency_wait,
        )
    return customers[customer_id], items


async def _ours(job: PushJob, number: str) -> str | None:
    """The QBO id of the invoice with this DocNumber if this appliance wrote it for this
    JobRoutr invoice (it carries our note), else None."""
    body = await job.qbo.query(
        job.realm, Select(INVOICE.entity).filter("DocNumber", "=", number).page(1, 10)
    )
    rows = body.get(INVOICE.entity, [])
    for row in rows if isinstance(rows, list) else []:
        if str(row.get("PrivateNote", "")).startswith(invoice_marker(job.jobroutr_id)):
            return str(row["Id"])
    return None


PUSH = KindPush(INVOICE, ("invoice.created",), push)
