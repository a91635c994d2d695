"""Customers: JobRoutr's customer as a QBO body, QBO's customer as our mirror row, and the push
of ``customer.created`` / ``customer.updated``.

A customer is looked up by DisplayName before it is created: a same-named one (inactive ones
included) is linked, not duplicated. A name held by a vendor, an employee or another JobRoutr
customer is written with the configured suffix, or held for the operator (``[push] name_clash``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from appliance.core.kinds import CUSTOMER
from appliance.qbo.errors import QboError, ValidationError
from appliance.storage.mirror import MirrorRow
from appliance.sync.fields import (
    Mapped,
    Skip,
    address_from_qbo,
    address_to_qbo,
    clean,
    field,
    flag,
    ref,
    sub,
    text,
    when,
)
from appliance.sync.push import exact, steps
from appliance.sync.push.books import company_books
from appliance.sync.push.job import KindPush, PushJob, Written, mirrored
from appliance.sync.push.outcome import HINTS, Refused

#: The QBO fields a JobRoutr customer owns that may be absent from it. Each event carries the
#: whole record, so one absent from an update is cleared in QBO (see ``PushJob.clear``).
OPTIONAL = (
    "GivenName",
    "FamilyName",
    "CompanyName",
    "Notes",
    "PrimaryEmailAddr",
    "PrimaryPhone",
    "Mobile",
    "BillAddr",
    "ShipAddr",
)


# JobRoutr -> QBO ---------------------------------------------------------------------------------


def display_name(data: dict[str, Any]) -> str:
    """As the contract says: display_name, else company_name, else "given family"."""
    given = " ".join(p for p in (field(data, "given_name"), field(data, "family_name")) if p)
    return field(data, "display_name") or field(data, "company_name") or given


def customer_body(data: dict[str, Any], name: str) -> dict[str, Any]:
    """The QBO fields JobRoutr owns that the record has."""
    email, phone, mobile = field(data, "email"), field(data, "phone"), field(data, "mobile")
    body: dict[str, Any] = {
        "DisplayName": name,
        "GivenName": field(data, "given_name"),
        "FamilyName": field(data, "family_name"),
        "CompanyName": field(data, "company_name"),
        "Notes": field(data, "notes"),
        "PrimaryEmailAddr": {"Address": email} if email else None,
        "PrimaryPhone": {"FreeFormNumber": phone} if phone else None,
        "Mobile": {"FreeFormNumber": mobile} if mobile else None,
        "BillAddr": address_to_qbo(data["billing_address"])
        if data.get("billing_address")
        else None,
        "ShipAddr": address_to_qbo(data["service_address"])
        if data.get("service_address")
        else None,
        "Active": data.get("active", True) is not False,
    }
    if isinstance(data.get("taxable"), bool):
        body["Taxable"] = data["taxable"]
    return {k: v for k, v in body.items() if v is not None}


# QBO -> our row ---------------------------------------------------------------------------------


def customer_row(record: dict[str, Any]) -> Mapped:
    """A QBO customer (or sub-customer) as the mirror keeps it, in the contract's shape."""
    qbo_id = str(record.get("Id", ""))
    name = text(record.get("DisplayName"))
    if name is None:
        return Skip(qbo_id, None, "has no display name")
    balance = record.get("Balance")
    data = clean(
        {
            "display_name": name,
            "given_name": text(record.get("GivenName")),
            "family_name": text(record.get("FamilyName")),
            "company_name": text(record.get("CompanyName")),
            "email": sub(record, "PrimaryEmailAddr", "Address"),
            "phone": sub(record, "PrimaryPhone", "FreeFormNumber"),
            "mobile": sub(record, "Mobile", "FreeFormNumber"),
            "billing_address": address_from_qbo(record.get("BillAddr")),
            "service_address": address_from_qbo(record.get("ShipAddr")),
            "notes": text(record.get("Notes")),
            "taxable": flag(record, "Taxable"),
            "active": record.get("Active", True) is not False,
            "balance": str(balance) if isinstance(balance, (int, Decimal)) else None,
            "parent_qbo_id": ref(record, "ParentRef"),
            "job": bool(record.get("Job", False)),
        }
    )
    columns = {
        "display_name": name[:500],
        "active": data["active"],
        "parent_qbo_id": data.get("parent_qbo_id"),
        "sync_token": text(record.get("SyncToken")),
        "qbo_updated_at": when(record),
    }
    return MirrorRow(qbo_id, columns, data)


# The push ----------------------------------------------------------------------------------------


async def push(job: PushJob) -> Written:
    link, superseded = await job.linked(CUSTOMER)
    if link is not None and superseded:
        return Written(link.qbo_id, note="superseded by a newer version")
    name = display_name(job.data)
    record: dict[str, Any] | None = None
    if link is not None:
        exact.same_link(job, CUSTOMER, link.qbo_id)
        known = await exact.known(job, CUSTOMER, link.qbo_id, customer_row)
        try:
            record = await _update(job, known, name, steps.LINKED) if known else None
        except ValidationError as exc:
            if exc.qbo_code != "610":
                raise
            record = None  # merged away or deleted in QuickBooks: write it anew
        if record is None and (said := exact.named(job)) is not None:
            raise exact.unknown(CUSTOMER, said)
    elif (said := exact.named(job)) is not None:
        return await _exact(job, said, name)
    if record is None:
        record = await _match_or_create(job, name)
    qbo_id = str(record["Id"])
    return Written(
        qbo_id, job.link(CUSTOMER, qbo_id), mirror=mirrored(CUSTOMER, customer_row(record))
    )


async def _exact(job: PushJob, qbo_id: str, name: str) -> Written:
    """The customer JobRoutr names by ``qbo_id``: linked, written only when it differs."""
    known = await exact.claim(job, CUSTOMER, qbo_id, customer_row)
    ours = customer_body(job.data, name)
    theirs = customer_body(known.data, display_name(known.data)) if known.data else {}
    if known.data and exact.unchanged(ours, theirs, OPTIONAL):
        return Written(qbo_id, job.link(CUSTOMER, qbo_id), note="linked; nothing to write")
    record = await _update(job, known, name, steps.EXACT)
    return Written(
        qbo_id, job.link(CUSTOMER, qbo_id), mirror=mirrored(CUSTOMER, customer_row(record))
    )


async def _update(job: PushJob, known: exact.Known, name: str, step: str) -> dict[str, Any]:
    """The customer QuickBooks has as ``known``, updated to JobRoutr's record: never made active
    again without the operator, never made inactive while it owes money."""
    body = customer_body(job.data, name)
    ours = await exact.restored(job, CUSTOMER, step == steps.LINKED)
    exact.check_active(job, CUSTOMER, known, body, ours=ours)
    try:
        return await _sparse(job, known, body, exact.step_of(job, known, step), ours=ours)
    except ValidationError as exc:
        if body.get("Active") is False and _open_balance(exc):
            raise await _owes(job, known.qbo_id, name) from None
        raise


async def _sparse(
    job: PushJob, known: exact.Known, body: dict[str, Any], step: str, *, ours: bool
) -> dict[str, Any]:
    qbo_id = known.qbo_id
    try:
        return await job.sparse_update(
            CUSTOMER,
            step=step,
            qbo_id=qbo_id,
            sync_token=known.sync_token,
            body=body,
            optional=OPTIONAL,
            guard=exact.guard(job, CUSTOMER, body, customer_row, ours=ours),
        )
    except ValidationError as exc:
        if exc.qbo_code != "6240":
            raise
    # The new name is taken by a vendor or employee (or an unlinked customer).
    body = customer_body(job.data, _clash_name(job, body["DisplayName"]))
    fresh = await job.qbo.read(job.realm, CUSTOMER.entity, qbo_id)
    exact.check_active(job, CUSTOMER, exact.from_record(fresh, customer_row), body, ours=ours)
    return await job.qbo.write(
        job.realm,
        CUSTOMER.entity,
        {**body, "Id": qbo_id, "SyncToken": str(fresh["SyncToken"]), "sparse": True},
        requestid=job.rid(steps.RENAME),
    )


def _open_balance(exc: ValidationError) -> bool:
    """QuickBooks' refusal to make inactive a customer who owes money ("Delete List Has
    Balance Error"; its code is unverified, so it is known by its words)."""
    return "has balance" in f"{exc.message} {exc.detail or ''}".lower()


async def _owes(job: PushJob, qbo_id: str, name: str) -> Refused:
    """The refusal of an archive: the customer still owes money in QuickBooks."""
    try:
        fresh = await job.qbo.read(job.realm, CUSTOMER.entity, qbo_id)
        balance = fresh.get("BalanceWithJobs") or fresh.get("Balance")
    except QboError:
        balance = None
    owed = f"an open balance of {Decimal(str(balance)):,.2f}" if balance else "an open balance"
    return Refused(
        "open-balance",
        f"The customer {name!r} is archived in JobRoutr, but QuickBooks keeps customer {qbo_id} "
        f"active because it has {owed}: a customer who owes money cannot be made inactive.",
        HINTS["open-balance"],
    )


async def _link_named(
    job: PushJob, step: str, name: str, *, new: bool = False
) -> dict[str, Any] | bool:
    """The QBO customer of that name, updated to this record: the record, True when there
    is none, False when another JobRoutr customer holds it (a clash, as with a vendor).
    ``new``: the first lookup before a create, shared with the backlog (``Lookup.find_new``)."""
    find = (
        job.lookup.find_new(job, CUSTOMER, name, display_name)
        if new
        else job.lookup.find(job.realm, CUSTOMER, name)
    )
    for candidate in await find:
        if not await job.claimable(CUSTOMER, candidate):
            return False
        return await job.sparse_update(
            CUSTOMER,
            step=step,
            qbo_id=str(candidate["Id"]),
            sync_token=str(candidate["SyncToken"]),
            body=customer_body(job.data, name),
            optional=OPTIONAL,
        )
    return True


async def _currency(job: PushJob) -> dict[str, Any]:
    """A new customer's ``CurrencyRef``: JobRoutr's ``currency`` when it is not the company's
    home currency (a customer's currency is fixed once written, so only a create sends it);
    refused before writing when the company has multi-currency off."""
    code = field(job.data, "currency")
    if not code:
        return {}
    books = await company_books(job)
    if code == books.home_currency:
        return {}
    if not books.multicurrency:
        raise Refused(
            "currency-off",
            f"This customer is kept in {code}, but the QuickBooks company keeps its books in "
            f"{books.home_currency} only (multi-currency is off), so it was not written.",
            HINTS["currency-off"],
        )
    return {"CurrencyRef": {"value": code}}


async def _create(job: PushJob, step: str, name: str) -> dict[str, Any] | None:
    """Create it; None when the name is taken (6240) by a record the lookup did not see."""
    body = customer_body(job.data, name) | await _currency(job)
    try:
        return await job.qbo.write(job.realm, CUSTOMER.entity, body, requestid=job.rid(step))
    except ValidationError as exc:
        if exc.qbo_code != "6240":
            raise
    return None


async def _match_or_create(job: PushJob, name: str) -> dict[str, Any]:
    found = await _link_named(job, steps.MATCH, name, new=True)
    if found is True:
        created = await _create(job, steps.CREATE, name)
        if created is not None:
            return created
        # A customer created meanwhile (another record, the QBO user) may hold it now.
        found = await _link_named(job, steps.MATCH_AGAIN, name)
    if isinstance(found, dict):
        return found
    return await _create_suffixed(job, _clash_name(job, name))


def _clash_name(job: PushJob, name: str) -> str:
    """The name is taken by a vendor, an employee or another JobRoutr customer: the
    configured rule adds a suffix, or holds the event for the operator. Never loops: the
    suffixed name is tried once."""
    config = job.config
    if config.name_clash != "suffix" or name.endswith(config.name_clash_suffix):
        holder = "another customer, a vendor or an employee"
        raise Refused(
            "6240",
            f"QuickBooks already has {holder} named {name!r}, so this customer was held "
            "for you instead of being written under another name.",
            HINTS["6240"] + ' Or set [push] name_clash = "suffix" to add a suffix automatically.',
        )
    return name + config.name_clash_suffix


async def _create_suffixed(job: PushJob, name: str) -> dict[str, Any]:
    found = await _link_named(job, steps.MATCH_SUFFIXED, name)
    if isinstance(found, dict):
        return found
    if found is True and (created := await _create(job, steps.CREATE_SUFFIXED, name)):
        return created
    raise Refused(
        "6240",
        f"QuickBooks already uses both {name.removesuffix(job.config.name_clash_suffix)!r} "
        f"and {name!r} for other records, so this customer was held for you.",
        HINTS["6240"],
    )


PUSH = KindPush(CUSTOMER, ("customer.created", "customer.updated"), push, name_of=display_name)
