"""How a QuickBooks company keeps its books, as far as writing an invoice right depends on it.

Read from ``CompanyInfo`` and ``Preferences`` (../shared/qbo/FACTS.md section 11): the country
decides between one tax code per invoice (US) and a code on every line (everywhere else); in the
US, ``TaxPrefs.PartnerTaxEnabled`` true means automated sales tax (AST), where QuickBooks figures
the tax from the ship-to address and the appliance gives JobRoutr's total as an override.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class TaxModel(StrEnum):
    AST = "ast"  # US, automated sales tax: lines TAX/NON, ShipAddr, TotalTax override
    US_MANUAL = "us_manual"  # US, rates set up by hand: lines TAX/NON, one TxnTaxCodeRef
    PER_LINE = "per_line"  # outside the US: a TaxCodeRef on every line, GlobalTaxCalculation
    NONE = "none"  # a US company that charges no sales tax: nothing taxed

    @property
    def describe(self) -> str:
        return TAX_MODEL_NAMES[self]

    @property
    def needs_mapping(self) -> bool:
        """Whether JobRoutr's tax rates must be mapped to the company's tax codes."""
        return self in (TaxModel.US_MANUAL, TaxModel.PER_LINE)


TAX_MODEL_NAMES = {
    TaxModel.AST: "US automated sales tax (QuickBooks figures the rate from the address)",
    TaxModel.US_MANUAL: "US sales tax set up by hand (one tax code per invoice)",
    TaxModel.PER_LINE: "a tax code on every line (GST/HST, VAT)",
    TaxModel.NONE: "no sales tax",
}


@dataclass(frozen=True)
class Books:
    realm_id: str
    country: str | None
    tax_model: TaxModel
    home_currency: str
    multicurrency: bool
    allow_discount: bool
    custom_txn_numbers: bool
    read_at: datetime | None = None


def _flag(value: Any, default: bool) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return default


def tax_model(country: str | None, tax_prefs: dict[str, Any]) -> TaxModel:
    """The tax model from the country and ``Preferences.TaxPrefs``: outside the US every line
    needs a code whatever ``UsingSalesTax`` says; a company with no country is taken as a US one
    (QuickBooks' default)."""
    if (country or "US").strip().upper() not in ("US", "USA"):
        return TaxModel.PER_LINE
    if _flag(tax_prefs.get("PartnerTaxEnabled"), False):
        return TaxModel.AST
    if not _flag(tax_prefs.get("UsingSalesTax"), False):
        return TaxModel.NONE
    return TaxModel.US_MANUAL


def books_from(realm_id: str, company_info: dict[str, Any], preferences: dict[str, Any]) -> Books:
    """``Books`` from QBO's ``CompanyInfo`` and ``Preferences`` records, as read."""
    country = company_info.get("Country")
    country = str(country).strip().upper() if country else None
    currency = preferences.get("CurrencyPrefs") or {}
    sales = preferences.get("SalesFormsPrefs") or {}
    home = currency.get("HomeCurrency") or {}
    home_code = str(home.get("value") or "").strip().upper() if isinstance(home, dict) else ""
    return Books(
        realm_id=realm_id,
        country=country,
        tax_model=tax_model(country, preferences.get("TaxPrefs") or {}),
        home_currency=home_code or "USD",
        multicurrency=_flag(currency.get("MultiCurrencyEnabled"), False),
        allow_discount=_flag(sales.get("AllowDiscount"), True),
        custom_txn_numbers=_flag(sales.get("CustomTxnNumbers"), True),
    )
