"""Payments: the push of ``payment.created`` / ``updated`` / ``voided`` / ``deleted``
(CONTRACT.md section 1 "data for payment.*", ../shared/qbo/FACTS.md §11 "Payments").

A JobRoutr payment is a QBO ``Payment`` for the linked customer: one ``Line`` per invoice in
``applied_to`` (``LinkedTxn`` of type Invoice), what no line applies left as ``UnappliedAmt`` (a
credit the customer holds), ``PaymentMethodRef`` (``METHOD_NAMES``: found by name, created when
the company has none), ``PaymentRefNum`` (the reference), ``TxnDate``, ``PrivateNote`` (our mark,
then the memo), ``CurrencyRef`` and ``ExchangeRate`` in the customer's currency, and
``DepositToAccountRef``: the account the operator chose, else none (QBO's Undeposited Funds).

It **waits** (``customer:<id>``, ``invoice:<id>`` wake it) until its customer and every invoice it
pays are linked, and until no older job of those invoices is unfinished: an invoice's update still
queued reaches QuickBooks first. Written once: the requestid of each write is frozen
(``steps``); a create whose answer may have been lost is first looked for among the customer's
latest payments, by our mark. ``payment.updated`` replaces the
payment's lines and fields; an older version changes nothing, and one that comes before the create
creates it. ``payment.voided`` voids it (kept, zeroed), ``payment.deleted`` deletes it; both are
quietly done when QuickBooks already has it so, and a payment QuickBooks has deposited fails 6540.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

from appliance.core.books import Books
from appliance.core.kinds import CUSTOMER, INVOICE, PAYMENT
from appliance.qbo.errors import ValidationError
from appliance.qbo.query import Select
from appliance.storage import push as jobs
from appliance.sync.fields import field
from appliance.sync.push import steps
from appliance.sync.push.books import company_books
from appliance.sync.push.depends import waiting
from appliance.sync.push.invoice.body import money
from appliance.sync.push.job import KindPush, PushJob, Written
from appliance.sync.push.outcome import Refused, Wait

EVENTS = ("payment.created", "payment.updated", "payment.voided", "payment.deleted")
#: JobRoutr's method -> the QBO PaymentMethod of that name (and its Type when it is created).
METHOD_NAMES = {
    "cash": ("Cash", "NON_CREDIT_CARD"),
    "check": ("Check", "NON_CREDIT_CARD"),
    "card": ("Credit Card", "CREDIT_CARD"),
    "ach": ("ACH", "NON_CREDIT_CARD"),
    "other": ("Other", "NON_CREDIT_CARD"),
}
DEPENDENCY_RECHECK = timedelta(seconds=30)
NOTE_MAX = 4000  # QBO's PrivateNote
#: How many of the customer's latest payments a read-back looks through for ours.
READ_BACK = 200
#: QBO's answer to reading a record that was deleted (Object Not Found).
GONE = "610"


def payment_marker(jobroutr_id: str) -> str:
    return f"Created by JobRoutr (payment {jobroutr_id})"


def payment_body(
    data: dict[str, Any],
    customer_qbo_id: str,
    invoices: dict[str, str],
    *,
    method_id: str | None,
    deposit_account: str | None,
) -> dict[str, Any]:
    """The QBO Payment for JobRoutr's payment (currency fields: ``currency_fields``)."""
    lines = [
        {
            "Amount": money(entry["amount"]),
            "LinkedTxn": [{"TxnId": invoices[str(entry["invoice_id"])], "TxnType": "Invoice"}],
        }
        for entry in data.get("applied_to") or []
    ]
    note = payment_marker(str(data["id"]))
    if field(data, "memo"):
        note = f"{note}\n{field(data, 'memo')}"
    body: dict[str, Any] = {
        "CustomerRef": {"value": customer_qbo_id},
        "TotalAmt": money(data.get("amount")),
        "TxnDate": data["date"],
        "Line": lines,
        "PrivateNote": note[:NOTE_MAX],
    }
    if field(data, "reference"):
        body["PaymentRefNum"] = field(data, "reference")
    if method_id is not None:
        body["PaymentMethodRef"] = {"value": method_id}
    if deposit_account is not None:
        body["DepositToAccountRef"] = {"value": deposit_account}
    return body


def currency_fields(data: dict[str, Any], books: Books, customer: str | None) -> dict[str, Any]:
    """CurrencyRef (and ExchangeRate for a foreign currency), in the customer's currency; one
    the company or the customer cannot take is refused before anything is written."""
    home = books.home_currency
    code = str(field(data, "currency") or home).upper()
    if code != home and not books.multicurrency:
        raise Refused(
            "currency-off",
            f"This payment is in {code}, but the QuickBooks company keeps its books in {home} "
            "only (multi-currency is off), so it was not written.",
            "Record the payment in the home currency in JobRoutr, or turn multi-currency on in "
            "QuickBooks and run `appliance import accounts`; then retry the event.",
        )
    if code != (customer or home):
        raise Refused(
            "currency-customer",
            f"This payment is in {code}, but its customer is kept in {customer or home} in "
            "QuickBooks, which takes a customer's payments only in its own currency, so it was "
            "not written.",
            "Record the payment in the customer's currency in JobRoutr (it will send it again).",
        )
    fields: dict[str, Any] = {"CurrencyRef": {"value": code}}
    if books.multicurrency and code != home:
        fields["ExchangeRate"] = money(data.get("exchange_rate"), Decimal(1))
    return fields


# The push ----------------------------------------------------------------------------------------


async def push(job: PushJob) -> Written:
    if job.work.event_type in ("payment.voided", "payment.deleted"):
        return await _end(job)
    link, superseded = await job.linked(PAYMENT)
    if link is not None and superseded:
        return Written(link.qbo_id, note="superseded by a newer version")
    if link is None and (ended := await _ended_later(job)) is not None:
        return Written("", note=f"{ended} in JobRoutr before it reached QuickBooks")
    customer_id, invoices = await _dependencies(job)
    body = await _body(job, customer_id, invoices)
    existing = await _read(job, link.qbo_id) if link is not None else None
    if existing is not None:
        await _owed_enough(job, body, invoices, existing)
        record = await _update(job, existing, body)
        return Written(str(record["Id"]), job.link(PAYMENT, str(record["Id"])), note="updated")
    # Not linked, or deleted in QuickBooks since: written anew.
    record = await _create(job, body, invoices)
    qbo_id = str(record["Id"])
    return Written(qbo_id, job.link(PAYMENT, qbo_id))


async def _body(job: PushJob, customer_id: str, invoices: dict[str, str]) -> dict[str, Any]:
    books = await company_books(job)
    customer_currency = None
    if books.multicurrency:
        customer = await job.qbo.read(job.realm, CUSTOMER.entity, customer_id)
        ref = customer.get("CurrencyRef")
        customer_currency = str(ref.get("value")).upper() if isinstance(ref, dict) else None
    currency = currency_fields(job.data, books, customer_currency)
    deposit = await asyncio.to_thread(jobs.deposit_account, job.store.engine, job.realm)
    method_id = await _method(job)
    body = payment_body(
        job.data, customer_id, invoices, method_id=method_id, deposit_account=deposit
    )
    return {**body, **currency}


async def _dependencies(job: PushJob) -> tuple[str, dict[str, str]]:
    """The QBO ids of the payment's customer and invoices; it waits for those not linked yet,
    and for every unfinished older job of its invoices (an update still queued goes first)."""
    engine = job.store.engine
    customer_id = str(job.data.get("customer_id", ""))
    invoice_ids = [str(e.get("invoice_id", "")) for e in job.data.get("applied_to") or []]
    customers = await asyncio.to_thread(
        jobs.links_of, engine, job.realm, CUSTOMER.name, [customer_id]
    )
    invoices = await asyncio.to_thread(jobs.links_of, engine, job.realm, INVOICE.name, invoice_ids)
    missing = ([f"{CUSTOMER.name}:{customer_id}"] if customer_id not in customers else []) + [
        f"{INVOICE.name}:{i}" for i in invoice_ids if i not in invoices
    ]
    pending = await asyncio.to_thread(
        jobs.unfinished,
        engine,
        [f"{INVOICE.name}:{i}" for i in invoice_ids if i in invoices],
        before_job=job.claim.job_id,
    )
    if missing or pending:
        words = [f"{t.replace(':', ' ', 1)} to reach QuickBooks" for t in missing] + [
            f"the change queued for {t.replace(':', ' ', 1)} to reach QuickBooks" for t in pending
        ]
        raise await waiting(job, words, missing + pending, DEPENDENCY_RECHECK, missing)
    return customers[customer_id], invoices


async def _method(job: PushJob) -> str | None:
    """The QBO PaymentMethod named for JobRoutr's method: found by name, created when missing."""
    method = job.data.get("method")
    if method not in METHOD_NAMES:
        return None
    name, kind = METHOD_NAMES[str(method)]
    found = await job.qbo.query(
        job.realm, Select("PaymentMethod").filter("Name", "=", name).page(1, 10)
    )
    for row in found.get("PaymentMethod", []) or []:
        return str(row["Id"])
    try:
        made = await job.qbo.write(
            job.realm,
            "PaymentMethod",
            {"Name": name, "Type": kind},
            requestid=job.rid(steps.PAYMENT_METHOD),
        )
    except ValidationError as exc:
        if exc.qbo_code != "6240":
            raise
        raise Refused(
            "6240",
            f"QuickBooks has a payment method named {name!r} that is inactive, so this payment "
            "was not written.",
            f"Make the payment method {name!r} active again in QuickBooks (Settings > All lists "
            "> Payment methods), then retry the event.",
        ) from None
    return str(made["Id"])


# The writes --------------------------------------------------------------------------------------


async def _create(job: PushJob, body: dict[str, Any], invoices: dict[str, str]) -> dict[str, Any]:
    if job.uncertain:
        mine = await _ours(job, body)
        if mine is not None:  # linked, and brought up to this version (no change: no write)
            return await _update(job, mine, body)
    await _owed_enough(job, body, invoices, None)
    return await job.qbo.write(job.realm, PAYMENT.entity, body, requestid=job.rid(steps.CREATE))


def _applied(payment: dict[str, Any] | None) -> dict[str, Decimal]:
    """What a QBO payment applies to each invoice (QBO id -> amount)."""
    applied: dict[str, Decimal] = {}
    for line in (payment or {}).get("Line", []) or []:
        for txn in line.get("LinkedTxn", []) or []:
            if txn.get("TxnType") == "Invoice":
                key = str(txn["TxnId"])
                applied[key] = applied.get(key, Decimal(0)) + Decimal(str(line["Amount"]))
    return applied


async def _owed_enough(
    job: PushJob,
    body: dict[str, Any],
    invoices: dict[str, str],
    existing: dict[str, Any] | None,
) -> None:
    """Wait while the payment would apply more to an invoice than the invoice owes in QuickBooks
    (with what this payment already applies to it): JobRoutr's deliveries cross, and the change
    that raises the invoice's total may still be on its way. QuickBooks would refuse the payment
    (6000, "more than its open balance"); ``invoice:<id>`` wakes it when the invoice changes."""
    wanted = _applied(body)
    if not wanted:
        return
    query = Select(INVOICE.entity).filter("Id", "IN", sorted(wanted)).page(1, len(wanted))
    rows = (await job.qbo.query(job.realm, query)).get(INVOICE.entity, []) or []
    owed = {str(row["Id"]): Decimal(str(row.get("Balance", 0))) for row in rows}
    mine = _applied(existing)
    short = [
        jobroutr_id
        for jobroutr_id, qbo_id in invoices.items()
        if qbo_id in wanted and wanted[qbo_id] > owed.get(qbo_id, Decimal(0)) + mine.get(qbo_id, 0)
    ]
    if short:
        raise Wait(
            " and ".join(f"invoice {i} to owe what the payment applies to it" for i in short),
            DEPENDENCY_RECHECK,
            waits_on=[f"{INVOICE.name}:{i}" for i in short],
            give_up_after=job.config.dependency_wait,
        )


async def _read(job: PushJob, qbo_id: str) -> dict[str, Any] | None:
    """The QBO payment as it is now; None when it was deleted in QuickBooks."""
    try:
        return await job.qbo.read(job.realm, PAYMENT.entity, qbo_id)
    except ValidationError as exc:
        if exc.qbo_code != GONE:
            raise
    return None


async def _update(job: PushJob, record: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """All the payment's lines and fields replaced (a reference JobRoutr dropped is cleared)."""
    return await job.sparse_update(
        PAYMENT,
        step=steps.LINKED,
        qbo_id=str(record["Id"]),
        sync_token=str(record["SyncToken"]),
        body=body,
        optional=("PaymentRefNum",),
    )


async def _ours(job: PushJob, body: dict[str, Any]) -> dict[str, Any] | None:
    """The customer's QBO payment this appliance wrote for this JobRoutr payment (it carries our
    mark), among the customer's latest ``READ_BACK`` payments; None: none. Not by reference or
    date: an earlier version JobRoutr changed since may have reached QuickBooks unlinked."""
    select = (
        Select(PAYMENT.entity)
        .filter("CustomerRef", "=", body["CustomerRef"]["value"])
        .ordered("MetaData.CreateTime", descending=True)
    )
    found = await job.qbo.query(job.realm, select.page(1, READ_BACK))
    marker = payment_marker(job.jobroutr_id)
    for row in found.get(PAYMENT.entity, []) or []:
        if marker in str(row.get("PrivateNote", "")):
            return dict(row)
    return None


async def _ended_later(job: PushJob) -> str | None:
    """For a created or updated payment with no link: ``voided`` or ``deleted`` when JobRoutr
    sent a void or delete newer than this version that was done before it reached QuickBooks
    (a late create must not bring a payment JobRoutr undid into the books), else None."""
    if job.work.occurred_at is None:
        return None
    found = await asyncio.to_thread(
        jobs.ended_after,
        job.store.engine,
        job.realm,
        PAYMENT.name,
        job.jobroutr_id,
        after=job.work.occurred_at,
        types=("payment.voided", "payment.deleted"),
    )
    return None if found is None else found.removeprefix("payment.")


async def _end(job: PushJob) -> Written:
    """``payment.voided`` or ``payment.deleted``: void or delete the linked QBO payment. A
    payment that never reached QuickBooks has nothing to void or delete."""
    link, _ = await job.linked(PAYMENT)
    deleting = job.work.event_type == "payment.deleted"
    if link is None:
        return Written("", note="never reached QuickBooks: nothing to void or delete")
    qbo_id = link.qbo_id
    for attempt in (1, 2):
        record = await _read(job, qbo_id)
        if record is None:
            return Written(qbo_id, job.link(PAYMENT, qbo_id), note="already deleted in QuickBooks")
        if not deleting and str(record.get("PrivateNote") or "").startswith("Voided"):
            return Written(qbo_id, job.link(PAYMENT, qbo_id), note="already voided")
        head = {"Id": qbo_id, "SyncToken": str(record["SyncToken"])}
        try:
            await _send_end(job, head, deleting=deleting, attempt=attempt)
        except ValidationError as exc:
            if exc.qbo_code != "5010" or attempt == 2:
                raise
            continue
        return Written(qbo_id, job.link(PAYMENT, qbo_id), note="deleted" if deleting else "voided")
    raise AssertionError("unreachable")


async def _send_end(job: PushJob, head: dict[str, Any], *, deleting: bool, attempt: int) -> None:
    if deleting:
        step = steps.PAYMENT_DELETE if attempt == 1 else steps.PAYMENT_DELETE_AGAIN
        await job.qbo.request(
            job.realm,
            "POST",
            "payment",
            params={"operation": "delete"},
            json_body=head,
            requestid=job.rid(step),
        )
        return
    step = steps.PAYMENT_VOID if attempt == 1 else steps.PAYMENT_VOID_AGAIN
    await job.qbo.request(
        job.realm,
        "POST",
        "payment",
        params={"operation": "update", "include": "void"},
        json_body={**head, "sparse": True},
        requestid=job.rid(step),
    )


PUSH = KindPush(PAYMENT, EVENTS, push)
