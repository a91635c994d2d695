"""The rules of QBO's ``Payment``, and what a payment does to the invoices it pays.

``Company`` calls these for the entity ``Payment``, through ``company.RULES`` (``prepare`` before
a create or update, ``voided`` for a void, ``check_changeable`` before a delete, ``after_write``
once the change is stored), and ``invoices`` for invoices (``settle_invoice`` at the end of an
invoice's figuring, ``check_unpaid`` before one is deleted or voided). What QBO does
(../shared/qbo/FACTS.md §11 "Payments", §4, §8) and this reproduces:

* ``Line[].Amount`` applies part of the payment to the invoice its one ``LinkedTxn`` names; what
  is not applied is ``UnappliedAmt`` (a credit the customer holds). The invoice's ``Balance`` is its
  ``TotalAmt`` less what its payments apply, and its ``LinkedTxn`` lists those payments (read-only
  on the invoice: links of type Payment a client sends there are replaced by the real ones).
* A payment write that changes an invoice's ``Balance`` or ``LinkedTxn`` is a change to the
  invoice too: its SyncToken goes up and CDC and webhooks report it ("Update"), as QBO does.
* ``DepositToAccountRef`` is a Bank or Other Current Asset account, Undeposited Funds by default;
  ``PaymentRefNum`` at most 21 characters; a deposited payment cannot change (6540).

Choices where FACTS is silent or marks QBO's behaviour unverified (the README names them too):

* Refused with 6000 (Business Validation Error), element the field: lines applying more than
  ``TotalAmt``; an amount applied beyond the invoice's open balance; an applied amount of zero or
  less, or a negative ``TotalAmt``; an invoice of another customer (FACTS: QBO then does not show
  it as applied; the emulator refuses rather than store a payment that silently applies nothing);
  a deposit account of another type; a line that is not one invoice (``TxnType`` Invoice, one
  ``LinkedTxn``: credit memos and journal entries are not modelled). An unknown invoice is 2500.
* An invoice that has payments applied cannot be deleted or voided (FACTS: "remove them first";
  code unverified, 6000), nor get a total below what is paid, nor change customer (6000).
* A voided payment keeps its lines with ``Amount`` 0: it applies nothing, so its invoices drop it
  from their ``LinkedTxn`` and are owed again.
* Money moves between accounts as in QBO's books: the invoice's part through the customer's
  balance and Accounts Receivable (``Company.add_balance``), the payment's ``TotalAmt`` into the
  deposit account. "Depositing" a payment (the control API's switch) moves no money: no Deposit
  entity is modelled.
* The currency follows ``currency.settle_transaction``, as an invoice's: the customer's by
  default, no other; with multi-currency on, ``ExchangeRate`` (default 1) and ``HomeTotalAmt``
  (``TotalAmt`` x rate: the emulator's choice, as for invoices).
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from appliance.emulator import currency, faults, fields
from appliance.emulator.entities import Record

if TYPE_CHECKING:
    from appliance.emulator.company import Company

DEPOSIT_TYPES = ("Bank", "Other Current Asset")
REF_NUM_MAX = 21  # PaymentRefNum, FACTS §11 [PAY]
NOTE_MAX = 4000


# Refusals -------------------------------------------------------------------------------------


def deposited() -> faults.QboFault:
    """FACTS §8 gives the code and Message; the Detail is the emulator's."""
    return faults.validation(
        "6540",
        "Deposited Transaction cannot be changed",
        "Deposited Transaction cannot be changed : This payment has been deposited. Remove it "
        "from its deposit before you change or delete it.",
        element="",
    )


def has_payments(invoice: Record, action: str) -> faults.QboFault:
    return faults.business(
        f"This invoice has payments applied: remove them first (invoice {invoice['Id']} cannot "
        f"be {action})"
    )


# Reading what is applied ----------------------------------------------------------------------


def applications(payment: Record) -> dict[str, Decimal]:
    """What a payment applies, by invoice id (lines with an amount only)."""
    found: dict[str, Decimal] = {}
    for line in payment.get("Line", []):
        amount = Decimal(line.get("Amount", 0))
        for link in line.get("LinkedTxn", []):
            if amount and link.get("TxnType") == "Invoice":
                found[link["TxnId"]] = found.get(link["TxnId"], Decimal(0)) + amount
    return found


def paid_towards(company: Company, invoice_id: str) -> tuple[Decimal, list[str]]:
    """What the company's payments apply to an invoice, and which payments (in Id order)."""
    total = Decimal(0)
    payers = []
    for payment in company.records["Payment"].values():
        amount = applications(payment).get(invoice_id)
        if amount:
            total += amount
            payers.append(payment["Id"])
    return total, payers


# The invoice's side ---------------------------------------------------------------------------


def settle_invoice(company: Company, record: Record, old: Record | None) -> None:
    """An invoice's ``Balance`` and payment links from its payments, after its total is figured:
    Balance = TotalAmt - applied; a total below what is paid, or a new customer while paid,
    is refused."""
    applied = _payment_links(company, record, old["Id"] if old is not None else None)
    if applied and old is not None:
        if Decimal(record["TotalAmt"]) < applied:
            raise faults.business(
                f"The invoice's new total {record['TotalAmt']} is less than the {applied} "
                "already paid on it: remove or change its payments first",
                "Line",
            )
        if record["CustomerRef"].get("value") != old["CustomerRef"].get("value"):
            raise faults.business(
                "This invoice has payments applied: its customer cannot change", "CustomerRef"
            )


def _payment_links(company: Company, record: Record, invoice_id: str | None) -> Decimal:
    """Set Balance = TotalAmt - applied and the LinkedTxn of type Payment; answer what is
    applied. Links of other types are kept as sent."""
    applied, payers = paid_towards(company, invoice_id) if invoice_id else (Decimal(0), [])
    record["Balance"] = Decimal(record["TotalAmt"]) - applied
    sent = record.get("LinkedTxn")
    links = [
        link
        for link in (sent if isinstance(sent, list) else [])
        if not (isinstance(link, dict) and link.get("TxnType") == "Payment")
    ]
    record["LinkedTxn"] = links + [{"TxnId": pid, "TxnType": "Payment"} for pid in payers]
    return applied


def check_unpaid(company: Company, invoice: Record, action: str) -> None:
    """An invoice with payments applied is neither deleted nor voided."""
    applied, _ = paid_towards(company, invoice["Id"])
    if applied:
        raise has_payments(invoice, action)


# The payment's own rules ----------------------------------------------------------------------


def check_changeable(company: Company, payment: Record) -> None:
    if payment["Id"] in company.deposited:
        raise deposited()


def prepare(company: Company, record: Record, old: Record | None) -> Record:
    """Check a payment about to be created (``old`` None) or updated, and fill what QBO fills."""
    if old is not None:
        check_changeable(company, old)
    if "CustomerRef" not in record:
        raise faults.required("CustomerRef", "Payment")
    customer = company.ref("Customer", record["CustomerRef"], "CustomerRef")
    record["CustomerRef"] = fields.ref_of(customer, "DisplayName")
    if "TotalAmt" not in record:
        raise faults.required("TotalAmt", "Payment")
    total = fields.money(record["TotalAmt"], "TotalAmt")
    if total < 0:
        raise faults.business("TotalAmt cannot be negative", "TotalAmt")
    record["TotalAmt"] = total
    company.check_references("Payment", record, old)
    record["Line"], applied = _lines(company, record.get("Line", []), customer, old)
    if applied > total:
        raise faults.business(
            f"The amount applied ({applied}) is more than the payment's total ({total})", "Line"
        )
    record["UnappliedAmt"] = total - applied
    record["DepositToAccountRef"] = _deposit_account(company, record.get("DepositToAccountRef"))
    method = company.records["PaymentMethod"].get(
        fields.value(record.get("PaymentMethodRef")) or ""
    )
    if method is not None:
        record["PaymentMethodRef"] = fields.ref_of(method, "Name")
    fields.string(record, "PaymentRefNum", REF_NUM_MAX)
    fields.string(record, "PrivateNote", NOTE_MAX)
    record.setdefault("TxnDate", company.clock.today())
    fields.day(record["TxnDate"], "TxnDate")
    amounts = currency.HOME_AMOUNTS["Payment"]
    currency.settle_transaction("Payment", record, company.preferences, customer, amounts)
    record.setdefault("ProcessPayment", False)
    return record


def _lines(
    company: Company, raw: Any, customer: Record, old: Record | None
) -> tuple[list[Record], Decimal]:
    if not isinstance(raw, list):
        raise faults.business("Line must be a list", "Line")
    already = applications(old) if old is not None else {}
    lines: list[Record] = []
    by_invoice: dict[str, Decimal] = {}
    for line in raw:
        if not isinstance(line, dict):
            raise faults.business("Each payment line must be an object", "Line")
        links = line.get("LinkedTxn")
        if not isinstance(links, list) or len(links) != 1 or not isinstance(links[0], dict):
            raise faults.business(
                "Each payment line applies to one invoice: one LinkedTxn", "LinkedTxn"
            )
        link = links[0]
        kind = link.get("TxnType")
        if kind != "Invoice":
            raise faults.business(
                f"The emulator applies payments to invoices only, not to {kind}", "TxnType"
            )
        txn_id = link.get("TxnId")
        txn_id = str(txn_id) if isinstance(txn_id, str | int) else None
        if not txn_id:
            raise faults.required("LinkedTxn.TxnId", "Payment")
        amount = fields.money(line.get("Amount", 0), "Amount")
        if amount <= 0:
            raise faults.business(
                f"The amount applied to invoice {txn_id} must be more than zero", "Amount"
            )
        invoice = company.records["Invoice"].get(txn_id)
        if invoice is None:
            raise faults.invalid_reference("LinkedTxn", txn_id)
        if invoice["CustomerRef"].get("value") != customer["Id"]:
            raise faults.business(
                f"Invoice {txn_id} belongs to another customer "
                f"({invoice['CustomerRef'].get('name', '')}), not to {customer['DisplayName']}",
                "LinkedTxn",
            )
        by_invoice[txn_id] = by_invoice.get(txn_id, Decimal(0)) + amount
        open_balance = Decimal(invoice.get("Balance", 0)) + already.get(txn_id, Decimal(0))
        if by_invoice[txn_id] > open_balance:
            raise faults.business(
                f"The amount applied to invoice {txn_id} ({by_invoice[txn_id]}) is more than its "
                f"open balance ({open_balance})",
                "Amount",
            )
        lines.append({"Amount": amount, "LinkedTxn": [{"TxnId": txn_id, "TxnType": "Invoice"}]})
    return lines, sum(by_invoice.values(), Decimal(0))


def _deposit_account(company: Company, ref: Any) -> dict[str, str] | None:
    """The named deposit account: the one sent (Bank or Other Current Asset), else Undeposited
    Funds (the company's account of subtype UndepositedFunds, if it has one)."""
    if ref is None:
        found = next(
            (
                a
                for a in company.records["Account"].values()
                if a.get("AccountSubType") == "UndepositedFunds" and a.get("Active", True)
            ),
            None,
        )
        return fields.ref_of(found, "Name") if found is not None else None
    account = company.ref("Account", ref, "DepositToAccountRef")
    if account.get("AccountType") not in DEPOSIT_TYPES:
        raise faults.business(
            "DepositToAccountRef must be a Bank or Other Current Asset account; "
            f"{account['Name']} is {account.get('AccountType')}",
            "DepositToAccountRef",
        )
    return fields.ref_of(account, "Name")


def voided(company: Company, old: Record) -> Record:
    """A void keeps the payment with every amount zeroed and "Voided" before its note."""
    check_changeable(company, old)
    record = copy.deepcopy(old)
    for line in record.get("Line", []):
        line["Amount"] = Decimal(0)
    record.update(
        TotalAmt=Decimal(0),
        UnappliedAmt=Decimal(0),
        PrivateNote=fields.voided_note(old.get("PrivateNote")),
    )
    return record


# After a payment is stored --------------------------------------------------------------------


def after_write(company: Company, old: Record | None, new: Record | None) -> None:
    """Keep the books in step with a payment just created, updated, voided or deleted: the
    invoices it paid or pays, the customer's credit and the deposit account."""
    touched = set(applications(old) if old else {}) | set(applications(new) if new else {})
    for invoice_id in sorted(touched, key=int):
        _restate_invoice(company, invoice_id)
    for payment, sign in ((old, -1), (new, 1)):
        if payment is None:
            continue
        credit, home_credit = currency.amount_and_home(payment, "UnappliedAmt")
        company.add_balance(payment["CustomerRef"]["value"], -sign * credit, -sign * home_credit)
        account = fields.value(payment.get("DepositToAccountRef"))
        if account is not None:
            company.add_account_balance(
                account, sign * _deposited_amount(company, account, payment)
            )


def _deposited_amount(company: Company, account_id: str, payment: Record) -> Decimal:
    """What the deposit account takes: the payment's total in the account's currency (its own
    when they agree, else the home amount: the emulator's choice, FACTS is silent)."""
    total, home = currency.amount_and_home(payment, "TotalAmt")
    account = company.records["Account"].get(account_id, {})
    same = (account.get("CurrencyRef") or {}).get("value") == payment["CurrencyRef"]["value"]
    return total if same else home


def _restate_invoice(company: Company, invoice_id: str) -> None:
    old = company.records["Invoice"].get(invoice_id)
    if old is None:
        return
    record = copy.deepcopy(old)
    _payment_links(company, record, invoice_id)
    currency.refresh_home_amounts("Invoice", record)
    if (record["Balance"], record["LinkedTxn"]) == (old.get("Balance"), old.get("LinkedTxn")):
        return
    record["SyncToken"] = str(int(old["SyncToken"]) + 1)
    record["MetaData"] = {**old["MetaData"], "LastUpdatedTime": company.clock.stamp()}
    company.records["Invoice"][invoice_id] = record
    company.after_write("Invoice", old, record)
    company.changed("Invoice", invoice_id, "Update")


# Payment methods ------------------------------------------------------------------------------

METHOD_TYPES = ("CREDIT_CARD", "NON_CREDIT_CARD")
METHOD_NAME_MAX = 31  # QBO's PaymentMethod Name (Intuit reference; unverified here)


def prepare_method(company: Company, record: Record, old: Record | None) -> Record:
    """A payment method a client adds (QBO lets it; the emulator's seeded seven are kept): a
    name unique among payment methods, case-insensitively (6240), and a ``Type`` of
    ``METHOD_TYPES`` (``NON_CREDIT_CARD`` when absent)."""
    record["Name"] = fields.name(
        fields.string(record, "Name", METHOD_NAME_MAX), "Name", "PaymentMethod"
    )
    kind = record.setdefault("Type", old["Type"] if old else "NON_CREDIT_CARD")
    if kind not in METHOD_TYPES:
        raise faults.validation(
            "2170", "Invalid Enumeration", f"Invalid Enumeration : {kind}", "Type"
        )
    record.setdefault("Active", True)
    folded = fields.fold(record["Name"])
    for rid, other in company.records["PaymentMethod"].items():
        if fields.fold(str(other.get("Name", ""))) == folded and (old is None or rid != old["Id"]):
            raise faults.duplicate_name("payment method")
    return record


def after_method_write(_company: Company, _old: Record | None, _new: Record | None) -> None:
    """Nothing else changes when a payment method is written (no index is kept)."""
