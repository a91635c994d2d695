"""The rules of QBO's ``Account`` (the chart of accounts).

``Company`` calls ``prepare`` before a create or update (through ``company.RULES``) and
``after_write`` once the change is stored. What QBO does (../shared/qbo/FACTS.md §4, §11):
``AccountType`` required, one of Intuit's (2170 otherwise), which sets the Classification and the
default AccountSubType; names unique by FullyQualifiedName ("Parent:Child"), case-insensitively
(6240); a made-inactive account's name gets `` (deleted)`` appended; the balances belong to the
transactions (``Company.add_account_balance``), whatever the request says.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from appliance.emulator import currency, faults, fields
from appliance.emulator.entities import Record

if TYPE_CHECKING:
    from appliance.emulator.company import Company

ACCOUNT_TYPES: dict[str, tuple[str, str]] = {
    # AccountType: (Classification, default AccountSubType), XSD AccountTypeEnum
    "Bank": ("Asset", "Checking"),
    "Accounts Receivable": ("Asset", "AccountsReceivable"),
    "Other Current Asset": ("Asset", "OtherCurrentAssets"),
    "Fixed Asset": ("Asset", "OtherFixedAssets"),
    "Other Asset": ("Asset", "OtherLongTermAssets"),
    "Accounts Payable": ("Liability", "AccountsPayable"),
    "Credit Card": ("Liability", "CreditCard"),
    "Other Current Liability": ("Liability", "OtherCurrentLiabilities"),
    "Long Term Liability": ("Liability", "OtherLongTermLiabilities"),
    "Equity": ("Equity", "OpeningBalanceEquity"),
    "Income": ("Revenue", "SalesOfProductIncome"),
    "Other Income": ("Revenue", "OtherMiscellaneousIncome"),
    "Cost of Goods Sold": ("Expense", "SuppliesMaterialsCogs"),
    "Expense": ("Expense", "OtherMiscellaneousServiceCost"),
    "Other Expense": ("Expense", "OtherMiscellaneousExpense"),
}


def prepare(company: Company, record: Record, old: Record | None) -> Record:
    """Check an account about to be created (``old`` None) or updated, and fill what QBO fills."""
    record["Name"] = fields.name(fields.string(record, "Name", 100), "Name", "Account")
    account_type = record.get("AccountType")
    if account_type is None:
        raise faults.required("AccountType", "Account")
    if account_type not in ACCOUNT_TYPES:
        raise faults.validation(
            "2170",
            "Invalid Enumeration",
            f"Invalid Enumeration : {account_type}",
            "AccountType",
        )
    classification, subtype = ACCOUNT_TYPES[account_type]
    record["Classification"] = classification
    record.setdefault("AccountSubType", subtype)
    currency.settle_currency("Account", record, old, company.preferences)
    fields.active(record, old, "Name")
    parent_ref = record.get("ParentRef")
    if parent_ref is not None:
        parent = company.ref("Account", parent_ref, "ParentRef")
        record["ParentRef"] = {"value": parent["Id"]}
        record["SubAccount"] = True
        record["FullyQualifiedName"] = f"{parent['FullyQualifiedName']}:{record['Name']}"
    else:
        record["SubAccount"] = False
        record["FullyQualifiedName"] = record["Name"]
    clash = company.account_names.get(fields.fold(record["FullyQualifiedName"]))
    if clash is not None and (old is None or clash != old["Id"]):
        raise faults.duplicate_name("account")
    balance = old.get("CurrentBalance", Decimal(0)) if old else Decimal(0)
    record["CurrentBalance"] = balance
    record["CurrentBalanceWithSubAccounts"] = balance
    return record


def after_write(company: Company, old: Record | None, new: Record | None) -> None:
    """Keep the account-name index (by FullyQualifiedName) in step with a write."""
    if old is not None:
        company.account_names.pop(fields.fold(old["FullyQualifiedName"]), None)
    if new is not None:
        company.account_names[fields.fold(new["FullyQualifiedName"])] = new["Id"]
