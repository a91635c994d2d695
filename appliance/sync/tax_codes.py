"""A QBO ``TaxCode`` as the store keeps it (``QboTaxCode``): its sales rates, each with its
percent from the ``TaxRate`` it names, and their sum (../shared/qbo/FACTS.md section 11).

Tax codes and rates are read-only in QBO and CDC does not cover them: the import reads every
``TaxRate`` first (``rates_by_id``), then maps each code with them. A code whose sales rates
cannot all be found is skipped with the reason, never stored with a wrong percent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from appliance.qbo.query import Select
from appliance.storage.mirror import MirrorRow
from appliance.sync.fields import Mapped, Skip, clean, flag, ref, text

Rates = Mapping[str, dict[str, Any]]

#: Every code and rate, inactive ones too: a code made inactive in QBO is kept as inactive, and
#: an inactive rate can still be part of a code.
TAX_CODES = Select("TaxCode").filter("Active", "IN", [True, False])
TAX_RATES = Select("TaxRate").filter("Active", "IN", [True, False])


def _details(record: dict[str, Any], key: str) -> list[dict[str, Any]]:
    listed = record.get(key)
    details = listed.get("TaxRateDetail") if isinstance(listed, dict) else None
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []


def _percent(rate: dict[str, Any]) -> Decimal | None:
    value = rate.get("RateValue")
    if isinstance(value, bool) or value is None:
        return None
    try:
        percent = Decimal(str(value))
    except InvalidOperation:
        return None
    return percent if percent.is_finite() else None


def _sales_rates(record: dict[str, Any], rates: Rates) -> list[dict[str, str]] | str:
    """The code's sales rates as ``{"qbo_id", "name", "percent"}``, or why they cannot be."""
    found: list[dict[str, str]] = []
    for detail in _details(record, "SalesTaxRateList"):
        rate_id = ref(detail, "TaxRateRef")
        rate = rates.get(rate_id) if rate_id else None
        percent = _percent(rate) if rate is not None else None
        if rate_id is None or percent is None:
            return f"names a tax rate ({rate_id or 'no id'}) QuickBooks did not list with a value"
        name = text(rate.get("Name") if rate else None) or rate_id
        found.append({"qbo_id": rate_id, "name": name, "percent": str(percent)})
    return found


def tax_code_row(record: dict[str, Any], rates: Rates) -> Mapped:
    """A tax code as the mirror keeps it; the US pseudo-codes ``TAX`` and ``NON`` have no rates
    (percent None), nor has a code used on purchases only, which is skipped: it cannot go on an
    invoice."""
    qbo_id = str(record.get("Id", ""))
    name = text(record.get("Name"))
    if name is None:
        return Skip(qbo_id, None, "has no name")
    sales = _sales_rates(record, rates)
    if isinstance(sales, str):
        return Skip(qbo_id, name, sales)
    if not sales and _details(record, "PurchaseTaxRateList"):
        return Skip(qbo_id, name, "is for purchases only")
    percent = str(sum((Decimal(r["percent"]) for r in sales), Decimal(0))) if sales else None
    columns = {
        "name": name[:100],
        "description": (text(record.get("Description")) or "")[:500] or None,
        "active": record.get("Active", True) is not False,
        "taxable": flag(record, "Taxable"),
        "tax_group": record.get("TaxGroup") is True,
        "rates": sales,
        "percent": percent,
    }
    data = clean({"qbo_id": qbo_id, **columns})
    return MirrorRow(qbo_id, columns, data)


def with_rates(rates: Rates) -> Callable[[dict[str, Any]], Mapped]:
    """The mapper of tax codes, given every ``TaxRate`` by id."""
    return lambda record: tax_code_row(record, rates)
