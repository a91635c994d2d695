"""The rules of QBO's ``Item`` (products and services, and the categories that group them).

``Company`` calls ``prepare`` before a create or update (through ``company.RULES``) and
``after_write`` once the change is stored. What QBO does (../shared/qbo/FACTS.md §4, §11):

* Names unique in the item list, compared case-insensitively (6240), no ``:``; a made-inactive
  item's name gets `` (deleted)`` appended; ``Type`` one of ``ITEM_TYPES`` (2170).
* A category has no accounts and no price, and is the only kind of parent an item may have; the
  item is then named by its FullyQualifiedName ("Category:Item").
* Every other item needs an ``IncomeAccountRef``; an expense account when it is bought
  (Inventory, a PurchaseDesc or a PurchaseCost); an Inventory item its asset account, quantity
  and start date, and ``TrackQtyOnHand`` cannot be turned off once on.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from appliance.emulator import faults, fields
from appliance.emulator.entities import Record

if TYPE_CHECKING:
    from appliance.emulator.company import Company

ITEM_TYPES = ("Service", "NonInventory", "Inventory", "Category")
ACCOUNT_REFS = ("IncomeAccountRef", "ExpenseAccountRef", "AssetAccountRef")


def prepare(company: Company, record: Record, old: Record | None) -> Record:
    """Check an item about to be created (``old`` None) or updated, and fill what QBO fills."""
    record["Name"] = fields.name(fields.string(record, "Name", 100), "Name", "Item")
    company.check_references("Item", record, old)
    item_type = record.setdefault("Type", old["Type"] if old else "NonInventory")
    if item_type not in ITEM_TYPES:
        raise faults.validation(
            "2170", "Invalid Enumeration", f"Invalid Enumeration : {item_type}", "Type"
        )
    if old is not None and old.get("TrackQtyOnHand") and not record.get("TrackQtyOnHand"):
        raise faults.business("TrackQtyOnHand cannot be turned off once on", "TrackQtyOnHand")
    fields.active(record, old, "Name")
    clash = company.item_names.get(fields.fold(record["Name"]))
    if clash is not None and (old is None or clash != old["Id"]):
        raise faults.duplicate_name("product or service")
    for key in ("UnitPrice", "PurchaseCost", "QtyOnHand"):
        if key in record:
            record[key] = fields.money(record[key], key)
    if item_type == "Category":
        for key in (*ACCOUNT_REFS, "UnitPrice"):
            if key in record:
                raise faults.business(f"A category cannot have {key}", key)
    else:
        _sold(company, record, item_type)
    _place(company, record)
    return record


def after_write(company: Company, old: Record | None, new: Record | None) -> None:
    """Keep the item-name index in step with a write."""
    if old is not None:
        company.item_names.pop(fields.fold(old["Name"]), None)
    if new is not None:
        company.item_names[fields.fold(new["Name"])] = new["Id"]


def _sold(company: Company, record: Record, item_type: str) -> None:
    """The defaults and the accounts of an item that is sold (any type but Category)."""
    record.setdefault("Taxable", False)
    record.setdefault("UnitPrice", Decimal(0))
    record.setdefault("PurchaseCost", Decimal(0))
    record.setdefault("TrackQtyOnHand", item_type == "Inventory")
    record.setdefault("DeferredRevenue", False)
    if "IncomeAccountRef" not in record:
        raise faults.required("IncomeAccountRef", "Item")
    needs_expense = (
        item_type == "Inventory" or "PurchaseDesc" in record or (record.get("PurchaseCost", 0) != 0)
    )
    if needs_expense and "ExpenseAccountRef" not in record:
        raise faults.required("ExpenseAccountRef", "Item")
    if item_type == "Inventory":
        record["TrackQtyOnHand"] = True
        for key in ("AssetAccountRef", "QtyOnHand", "InvStartDate"):
            if key not in record:
                raise faults.required(key, "Item")
    for key in ACCOUNT_REFS:
        if key in record:
            account = company.ref("Account", record[key], key)
            record[key] = fields.ref_of(account, "Name")


def _place(company: Company, record: Record) -> None:
    """Where the item sits under its category, if it has one (SubItem, Level, full name)."""
    parent_ref = record.get("ParentRef")
    if parent_ref is not None:
        parent = company.ref("Item", parent_ref, "ParentRef")
        if parent.get("Type") != "Category":
            raise faults.business("An item's parent must be a category", "ParentRef")
        record["ParentRef"] = fields.ref_of(parent, "Name")
        record["SubItem"] = True
        record["Level"] = int(parent.get("Level", 0)) + 1
        record["FullyQualifiedName"] = f"{parent['FullyQualifiedName']}:{record['Name']}"
    else:
        record["SubItem"] = False
        record.pop("Level", None)
        record["FullyQualifiedName"] = record["Name"]
