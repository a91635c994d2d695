"""Products: JobRoutr's product as a QBO item body, QBO's item as our mirror row, and the push of
``product.created`` / ``product.updated``.

An item is looked up by Name before it is created: a same-named one of the product's type is
linked, one of another type or made inactive in QuickBooks is a question for the operator, and a
name other JobRoutr products hold gets the next free number (``item_match``). A new item needs an
income and an expense account, its own or the company's defaults (it waits for those).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

from appliance.core import review
from appliance.core.kinds import PRODUCT
from appliance.core.money import money_text
from appliance.core.words import a_or_an
from appliance.qbo.errors import ValidationError
from appliance.storage import push as jobs
from appliance.storage.mirror import MirrorRow
from appliance.sync.fields import Mapped, Skip, clean, field, flag, ref, text, when
from appliance.sync.push import exact, item_match, steps
from appliance.sync.push.job import KindPush, PushJob, Written, mirrored
from appliance.sync.push.lookahead import fold
from appliance.sync.push.outcome import Ask, Refused, Wait

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
#: After a decision that could not be carried out: the operator's retry asks again.
ASK_AGAIN = "Retry the event (`appliance events retry ID`) to be asked again."


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
            "price": money_text(price),
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
        "price": money_text(price),
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


def update_body(
    data: dict[str, Any], qbo_type: str | None, current: str | None = None
) -> dict[str, Any]:
    """JobRoutr's product as an update of QuickBooks' item of that type: never its ``Type``;
    an inventory item only its name, description and price (and whether it is active), never
    its quantities or accounts. ``current``: the item's name now, kept when it is the product's
    name numbered ("Hedge (2)" while the product is still "Hedge": ``item_match.kept_name``)."""
    body = item_body(data, field(data, "income_account_id"), field(data, "expense_account_id"))
    body.pop("Type", None)
    body["Name"] = item_match.kept_name(body["Name"], current)
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
    ours = update_body(job.data, known.qbo_type, known.data.get("name"))
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
    body = update_body(job.data, known.qbo_type, known.data.get("name"))
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
    """A product with no link: the operator's decision if they were asked, else the same-named
    item it is (``item_match``), else a new item, numbered when the name is someone else's."""
    if job.decision is not None and job.decision.action in (review.LINK, review.CREATE):
        return await _decided(job, job.decision)
    name = product_name(job.data)
    found = await job.lookup.find_new(job, PRODUCT, name, product_name)
    matched = await _matched(job, steps.MATCH, found)
    if matched is not None:
        return matched
    if not found:
        body = item_body(job.data, *await _accounts(job))
        if (created := await _create(job, body, steps.CREATE)) is not None:
            return created
        # Named meanwhile (another product, a QuickBooks user) since the lookup: look again.
        found = await job.lookup.find(job.realm, PRODUCT, name)
        matched = await _matched(job, steps.MATCH_AGAIN, found)
        if matched is not None:
            return matched
    return await _create_numbered(job, name)


async def _create(job: PushJob, body: dict[str, Any], step: str) -> dict[str, Any] | None:
    """The item created; None when its name is taken (6240). The other workers know it for
    this product's from the moment QuickBooks answers (``Created``), before its link is written,
    and wait for a create of the same name in flight."""
    created = job.lookup.created
    async with created.creating(job.realm, fold(body["Name"]), PRODUCT.entity):
        try:
            record = await job.qbo.write(job.realm, PRODUCT.entity, body, requestid=job.rid(step))
        except ValidationError as exc:
            if exc.qbo_code != "6240":
                raise
            return None
        created.add(job.realm, str(record["Id"]), job.jobroutr_id, PRODUCT.entity)
        return record


async def _held(job: PushJob, record: dict[str, Any]) -> bool:
    """Another JobRoutr product's: linked to it, or created for it a moment ago."""
    just = job.lookup.created.holder(job.realm, str(record["Id"]), PRODUCT.entity)
    if just is not None:
        return just != job.jobroutr_id
    return not await job.claimable(PRODUCT, record)


async def _matched(job: PushJob, step: str, found: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The same-named item this product is, updated to it; None when every one is someone
    else's. An item of another type, or made inactive in QuickBooks, asks the operator."""
    if found:  # a create of the name may be in flight: its item is someone else's
        await job.lookup.created.settled(job.realm, fold(product_name(job.data)), PRODUCT.entity)
    held = {str(r["Id"]) for r in found if await _held(job, r)}
    archived = job.data.get("active", True) is False
    qbo_type = item_body(job.data, None, None)["Type"]
    judged = item_match.judge(found, held, qbo_type, archived)
    if judged is None:
        return None
    record, reason = judged
    if reason is not None:
        raise Ask(await _case(job, reason, record))
    return await job.sparse_update(
        PRODUCT,
        step=step,
        qbo_id=str(record["Id"]),
        sync_token=str(record["SyncToken"]),
        body=update_body(job.data, record.get("Type")),
        optional=OPTIONAL,
    )


async def _case(job: PushJob, reason: str, record: dict[str, Any]) -> review.ReviewCase:
    """The question about a same-named item, with the name a new item would get."""
    _, create_as = await item_match.free_number(job, product_name(job.data))
    row = item_row(record)
    shown = (
        row.data
        if isinstance(row, MirrorRow)
        else {
            "name": record.get("Name"),
            "type": FROM_QBO_TYPES.get(str(record.get("Type"))),
            "active": item_match.active(record),
        }
    )
    return item_match.case(
        reason,
        record,
        jobroutr=review.summary(PRODUCT.name, job.data),
        candidate=review.summary(PRODUCT.name, shown, str(record["Id"])),
        create_as=create_as,
    )


async def _create_numbered(job: PushJob, name: str) -> dict[str, Any]:
    """Every item of the product's name is another JobRoutr product's: create it under the
    lowest free number; one taken meanwhile (6240) tries the next, a few times at most."""
    accounts = await _accounts(job)
    start = 2
    for attempt in range(1, item_match.MOST_NUMBERED_CREATES + 1):
        number, numbered = await item_match.free_number(job, name, start)
        body = item_body({**job.data, "name": numbered}, *accounts)
        if (created := await _create(job, body, steps.item_numbered(attempt))) is not None:
            return created
        start = number + 1
    raise Refused(
        "6240",
        f"QuickBooks' items named {name!r} are other JobRoutr products', and each numbered name "
        "tried was taken meanwhile, so this product was not created.",
        "Retry the event (`appliance events retry ID`).",
    )


# The operator's decision -------------------------------------------------------------------------


async def _decided(job: PushJob, decision: review.Decision) -> dict[str, Any]:
    if decision.action == review.LINK and decision.qbo_id:
        return await _link_decided(job, decision.qbo_id)
    return await _create_decided(job, decision.name or product_name(job.data))


async def _link_decided(job: PushJob, qbo_id: str) -> dict[str, Any]:
    """The operator linked the product to item ``qbo_id``: written over it (never its type; an
    inventory item its name, description and price only)."""
    try:
        record = await job.qbo.read(job.realm, PRODUCT.entity, qbo_id)
    except ValidationError as exc:
        if exc.qbo_code != "610":
            raise
        raise Refused(
            "610",
            f"QuickBooks has no item {qbo_id} any more, so the product was not linked to it.",
            ASK_AGAIN,
        ) from None
    item_type = str(record.get("Type"))
    if item_type not in item_match.TYPE_WORDS:
        raise Refused(
            "not-an-item",
            f"QuickBooks' item {qbo_id} is {WORDS.get(item_type, a_or_an(item_type))}, not a "
            "product or service, so the product was not linked to it.",
            ASK_AGAIN,
        )
    if not await job.claimable(PRODUCT, record):
        raise Refused(
            "linked-elsewhere",
            f"QuickBooks' item {qbo_id} is linked to another JobRoutr product now, so this one "
            "was not linked to it.",
            ASK_AGAIN,
        )
    body = update_body(job.data, record.get("Type"))
    try:
        return await job.sparse_update(
            PRODUCT,
            step=steps.DECIDED_LINK,
            qbo_id=qbo_id,
            sync_token=str(record["SyncToken"]),
            body=body,
            optional=_optional(record.get("Type")),
        )
    except ValidationError as exc:
        if exc.qbo_code != "6240":
            raise
        raise Refused(
            "6240",
            f"QuickBooks has another item named {body['Name']!r}, so item {qbo_id} could not "
            "take the product's name.",
            "Rename the product in JobRoutr or the other item in QuickBooks, then retry the event "
            "(`appliance events retry ID`) to be asked again.",
        ) from None


async def _create_decided(job: PushJob, name: str) -> dict[str, Any]:
    """The operator chose a new item, under the name they were shown."""
    body = item_body({**job.data, "name": name}, *await _accounts(job))
    if (created := await _create(job, body, steps.DECIDED_CREATE)) is not None:
        return created
    raise Refused(
        "6240",
        f"QuickBooks has had an item named {name!r} since you were asked, so the product was "
        "not created.",
        ASK_AGAIN,
    )


PUSH = KindPush(PRODUCT, ("product.created", "product.updated"), push, name_of=product_name)
