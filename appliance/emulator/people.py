"""The rules of QBO's people: ``Customer``, ``Vendor`` and ``Employee``.

``Company`` calls ``prepare`` before a create or update (through ``company.RULES``) and
``after_write`` once the change is stored. What QBO does (../shared/qbo/FACTS.md §4, §11):

* DisplayName unique across customers, vendors and employees, compared case-insensitively (6240);
  made of the name parts or the CompanyName when not sent; a made-inactive person's name gets
  `` (deleted)`` appended, which frees the name.
* A customer's references are checked (``entities.REFERENCES``); sub-customers nest at most 4
  deep under a parent that is not one of their own descendants, and are named by their
  FullyQualifiedName ("Parent:Child"); addresses get ids; Balance and BalanceWithJobs belong to
  the invoices and payments, whatever the request says.
* A customer who owes money (its own Balance or its jobs') cannot be made inactive, by update or
  by ``operation=delete`` (``check_settled``): "Delete List Has Balance Error" (FACTS §11, quoted
  from ruckus/quickbooks-ruby issue #390); its code is unverified, the emulator answers 6000.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from appliance.emulator import books, currency, faults, fields
from appliance.emulator.entities import NAME_PARTS, Record

if TYPE_CHECKING:
    from appliance.emulator.company import Company

MAX_LEVEL = 4  # sub-customers nest at most this deep


def prepare(company: Company, entity: str, record: Record, old: Record | None) -> Record:
    """Check a person about to be created (``old`` None) or updated, and fill what QBO fills."""
    for part in NAME_PARTS:
        fields.string(record, part, 100)
    fields.string(record, "CompanyName", 100)
    display = fields.string(record, "DisplayName", 500)
    if display is None:
        parts = [record[p] for p in NAME_PARTS if record.get(p)]
        display = " ".join(parts) or record.get("CompanyName")
    record["DisplayName"] = fields.name(display, "DisplayName", entity)
    fields.active(record, old, "DisplayName")
    clash = company.people.get(fields.fold(record["DisplayName"]))
    if clash is not None and (old is None or clash != (entity, old["Id"])):
        raise faults.duplicate_name("customer, vendor or employee")
    given = " ".join(record[p] for p in ("GivenName", "FamilyName") if record.get(p))
    record.setdefault(
        "PrintOnCheckName",
        given
        or record.get("CompanyName")
        or record["DisplayName"].removesuffix(fields.DELETED_SUFFIX),
    )
    if entity == "Customer":
        return _customer(company, record, old)
    if entity == "Vendor":
        record.setdefault("Vendor1099", False)
        currency.settle_currency("Vendor", record, old, company.preferences)
        record["Balance"] = old.get("Balance", Decimal(0)) if old else Decimal(0)
    if entity == "Employee":
        record.setdefault("BillableTime", False)
    return record


def after_write(company: Company, entity: str, old: Record | None, new: Record | None) -> None:
    """Keep the one DisplayName index of people in step with a write."""
    if old is not None:
        company.people.pop(fields.fold(old["DisplayName"]), None)
    if new is not None:
        company.people[fields.fold(new["DisplayName"])] = (entity, new["Id"])


def check_settled(customer: Record) -> None:
    """A customer (or its jobs) still owing money cannot be made inactive."""
    if customer.get("Balance") or customer.get("BalanceWithJobs"):
        raise faults.open_balance()


def _customer(company: Company, record: Record, old: Record | None) -> Record:
    company.check_references("Customer", record, old)
    record.setdefault("Taxable", True)
    record.setdefault("BillWithParent", False)
    record.setdefault("PreferredDeliveryMethod", "Print")
    record.setdefault("IsProject", False)
    code = books.default_customer_code(company.records)
    if record.get("Taxable") and code is not None:
        record.setdefault("DefaultTaxCodeRef", {"value": code})
    if old is not None and old.get("Active", True) and record["Active"] is False:
        check_settled(old)
    # Balances belong to the invoices, whatever the request says.
    record["Balance"] = old.get("Balance", Decimal(0)) if old else Decimal(0)
    record["BalanceWithJobs"] = old.get("BalanceWithJobs", Decimal(0)) if old else Decimal(0)
    parent = _place(company, record, old)
    currency.settle_currency("Customer", record, old, company.preferences, parent)
    for key in ("BillAddr", "ShipAddr"):
        address = record.get(key)
        if isinstance(address, dict) and "Id" not in address:
            company.addr_seq += 1
            record[key] = {"Id": str(company.addr_seq), **address}
    return record


def _place(company: Company, record: Record, old: Record | None) -> Record | None:
    """Where the customer sits in the tree (Job, Level, FullyQualifiedName); its parent, if any."""
    parent_ref = record.get("ParentRef")
    if parent_ref is None:
        record["Job"] = False
        record.pop("Level", None)
        record["FullyQualifiedName"] = record["DisplayName"]
        return None
    parent = company.ref("Customer", parent_ref, "ParentRef")
    if old is not None and _is_descendant(company, parent["Id"], old["Id"]):
        raise faults.business("A customer cannot be its own parent", "ParentRef")
    level = int(parent.get("Level", 0)) + 1
    if level > MAX_LEVEL:
        raise faults.business("Sub-customers can be nested at most 4 deep", "ParentRef")
    record["ParentRef"] = {"value": parent["Id"]}  # QBO names no customer parent
    record["Job"] = True
    record["Level"] = level
    record["FullyQualifiedName"] = f"{parent['FullyQualifiedName']}:{record['DisplayName']}"
    return parent


def _is_descendant(company: Company, candidate: str, ancestor: str) -> bool:
    seen = 0
    while candidate and seen < 10:
        if candidate == ancestor:
            return True
        row = company.records["Customer"].get(candidate, {})
        candidate = row.get("ParentRef", {}).get("value", "")
        seen += 1
    return False
