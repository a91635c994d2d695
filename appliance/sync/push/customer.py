"""Customers: JobRoutr's customer as a QBO body, QBO's customer as our mirror row, and the push
of ``customer.created`` / ``customer.updated``.

A customer with no link is looked up by DisplayName before it is created (inactive ones
included): a same-named one is linked only when its email, phone or billing address agrees too
(``matching``), never revived from inactive on its own; otherwise the operator is asked
(``Ask``). A name only other JobRoutr customers hold gets "<name> (n)"; one held by a vendor or an
employee only, the configured suffix, or is held for the operator (``[push] name_clash``).
docs/push.md, "Matching customers", tells the rules.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from appliance.core import review
from appliance.core.kinds import CUSTOMER
from appliance.core.money import money_text
from appliance.core.review import Decision
from appliance.qbo.errors import QboError, ValidationError
from appliance.storage import push as jobs
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
from appliance.sync.push import exact, matching, steps
from appliance.sync.push.books import company_books
from appliance.sync.push.job import KindPush, PushJob, Written, mirrored
from appliance.sync.push.lookahead import fold
from appliance.sync.push.outcome import HINTS, Ask, Refused

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

#: "<name> (n)" names one look at QuickBooks asks about, and how many looks at most.
NUMBERED_WINDOW = 20
NUMBERED_WINDOWS = 5
#: Creates under the next "<name> (n)" after one was taken meanwhile (6240), at most.
NUMBERED_TRIES = 5
#: The operator's decision could not be carried out as it stood.
ASK_AGAIN = (
    "Retry the event (`appliance events retry ID`): it is looked at afresh, and you are asked "
    "again if it still needs you."
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
            "balance": money_text(balance) if isinstance(balance, (int, Decimal)) else None,
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
        # A customer created as "<name> (n)" keeps its number while JobRoutr's name is <name>.
        kept = matching.kept_name(name, known.data.get("display_name")) if known else name
        try:
            record = await _update(job, known, kept, steps.LINKED) if known else None
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
    """Create it; None when the name is taken (6240) by a record the lookup did not see.
    The other workers know it for this JobRoutr customer's before its link is written."""
    body = customer_body(job.data, name) | await _currency(job)
    async with job.lookup.created.creating(job.realm, fold(name)):
        try:
            record = await job.qbo.write(job.realm, CUSTOMER.entity, body, requestid=job.rid(step))
        except ValidationError as exc:
            if exc.qbo_code != "6240":
                raise
            return None
        job.lookup.created.add(job.realm, str(record["Id"]), job.jobroutr_id)
        return record


async def _match_or_create(job: PushJob, name: str) -> dict[str, Any]:
    """A customer with no link yet: the operator's decision if they gave one, else the rules
    of docs/push.md, "Matching customers"."""
    if job.decision is not None:
        return await _decided(job, name, job.decision)
    # A resumed job may have created this very customer and stopped before linking it: its
    # create goes first, with the same requestid, so QuickBooks answers with that customer
    # rather than write again (a name that is free is simply created, as the rules would have).
    found = await _create(job, steps.CREATE, name) if job.uncertain else None
    if found is None:
        candidates = await (
            job.lookup.find(job.realm, CUSTOMER, name)
            if job.uncertain
            else job.lookup.find_new(job, CUSTOMER, name, display_name)
        )
        found = await _judge(job, name, candidates, steps.MATCH)
    if found is None and not job.uncertain:
        found = await _create(job, steps.CREATE, name)
        if found is None:
            # A customer created meanwhile (another record, the QBO user) may hold it now.
            candidates = await job.lookup.find(job.realm, CUSTOMER, name)
            found = await _judge(job, name, candidates, steps.MATCH_AGAIN)
    # None: no customer has the name, a vendor or an employee does.
    return found or await _create_suffixed(job, _clash_name(job, name))


async def _holder(job: PushJob, record: dict[str, Any]) -> str | None:
    """The JobRoutr customer a QBO customer is linked to (or was just created for), if any."""
    qbo_id = str(record["Id"])
    just = job.lookup.created.holder(job.realm, qbo_id)
    return just or await asyncio.to_thread(
        jobs.linked_to, job.store.engine, job.realm, CUSTOMER.name, qbo_id
    )


async def _judge(
    job: PushJob, name: str, candidates: list[dict[str, Any]], step: str
) -> dict[str, Any] | None:
    """The same-named customers found, judged: the one that is JobRoutr's, written over; a new
    "<name> (n)" when all are other JobRoutr customers'; None when there are none. Asks the
    operator (``Ask``) about a bare name match, or a match QuickBooks has made inactive."""
    if not candidates:
        return None
    await job.lookup.created.settled(job.realm, fold(name))  # a create of it may be in flight
    free = []
    for candidate in candidates:
        holder = await _holder(job, candidate)
        if holder == job.jobroutr_id:
            return await _write_over(job, step, candidate, name)
        if holder is None:
            free.append(candidate)
    if not free:
        # Each is another JobRoutr customer's: JobRoutr says this one is someone else.
        return await _create_numbered(job, name)
    for candidate in free:
        theirs = _contract(candidate)
        agrees = matching.corroborated(job.data, theirs)
        if agrees is None:
            continue
        if candidate.get("Active") is False and job.data.get("active", True) is not False:
            create_as = matching.numbered(name, await _lowest_free(job, name))
            qbo_id = str(candidate["Id"])
            raise Ask(
                matching.inactive_case(job.data, theirs, qbo_id, create_as, f"the same {agrees}")
            )
        return await _write_over(job, step, candidate, name)
    create_as = matching.numbered(name, await _lowest_free(job, name))
    raise Ask(matching.name_case(job.data, _contract(free[0]), str(free[0]["Id"]), create_as))


def _contract(record: dict[str, Any]) -> dict[str, Any]:
    row = customer_row(record)
    return row.data if isinstance(row, MirrorRow) else {}


async def _write_over(job: PushJob, step: str, record: dict[str, Any], name: str) -> dict[str, Any]:
    """JobRoutr's record written over the QBO customer it is (Active as JobRoutr says)."""
    return await job.sparse_update(
        CUSTOMER,
        step=step,
        qbo_id=str(record["Id"]),
        sync_token=str(record["SyncToken"]),
        body=customer_body(job.data, name),
        optional=OPTIONAL,
    )


async def _lowest_free(job: PushJob, name: str) -> int:
    """The lowest n whose "<name> (n)" no customer (active or not), vendor or employee holds,
    asking QuickBooks about ``NUMBERED_WINDOW`` names at a time."""
    start = 2
    for _ in range(NUMBERED_WINDOWS):
        names = [matching.numbered(name, n) for n in range(start, start + NUMBERED_WINDOW)]
        taken: list[str] = []
        for statement in matching.taken_queries(names):
            body = await job.qbo.query(job.realm, statement)
            for rows in body.values():
                if isinstance(rows, list):
                    taken += [fold(str(r.get("DisplayName", ""))) for r in rows]
        n = matching.lowest_free(name, taken, start)
        if n < start + NUMBERED_WINDOW:
            return n
        start += NUMBERED_WINDOW
    raise Refused(
        "6240",
        f"QuickBooks already uses {matching.numbered(name, 2)!r} to "
        f"{matching.numbered(name, start - 1)!r} for other records, so this customer was held "
        "for you.",
        HINTS["6240"],
    )


async def _create_numbered(job: PushJob, name: str) -> dict[str, Any]:
    """Created under the lowest free "<name> (n)"; one taken meanwhile (6240) tries the next,
    ``NUMBERED_TRIES`` times. A resumed job tries from (2) up: each n has its own requestid, so
    QuickBooks answers with the customer an earlier attempt created rather than add another."""
    free = await _lowest_free(job, name)
    n = 2 if job.uncertain else free
    while n < free + NUMBERED_TRIES:
        if (
            created := await _create(job, steps.numbered(n), matching.numbered(name, n))
        ) is not None:
            return created
        n += 1
    raise Refused(
        "6240",
        f"QuickBooks took {matching.numbered(name, n - 1)!r} and the names before it for other "
        "records while this customer was being written, so it was held for you.",
        HINTS["6240"],
    )


async def _decided(job: PushJob, name: str, decision: Decision) -> dict[str, Any]:
    """The operator's word: link to the customer they chose, or create under the name shown."""
    if decision.action == review.LINK and decision.qbo_id:
        return await _link_decided(job, name, decision.qbo_id)
    if decision.action == review.CREATE and decision.name:
        created = await _create(job, steps.DECIDED_CREATE, decision.name)
        if created is None:
            raise Refused(
                "6240",
                f"QuickBooks gave the name {decision.name!r} to another record after you chose "
                "to create it, so this customer was not written.",
                ASK_AGAIN,
            )
        return created
    raise Refused(
        "decision",
        f"The decision {decision.action!r} cannot be carried out for a customer.",
        ASK_AGAIN,
    )


async def _link_decided(job: PushJob, name: str, qbo_id: str) -> dict[str, Any]:
    try:
        record = await job.qbo.read(job.realm, CUSTOMER.entity, qbo_id)
    except ValidationError:
        raise Refused(
            "610",
            f"QuickBooks has no customer {qbo_id} (deleted or merged since you chose it), so "
            "nothing was written.",
            ASK_AGAIN,
        ) from None
    holder = await _holder(job, record)
    if holder not in (None, job.jobroutr_id):
        raise Refused(
            "linked",
            f"QuickBooks' customer {qbo_id} is JobRoutr customer {holder}'s now, so it was not "
            "linked to this one too.",
            ASK_AGAIN,
        )
    return await _write_over(job, steps.DECIDED_LINK, record, name)


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
    candidates = await job.lookup.find(job.realm, CUSTOMER, name)
    if (found := await _judge(job, name, candidates, steps.MATCH_SUFFIXED)) is not None:
        return found
    if created := await _create(job, steps.CREATE_SUFFIXED, name):
        return created
    raise Refused(
        "6240",
        f"QuickBooks already uses both {name.removesuffix(job.config.name_clash_suffix)!r} "
        f"and {name!r} for other records, so this customer was held for you.",
        HINTS["6240"],
    )


PUSH = KindPush(CUSTOMER, ("customer.created", "customer.updated"), push, name_of=display_name)
