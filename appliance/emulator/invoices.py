"""The rules of QBO's ``Invoice``: what the server checks and fills when one is written.

``Company`` calls ``prepare`` before a create or update (through ``company.RULES``),
``after_write`` once the change is stored, ``voided`` for a void and ``check_delete`` before a
delete. What QBO does (../shared/qbo/FACTS.md §4, §11) and this reproduces:

* References checked (``entities.REFERENCES``, the lines' ``TaxCodeRef``, ``ClassRef`` and
  ``DiscountAccountRef``, and ``TxnTaxDetail.TxnTaxCodeRef`` unless automated sales tax replaces
  it); a value the invoice already carried is not checked again.
* Server-filled fields: DocNumber sequence (unique, 6140, unless ``include=allowduplicatedocnum``),
  TxnDate, DueDate (the term's DueDays, else 30 days), line ids, the trailing subtotal line,
  totals, Balance, addresses copied from the customer, the company's address as a free-form
  ship-from, status flags; the customer's Balance follows its invoices.
* Sales tax and discounts are figured by ``books.figure`` (its docstring has the rules): a
  sparse update that leaves ``TxnTaxDetail`` out is figured again on the same code
  (``keep_tax_code``), one that sends a ``TotalTax`` keeps it as an override (US), as FACTS §11
  says of real updates. Currencies follow ``currency``; payments applied, ``payments``.
* A sales line's Amount is Qty x UnitPrice (6070 when a sent one disagrees); a category cannot be
  sold.
* Void puts "Voided" before the private note (FACTS §11 [INV]): "Voided - <note>", or "Voided"
  alone as the recording shows for an invoice without one; the " - " is from third-party captures.
* ``CustomerMemo`` at most 1,000 characters (FACTS §11 [INV]); the refusal's code is unverified,
  the emulator answers 6000 with element ``CustomerMemo``.

An invoice on a term without a DueDate is due TxnDate + DueDays ([unverified]: consistent with the
recorded Net 30 invoice, but no recording sends one without a DueDate).
"""

from __future__ import annotations

import copy
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from appliance.emulator import books, currency, faults, fields, payments
from appliance.emulator.entities import Record

if TYPE_CHECKING:
    from appliance.emulator.company import Company

CUSTOMER_MEMO_MAX = 1000  # FACTS §11 [INV]; the code of the refusal (6000) is unverified
DOC_NUMBER_MAX = 21
ONLINE_PAYMENT_FLAGS = (
    "AllowIPNPayment",
    "AllowOnlinePayment",
    "AllowOnlineCreditCardPayment",
    "AllowOnlineACHPayment",
)
#: The references on an invoice's lines: (line detail, field, the entity it names).
LINE_REFERENCES = (
    ("SalesItemLineDetail", "TaxCodeRef", "TaxCode"),
    ("SalesItemLineDetail", "ClassRef", "Class"),
    ("DiscountLineDetail", "DiscountAccountRef", "Account"),
)


def prepare(company: Company, record: Record, old: Record | None, allow_dup: bool) -> Record:
    """Check an invoice about to be created (``old`` None) or updated, and figure what QBO
    figures; ``allow_dup``: the request's ``include=allowduplicatedocnum``."""
    if "CustomerRef" not in record:
        raise faults.required("CustomerRef", "Invoice")
    customer = company.ref("Customer", record["CustomerRef"], "CustomerRef")
    record["CustomerRef"] = fields.ref_of(customer, "DisplayName")
    lines = record.get("Line")
    if not isinstance(lines, list) or not lines:
        raise faults.required("Line", "Invoice")
    term = _references(company, record, lines, old)
    record["Line"] = _lines(company, lines)
    figures = books.figure(company.records, record, record["Line"], customer)
    record["Line"].append(
        {
            "Amount": figures.subtotal,
            "DetailType": "SubTotalLineDetail",
            "SubTotalLineDetail": {},
        }
    )
    _doc_number(company, record, old, allow_dup)
    _check_memo(record)
    _dates(company, record, term)
    record["TotalAmt"] = figures.total
    record["Balance"] = figures.total
    record["TxnTaxDetail"] = figures.tax_detail
    _defaults(record)
    _addresses(company, record, customer)
    payments.settle_invoice(company, record, old)  # Balance and LinkedTxn from its payments
    amounts = currency.HOME_AMOUNTS["Invoice"]
    currency.settle_transaction("Invoice", record, company.preferences, customer, amounts)
    return record


def keep_tax_code(old: Record, changes: Record, merged: Record) -> None:
    """A sparse update that leaves TxnTaxDetail out: tax is figured again (FACTS §11), on the same
    code; the old TotalTax would otherwise be taken as an override."""
    if "TxnTaxDetail" not in changes:
        code = (old.get("TxnTaxDetail") or {}).get("TxnTaxCodeRef")
        merged["TxnTaxDetail"] = {} if code is None else {"TxnTaxCodeRef": code}


def after_write(company: Company, old: Record | None, new: Record | None) -> None:
    """Keep the DocNumber index, and what the customer owes, in step with a write."""
    if old is not None:
        if company.doc_numbers.get(old.get("DocNumber", "")) == old["Id"]:
            del company.doc_numbers[old["DocNumber"]]
        owed, home = currency.amount_and_home(old, "Balance")
        company.add_balance(old["CustomerRef"]["value"], -owed, -home)
    if new is not None:
        company.doc_numbers.setdefault(new["DocNumber"], new["Id"])
        owed, home = currency.amount_and_home(new, "Balance")
        company.add_balance(new["CustomerRef"]["value"], owed, home)


def voided(company: Company, old: Record) -> Record:
    """A void keeps the invoice with every amount zeroed and "Voided" before its note; one with
    payments applied is refused."""
    payments.check_unpaid(company, old, "voided")
    record = copy.deepcopy(old)
    for line in record.get("Line", []):
        line["Amount"] = Decimal(0)
        detail = line.get("SalesItemLineDetail")
        if isinstance(detail, dict):
            detail.pop("Qty", None)
            detail.pop("UnitPrice", None)
    record.update(
        TotalAmt=Decimal(0),
        Balance=Decimal(0),
        PrivateNote=fields.voided_note(old.get("PrivateNote")),
        TxnTaxDetail={"TotalTax": 0},
    )
    return record


def check_delete(company: Company, old: Record) -> None:
    """An invoice with payments applied is not deleted."""
    payments.check_unpaid(company, old, "deleted")


# Checks and figures -----------------------------------------------------------------------------


def _references(
    company: Company, record: Record, lines: list[Any], old: Record | None
) -> Record | None:
    """Check the invoice's references (``REFERENCES``, ``TxnTaxDetail.TxnTaxCodeRef``, the
    lines'); answer its Term, if it has one."""
    company.check_references("Invoice", record, old)
    tax_detail = record.get("TxnTaxDetail")
    # Under automated sales tax QBO replaces whatever code is sent (FACTS §11): not checked.
    if isinstance(tax_detail, dict) and not books.is_ast(company.records):
        before = (old or {}).get("TxnTaxDetail") or {}
        carried = [fields.value(before.get("TxnTaxCodeRef"))]
        company.checked("TaxCode", tax_detail.get("TxnTaxCodeRef"), "TxnTaxCodeRef", carried)
    _line_references(company, lines, old)
    term = company.records["Term"].get(fields.value(record.get("SalesTermRef")) or "")
    if term is not None:
        record["SalesTermRef"] = fields.ref_of(term, "Name")  # named, as QBO returns it
    return term


def _line_references(company: Company, lines: list[Any], old: Record | None) -> None:
    """The references on an invoice's lines; a value some old line carried is not
    re-checked (a record sent back as read still saves)."""
    for kind, field, target in LINE_REFERENCES:
        carried = [
            fields.value(line.get(kind, {}).get(field))
            for line in (old or {}).get("Line", [])
            if isinstance(line.get(kind), dict)
        ]
        for line in lines:
            detail = line.get(kind) if isinstance(line, dict) else None
            if isinstance(detail, dict):
                company.checked(target, detail.get(field), field, carried)


def _lines(company: Company, lines: list[Any]) -> list[Record]:
    """The invoice's lines numbered, each sales line's Amount figured (the discount and tax
    are ``books.figure``'s)."""
    result: list[Record] = []
    number = 0
    for raw in lines:
        if not isinstance(raw, dict):
            raise faults.required("Line.DetailType", "Invoice")
        line = copy.deepcopy(raw)
        kind = line.get("DetailType")
        if kind == "SubTotalLineDetail":
            continue  # the server computes its own
        number += 1
        line["Id"] = str(number)
        line["LineNum"] = number
        if kind == "SalesItemLineDetail":
            line["Amount"] = _sales_line(company, line)
        elif kind in {"DescriptionOnly", "DiscountLineDetail"}:
            line["Amount"] = fields.money(line.get("Amount", 0), "Amount")
        elif kind is None:
            raise faults.required("Line.DetailType", "Invoice")
        else:
            raise faults.validation(
                "2170", "Invalid Enumeration", f"Invalid Enumeration : {kind}", "DetailType"
            )
        result.append(line)
    if number == 0:
        raise faults.required("Line", "Invoice")
    return result


def _sales_line(company: Company, line: Record) -> Decimal:
    detail = line.get("SalesItemLineDetail")
    if not isinstance(detail, dict):
        detail = line["SalesItemLineDetail"] = {}
    if "ItemRef" not in detail:
        raise faults.required("ItemRef", "Invoice")
    item = company.ref("Item", detail["ItemRef"], "ItemRef")
    if item.get("Type") == "Category":
        raise faults.business("A category cannot be sold on an invoice", "ItemRef")
    detail["ItemRef"] = fields.ref_of(item, "Name")
    qty = fields.money(detail["Qty"], "Qty") if "Qty" in detail else None
    price = fields.money(detail["UnitPrice"], "UnitPrice") if "UnitPrice" in detail else None
    amount = fields.money(line["Amount"], "Amount") if "Amount" in line else None
    if amount is None:
        if price is None:
            price = item.get("UnitPrice", Decimal(0))
            detail["UnitPrice"] = price
        if qty is None:
            qty = Decimal(1)
            detail["Qty"] = qty
        amount = (qty * price).quantize(fields.CENT)
    elif qty is not None and price is not None and amount not in fields.rounded(qty * price):
        # [unverified] QBO's wording; the rule itself (Amount = Qty x UnitPrice) is documented.
        raise faults.validation(
            "6070",
            "Amount is not equal to UnitPrice * Qty",
            f"Amount is not equal to UnitPrice * Qty. Supplied value:{amount}",
            "Amount",
        )
    if "IncomeAccountRef" in item:
        detail.setdefault("ItemAccountRef", dict(item["IncomeAccountRef"]))
    if "TaxCodeRef" not in detail:
        code = books.default_line_code(company.records, item)
        if code is not None:
            detail["TaxCodeRef"] = {"value": code}
    return amount


def _doc_number(company: Company, record: Record, old: Record | None, allow_dup: bool) -> None:
    number = record.get("DocNumber")
    if number is None and old is not None and "DocNumber" in old:
        number = record["DocNumber"] = old["DocNumber"]
    if number is None or number == "AUTO_GENERATE":
        record["DocNumber"] = _next_doc_number(company)
        return
    if not isinstance(number, str) or len(number) > DOC_NUMBER_MAX:
        raise faults.business("DocNumber must be text of at most 21 characters", "DocNumber")
    holder = company.doc_numbers.get(number)
    if holder is not None and (old is None or holder != old["Id"]) and not allow_dup:
        raise faults.validation(
            "6140",
            "Duplicate Document Number Error",
            "Duplicate Document Number Error : You must specify a different number. This "
            f"number has already been used. DocNumber={number} is assigned to TxnType=Invoice "
            f"with TxnId={holder}",
        )


def _next_doc_number(company: Company) -> str:
    numeric = [int(n) for n in company.doc_numbers if n.isdigit() and len(n) < 12]
    candidate = max(numeric, default=1000) + 1
    while str(candidate) in company.doc_numbers:
        candidate += 1
    return str(candidate)


def _check_memo(record: Record) -> None:
    memo = record.get("CustomerMemo")
    text = memo.get("value") if isinstance(memo, dict) else memo
    if not isinstance(text, str | None):
        raise faults.business('CustomerMemo must be {"value": text}', "CustomerMemo")
    if text is not None and len(text) > CUSTOMER_MEMO_MAX:
        raise faults.business(
            f"CustomerMemo is longer than {CUSTOMER_MEMO_MAX} characters", "CustomerMemo"
        )


def _dates(company: Company, record: Record, term: Record | None) -> None:
    txn_date = fields.day(record.setdefault("TxnDate", company.clock.today()), "TxnDate")
    if "DueDate" in record:
        fields.day(record["DueDate"], "DueDate")
    else:
        # The term's days after TxnDate ([unverified]: FACTS records no invoice sent without
        # a DueDate; the recorded one on Net 30 is due 30 days after its TxnDate); 30 days
        # without a term.
        days = int(term.get("DueDays", 0)) if term is not None else 30
        record["DueDate"] = (txn_date + timedelta(days=days)).isoformat()


def _defaults(record: Record) -> None:
    record.setdefault("LinkedTxn", [])
    record.setdefault("CustomField", [])
    record.setdefault("ApplyTaxAfterDiscount", False)
    record.setdefault("PrintStatus", "NeedToPrint")
    record.setdefault("EmailStatus", "NotSet")
    for flag in ONLINE_PAYMENT_FLAGS:
        record.setdefault(flag, False)


def _addresses(company: Company, record: Record, customer: Record) -> None:
    """The customer's addresses, and the company's as a free-form ship-from, unless sent."""
    for key in ("BillAddr", "ShipAddr"):
        if key not in record and "BillAddr" in customer:
            record[key] = copy.deepcopy(customer.get(key) or customer["BillAddr"])
    info = company.records["CompanyInfo"].get("1", {})
    address = info.get("CompanyAddr")
    if "ShipFromAddr" not in record and isinstance(address, dict):
        # 2026 invoices carry the company's address as a free-form ship-from (NANGO).
        city = " ".join(
            p for p in (address.get("CountrySubDivisionCode"), address.get("PostalCode")) if p
        )
        record["ShipFromAddr"] = {
            "Id": str(address.get("Id", "1")),
            "Line1": address.get("Line1", ""),
            "Line2": f"{address.get('City', '')}, {city}".strip(", "),
        }
        record.setdefault("FreeFormAddress", True)
