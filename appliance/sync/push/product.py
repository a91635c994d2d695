"""Products: JobRoutr's product as a QBO item body, QBO's item as our mirror row, and the push of
``product.created`` / ``product.updated``.

An item is looked up by Name before it is created (a same-named one is linked); a new one needs an
income and an expense account, its own or the company's defaults (it waits for those).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

from appliance.core.kinds import PRODUCT
from appliance.qbo.errors import ValidationError
from appliance.storage import push as jobs
from appliance.storage.mirror import MirrorRow
from appliance.sync.fields import Mapped, Skip, clean, field, flag, ref, text, when
from appliance.sync.push import exact, steps
from appliance.sync.push.job import KindPush, PushJob, Written, mirrored
from appliance.sync.push.outcome import Refused, Wait

#: JobRoutr's product types and QBO's item types, both ways.
TO_QBO_TYPES = {"service": "Service", "non_inventory": "NonInventory"}
FROM_QBO_TYPES = {"Service": "service", "NonInventory": "non_inventory", "Inventory": "inventory"}
#: The QBO fields a JobRoutr product owns that may be absent from it (cleared when they are).
OPTIONAL = ("Description", "Sku")
#: What JobRoutr keeps in step of a QBO inventory item (QuickBooks keeps its type, stock and
#: accounts).
INVENTORY_OWNED = ("Name", "Description", "UnitPrice", "Active")
#: The item types that are products or services (a category is neither), and in words.
SOLD = ("Service", "NonInventory", "Inventory")
WORDS = {
    "Service": "a service",
    "NonInventory": "a non-inventory product",
    "Inventory": "an inventory item",
    "Category": "a category",
    "Group": "a bundle",
}
SETTINGS_WAIT = timedelta(seconds=60)


# JobRoutr -> QBO ---------------------------------------------------------------------------------


def product_name(data: dict[str, Any]) -> str:
    return field(data, "name") or ""


def item_body(data: dict[str, Any], income: str | None, expense: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Name": field(data, "name") or "",
        "Type": TO_QBO_TYPES.get(str(data.get("type", "service")), "Service"),
        "UnitPrice": Decimal(str(data["price"])),
        "Active": data.get("active", True) is not False,
        "Description": field(data, "description"),
        "Sku": field(data, "sku"),
    }
    if isinstance(data.get("taxable"), bool):
        body["Taxable"] = data["taxable"]
    if income:
        body["IncomeAccountRef"] = {"value": income}
    if expense:
        body["ExpenseAccountRef"] = {"value": expense}
    return {k: v for k, v in body.items() if v is not None}


# QBO -> our row ---------------------------------------------------------------------------------


def item_row(record: dict[str, Any]) -> Mapped:
    """A QBO item as the mirror keeps it; one without a name or a price is skipped."""
    qbo_id = str(record.get("Id", ""))
    name = text(record.get("Name"))
    if name is None:
        return Skip(qbo_id, None, "has no name")
    price = record.get("UnitPrice")
    if isinstance(price, bool) or not isinstance(price, (int, Decimal)):
        return Skip(qbo_id, name, "has no price")
    item_type = FROM_QBO_TYPES.get(str(record.get("Type")), "service")
    data = clean(
        {
            "name": name,
            "fully_qualified_name": text(record.get("FullyQualifiedName")),
            "description": text(record.get("Description")),
            "type": item_type,
            "price": str(price),
            "sku": text(record.get("Sku")),
            "taxable": flag(record, "Taxable"),
            "income_account_id": ref(record, "IncomeAccountRef"),
            "expense_account_id": ref(record, "ExpenseAccountRef"),
            "active": record.get("Active", True) is not False,
        }
    )
    columns = {
        "name": name[:100],
        "item_type": item_type,
        "active": data["active"],
        "price": str(price),
        "sync_token": text(record.get("SyncToken")),
        "qbo_updated_at": when(record),
    }
    return MirrorRow(qbo_id, columns, data)


# The push ----------------------------------------------------------------------------------------


async def push(job: PushJob) -> Written:
    link, superseded = await job.linked(PRODUCT)
    if link is not None and superseded:
        return Written(link.qbo_id, note="superseded by a newer version")
    record: dict[str, Any] | None = None
    if link is not None:
        exact.same_link(job, PRODUCT, link.qbo_id)
        record = await _update(job, link.qbo_id)
        if record is None and (said := exact.named(job)) is not None:
            raise exact.unknown(PRODUCT, said)
    elif (said := exact.named(job)) is not None:
        return await _exact(job, said)
    if record is None:
        record = await _match_or_create(job)
    qbo_id = str(record["Id"])
    return Written(qbo_id, job.link(PRODUCT, qbo_id), mirror=mirrored(PRODUCT, item_row(record)))


def update_body(data: dict[str, Any], qbo_type: str | None) -> dict[str, Any]:
    """JobRoutr's product as an update of QuickBooks' item of that type: never its ``Type``;
    an inventory item only its name, description and price (and whether it is active), never
    its quantities or accounts."""
    body = item_body(data, field(data, "income_account_id"), field(data, "expense_account_id"))
    body.pop("Type", None)
    if qbo_type == "Inventory":
        return {k: v for k, v in body.items() if k in INVENTORY_OWNED}
    return body


def _optional(qbo_type: str | None) -> tuple[str, ...]:
    return ("Description",) if qbo_type == "Inventory" else OPTIONAL


async def _update(job: PushJob, qbo_id: str) -> dict[str, Any] | None:
    """The linked item, updated; None when it is gone from QuickBooks (write it anew)."""
    known = await exact.known(job, PRODUCT, qbo_id, item_row)
    return await _write(job, known, steps.LINKED) if known is not None else None


async def _exact(job: PushJob, qbo_id: str) -> Written:
    """The item JobRoutr names by ``qbo_id``: linked, written only when it differs."""
    known = await exact.claim(job, PRODUCT, qbo_id, item_row)
    if known.qbo_type not in SOLD:
        what = WORDS.get(str(known.qbo_type), f"of type {known.qbo_type}")
        raise exact.wrong_kind(PRODUCT, qbo_id, f"{what}, not a product or service")
    if job.data.get("type") == "inventory" and known.qbo_type != "Inventory":
        raise exact.wrong_kind(PRODUCT, qbo_id, f"{WORDS[known.qbo_type]}, not an inventory item")
    ours = update_body(job.data, known.qbo_type)
    theirs = update_body(known.data, known.qbo_type) if known.data else {}
    if known.data and exact.unchanged(ours, theirs, _optional(known.qbo_type)):
        return Written(qbo_id, job.link(PRODUCT, qbo_id), note="linked; nothing to write")
    record = await _write(job, known, steps.EXACT)
    if record is None:
        raise exact.unknown(PRODUCT, qbo_id)
    return Written(qbo_id, job.link(PRODUCT, qbo_id), mirror=mirrored(PRODUCT, item_row(record)))


async def _write(job: PushJob, known: exact.Known, step: str) -> dict[str, Any] | None:
    """The item QuickBooks has as ``known``, updated to JobRoutr's product (never made active
    again without the operator); None when it is gone from QuickBooks."""
    body = update_body(job.data, known.qbo_type)
    ours = await exact.restored(job, PRODUCT, step == steps.LINKED)
    exact.check_active(job, PRODUCT, known, body, ours=ours)
    try:
        return await job.sparse_update(
            PRODUCT,
            step=exact.step_of(job, known, step),
            qbo_id=known.qbo_id,
            sync_token=known.sync_token,
            body=body,
            optional=_optional(known.qbo_type),
            guard=exact.guard(job, PRODUCT, body, item_row, ours=ours),
        )
    except ValidationError as exc:
        if exc.qbo_code == "6240":
            raise Refused(
                "6240",
                f"QuickBooks already has another product or service named {body['Name']!r}.",
                "Rename the product in JobRoutr or the other item in QuickBooks, then "
                "retry the event.",
            ) from None
        if exc.qbo_code != "610":
            raise
    return None


async def _link(
    job: PushJob, step: str, candidates: list[dict[str, Any]], body: dict[str, Any]
) -> dict[str, Any] | None:
    """The first same-named item, updated to this product (None when there is none)."""
    for candidate in candidates:
        if not await job.claimable(PRODUCT, candidate):
            raise Refused(
                "6240",
                f"QuickBooks' item {body['Name']!r} is already linked to another JobRoutr product.",
                "Give one of the two products another name in JobRoutr, then retry the event.",
            )
        return await job.sparse_update(
            PRODUCT,
            step=step,
            qbo_id=str(candidate["Id"]),
            sync_token=str(candidate["SyncToken"]),
            body=body,
            optional=OPTIONAL,
        )
    return None


async def _accounts(job: PushJob) -> tuple[str, str]:
    """The product's income and expense accounts, else the company's defaults; it waits for
    the operator to choose defaults when there are none."""
    income = field(job.data, "income_account_id")
    expense = field(job.data, "expense_account_id")
    if income is None or expense is None:
        default_income, default_expense = await asyncio.to_thread(
            jobs.default_accounts, job.store.engine, job.realm
        )
        income, expense = income or default_income, expense or default_expense
    if income is None or expense is None:
        raise Wait(
            "choose default accounts: the product names no income and expense accounts "
            "and no defaults are chosen (`appliance settings set`)",
            SETTINGS_WAIT,
            waits_on=["settings:accounts"],
        )
    return income, expense


async def _match_or_create(job: PushJob) -> dict[str, Any]:
    name = product_name(job.data)
    own = item_body(
        job.data, field(job.data, "income_account_id"), field(job.data, "expense_account_id")
    )
    found = await job.lookup.find_new(job, PRODUCT, name, product_name)
    linked = await _link(job, steps.MATCH, found, own)
    if linked is not None:
        return linked
    body = item_body(job.data, *await _accounts(job))
    try:
        return await job.qbo.write(job.realm, PRODUCT.entity, body, requestid=job.rid(steps.CREATE))
    except ValidationError as exc:
        if exc.qbo_code != "6240":
            raise
    # Named meanwhile (another product, a QuickBooks user) since the lookup: link it.
    found = await job.lookup.find(job.realm, PRODUCT, name)
    linked = await _link(job, steps.MATCH_AGAIN, found, body)
    if linked is not None:
        return linked
    raise Refused(
        "6240",
        f"QuickBooks already has a product or service named {name!r} that could not be linked.",
        "Rename the product in JobRoutr or the item in QuickBooks, then retry the event.",
    )


PUSH = KindPush(PRODUCT, ("product.created", "product.updated"), push, name_of=product_name)
