"""The invoice written the company's way: its sales tax, the discount and the currency, as the
connected company keeps them (../shared/qbo/FACTS.md §11; docs/push.md "How each company kind is
written").

    AST         lines TAX/NON; JobRoutr's tax total as TxnTaxDetail.TotalTax, the override
                QBO spreads over the rates of the address (ShipAddr, from service_address)
    US manual   lines TAX/NON; ONE TxnTaxCodeRef, the code the bill's rates are mapped to
    outside US  every line's TaxCodeRef from the mapping (untaxed lines: the company's code for
                them); GlobalTaxCalculation from tax.mode
    discount    one DiscountLineDetail line (the default discount account); in the US,
                ApplyTaxAfterDiscount = before_tax
    currency    CurrencyRef, and ExchangeRate for a foreign currency with multi-currency on

Pure: what the company can never hold as billed raises ``Refused`` (before anything is written);
what needs the operator (a tax mapping, the discount account, the code for untaxed lines) raises
``Wait`` on the token that wakes it (``taxrate:<id>``, ``settings:invoices``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from appliance.core.books import Books, TaxModel
from appliance.storage.taxes import INVOICE_SETTINGS, waits_on
from appliance.sync.fields import address_to_qbo, field
from appliance.sync.push.invoice.body import money
from appliance.sync.push.outcome import HINTS, Refused, Wait

ZERO = Decimal(0)
#: The token the invoice settings (discount account, code for untaxed lines) wake.
SETTINGS_WAKE = INVOICE_SETTINGS  # the discount account, the code for untaxed lines
#: How often a waiting invoice looks again anyway (a mapping or setting wakes it at once).
MAPPING_WAIT = timedelta(seconds=60)
US_MODELS = (TaxModel.AST, TaxModel.US_MANUAL, TaxModel.NONE)

Need = tuple[str, str]  # (what the invoice waits for, in words; the token that wakes it)
Codes = list[str | None]  # the TaxCodeRef of each JobRoutr line, in order (None: none sent)
Taxed = tuple[Codes, dict[str, Any]]  # the lines' codes and the invoice's tax fields


@dataclass(frozen=True)
class CompanyWay:
    """What writing an invoice the company's way needs to know, read before the write."""

    books: Books
    #: JobRoutr rate id -> the QBO tax code it is mapped to (None: known but not mapped).
    codes: dict[str, str | None]
    discount_account: str | None
    untaxed_code: str | None
    #: The customer's currency in QuickBooks (None: not read; multi-currency is off).
    customer_currency: str | None = None


# The bill's figures -------------------------------------------------------------------------------


def totals(data: dict[str, Any]) -> dict[str, Decimal]:
    raw = data.get("totals")
    raw = raw if isinstance(raw, dict) else {}
    return {k: money(raw.get(k)) for k in ("subtotal", "discount", "tax", "total")}


def _tax(data: dict[str, Any]) -> dict[str, Any]:
    tax = data.get("tax")
    return tax if isinstance(tax, dict) else {}


def _rates(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rates = _tax(data).get("rates")
    return {str(r["id"]): r for r in rates or [] if isinstance(r, dict) and "id" in r}


def _line_rates(data: dict[str, Any]) -> list[str | None]:
    return [
        str(line["tax_rate_id"]) if line.get("tax_rate_id") is not None else None
        for line in data.get("lines", [])
    ]


def _charging(data: dict[str, Any]) -> set[str]:
    """The bill's rates that charge something (a 0 % rate charges nothing)."""
    return {rid for rid, rate in _rates(data).items() if money(rate.get("percent")) != 0}


def _inclusive(data: dict[str, Any]) -> bool:
    return str(_tax(data).get("mode", "exclusive")) == "inclusive"


def _rate_name(data: dict[str, Any], rate_id: str) -> str:
    return str(_rates(data).get(rate_id, {}).get("name") or rate_id)


# Tax, by the company's tax model ---------------------------------------------------------------


def _pseudo_codes(data: dict[str, Any], taxed: set[str]) -> Codes:
    """US lines: TAX for a line at one of ``taxed``, NON for the others."""
    return ["TAX" if rid in taxed else "NON" for rid in _line_rates(data)]


def _us_refusals(data: dict[str, Any]) -> None:
    if _inclusive(data) and totals(data)["tax"] != 0:
        raise Refused(
            "tax-inclusive",
            "This invoice's line amounts include the sales tax, but QuickBooks in the US adds "
            "sales tax on top of the lines, so it was not written (its total would differ).",
            HINTS["tax-inclusive"],
        )


def _ast(data: dict[str, Any], way: CompanyWay, needs: list[Need]) -> Taxed:
    """QBO figures the tax from the address; JobRoutr's total is given as the override. A bill
    that charges no tax has every line NON (QBO takes an override of 0 as "figure it")."""
    _us_refusals(data)
    tax = totals(data)["tax"]
    if tax == 0:
        return _pseudo_codes(data, set()), {}
    return _pseudo_codes(data, _charging(data)), {"TxnTaxDetail": {"TotalTax": tax}}


def _us_manual(data: dict[str, Any], way: CompanyWay, needs: list[Need]) -> Taxed:
    """One tax code per invoice: every rate the bill charges must be mapped to the same code
    (a group code for two rates), else the bill cannot match and is refused."""
    _us_refusals(data)
    used = sorted(_charging(data) & {r for r in _line_rates(data) if r})
    if not used:
        return _pseudo_codes(data, set()), {}
    unmapped = [r for r in used if not way.codes.get(r)]
    needs.extend(_mapping_need(data, r) for r in unmapped)
    if unmapped:
        return [], {}
    codes = sorted({str(way.codes[r]) for r in used})
    if len(codes) > 1:
        names = " and ".join(repr(_rate_name(data, r)) for r in used)
        raise Refused(
            "tax-rates",
            f"This invoice charges {names}, which are mapped to different QuickBooks tax "
            "codes; a US invoice in QuickBooks carries one tax code, so it was not written.",
            HINTS["tax-rates"],
        )
    header = {"TxnTaxDetail": {"TxnTaxCodeRef": {"value": codes[0]}}}
    return _pseudo_codes(data, set(used)), header


def _no_sales_tax(data: dict[str, Any], way: CompanyWay, needs: list[Need]) -> Taxed:
    if totals(data)["tax"] != 0:
        raise Refused(
            "tax-off",
            "This invoice charges sales tax, but sales tax is turned off in the QuickBooks "
            "company, so it was not written (its total would differ).",
            HINTS["tax-off"],
        )
    return [None] * len(data.get("lines", [])), {}


def _per_line(data: dict[str, Any], way: CompanyWay, needs: list[Need]) -> Taxed:
    """Every line names a tax code: its rate's mapped code, or the code for untaxed lines."""
    lines = _line_rates(data)
    if not _tax(data):
        return [None] * len(lines), {"GlobalTaxCalculation": "NotApplicable"}
    for rate_id in sorted({r for r in lines if r and not way.codes.get(r)}):
        needs.append(_mapping_need(data, rate_id))
    if None in lines and not way.untaxed_code:
        needs.append(("the tax code for untaxed lines", SETTINGS_WAKE))
    codes: Codes = [way.codes.get(r) if r else way.untaxed_code for r in lines]
    mode = "TaxInclusive" if _inclusive(data) else "TaxExcluded"
    return codes, {"GlobalTaxCalculation": mode}


TAX_MODELS: dict[TaxModel, Callable[[dict[str, Any], CompanyWay, list[Need]], Taxed]]
TAX_MODELS = {
    TaxModel.AST: _ast,
    TaxModel.US_MANUAL: _us_manual,
    TaxModel.NONE: _no_sales_tax,
    TaxModel.PER_LINE: _per_line,
}


#: How a rate waiting for its tax code is said (``waiting_words`` gathers them in one phrase).
RATE_NEED = "a tax code for JobRoutr's tax rate "


def _mapping_need(data: dict[str, Any], rate_id: str) -> Need:
    return (f"{RATE_NEED}{_rate_name(data, rate_id)!r}", waits_on(rate_id))


def waiting_words(needs: list[Need]) -> str:
    """What the invoice waits for, and where to give it, as an office manager acts on it: "tax
    codes for JobRoutr's tax rates 'VAT 20%' and 'Zero-rated'. Run `appliance taxes map` to map
    them." (the console says its key instead of the command)."""
    rates = [reason.removeprefix(RATE_NEED) for reason, _ in needs if reason.startswith(RATE_NEED)]
    words = [reason for reason, _ in needs if not reason.startswith(RATE_NEED)]
    if len(rates) == 1:
        words.insert(0, RATE_NEED + rates[0])
    elif rates:
        named = f"{', '.join(rates[:-1])} and {rates[-1]}"
        words.insert(0, f"tax codes for JobRoutr's tax rates {named}")
    them = "them" if len(words) > 1 else "it"
    where = (
        "Run `appliance taxes map` to map them."
        if rates
        else f"Run `appliance taxes` to set {them}."
    )
    return f"{' and '.join(words)}. {where}"


# Discount and currency ---------------------------------------------------------------------------


def _discount(data: dict[str, Any], way: CompanyWay, needs: list[Need]) -> dict[str, Any] | None:
    """QBO's invoice-wide discount line for JobRoutr's discount (its figured amount; a percent
    discount says its percent too, which QBO figures the same way: subtotal x percent, half up)."""
    discount = data.get("discount")
    amount = totals(data)["discount"]
    if not isinstance(discount, dict) or amount == 0:
        return None
    if not way.books.allow_discount:
        raise Refused(
            "discount-off",
            "This invoice has a discount, but discounts are turned off in the QuickBooks "
            "company, so it was not written.",
            HINTS["discount-off"],
        )
    if not way.discount_account:
        needs.append(("a default discount account", SETTINGS_WAKE))
        return None
    detail: dict[str, Any] = {"DiscountAccountRef": {"value": way.discount_account}}
    if discount.get("percent") is not None:
        detail.update(PercentBased=True, DiscountPercent=money(discount["percent"]))
    else:
        detail["PercentBased"] = False
    return {"DetailType": "DiscountLineDetail", "Amount": amount, "DiscountLineDetail": detail}


def currency_fields(data: dict[str, Any], way: CompanyWay) -> dict[str, Any]:
    """CurrencyRef (and ExchangeRate for a foreign currency); a currency the company or the
    customer cannot take is refused before anything is written."""
    books = way.books
    home = books.home_currency
    code = str(field(data, "currency") or home).upper()
    if code != home and not books.multicurrency:
        raise Refused(
            "currency-off",
            f"This invoice is in {code}, but the QuickBooks company keeps its books in {home} "
            "only (multi-currency is off), so it was not written.",
            HINTS["currency-off"],
        )
    customer = way.customer_currency or home
    if code != customer:
        raise Refused(
            "currency-customer",
            f"This invoice is in {code}, but its customer is kept in {customer} in "
            "QuickBooks, which invoices a customer only in its own currency, so it was not "
            "written.",
            HINTS["currency-customer"],
        )
    fields: dict[str, Any] = {"CurrencyRef": {"value": code}}
    if books.multicurrency and code != home:
        rate = money(data.get("exchange_rate"))
        if rate <= 0:
            raise Refused(
                "exchange-rate",
                f"This invoice is in {code} but carries no exchange rate to {home}, so it was "
                "not written.",
                HINTS["exchange-rate"],
            )
        fields["ExchangeRate"] = rate
    return fields


# The whole ----------------------------------------------------------------------------------------


def apply(data: dict[str, Any], body: dict[str, Any], way: CompanyWay) -> dict[str, Any]:
    """``body`` (``invoice_body``) with the company's tax, discount and currency fields."""
    result = {**body, **currency_fields(data, way)}
    needs: list[Need] = []
    discount = _discount(data, way, needs)
    codes, header = TAX_MODELS[way.books.tax_model](data, way, needs)
    if needs:
        raise Wait(
            waiting_words(needs),
            MAPPING_WAIT,
            waits_on=sorted({token for _, token in needs}),
        )
    lines = [dict(line) for line in result["Line"]]
    for line, code in zip(lines, codes, strict=True):
        if code is not None:
            detail = {**line["SalesItemLineDetail"], "TaxCodeRef": {"value": code}}
            line["SalesItemLineDetail"] = detail
    if discount is not None:
        lines.append(discount)
        if way.books.tax_model in US_MODELS:
            before_tax = data["discount"].get("before_tax", True) is not False
            header["ApplyTaxAfterDiscount"] = before_tax
    result["Line"] = lines
    if ship_to := address_to_qbo(data.get("service_address")):
        result["ShipAddr"] = ship_to
    return {**result, **header}
