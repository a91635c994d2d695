"""How QBO figures an invoice's money: sales tax in each company kind, and discounts.

Pure functions over a company's records (``Preferences``, ``CompanyInfo``, ``TaxCode``,
``TaxRate``, ``Account``) and an invoice's lines; ``invoices.prepare`` calls ``figure`` and copies
the answer into the record. What real QBO does comes from ../shared/qbo/FACTS.md §11; where it is
marked [unverified] or silent, the choice made here is named in a comment and in the README
("Tax and discounts on invoices").

    US, manual     lines TAX/NON; one TxnTaxDetail.TxnTaxCodeRef (a code may group rates); each
                   rate x the TAX lines, rounded half up to the cent per rate
    US, AST        the rates of the ship-to address (``AST_RATES``, the emulator's own table)
    outside the US every sales line names a TaxCode; each code's rates x its lines, exclusive
                   or inclusive of the tax (``GlobalTaxCalculation``)
    discounts      one invoice-wide line, percent or amount, spread over the lines pro rata

Money is ``Decimal``; every figure is rounded half up to the cent.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, NamedTuple

from appliance.emulator import faults

Record = dict[str, Any]
Records = Mapping[str, Mapping[str, Record]]

CENT = Decimal("0.01")
ZERO = Decimal(0)
HUNDRED = Decimal(100)
US_PSEUDO_CODES = frozenset({"TAX", "NON"})

#: The locale's words in the 6000 refusal of a line without a tax code (FACTS §11: Canada and the
#: UK are quoted; Australia's "a GST rate" is the emulator's choice).
MISSING_CODE_WORDS = {"CA": "a GST/HST rate", "GB": "a VAT rate", "AU": "a GST rate"}

#: Automated sales tax: the emulator's own small rate table, realistic but NOT Intuit's figures.
#: (TaxRate Name, RateValue %, state, cities it applies in (none: the whole state), agency).
#: A state absent here, or with no rows (Oregon), has no sales tax in the emulator.
CDTFA = "California Department of Tax and Fee Administration"
NYS = "New York State Department of Taxation and Finance"
WA = "Washington State Department of Revenue"
AST_RATES: tuple[tuple[str, str, str, tuple[str, ...], str], ...] = (
    ("California State", "7.25", "CA", (), CDTFA),
    ("Santa Clara County District", "1.875", "CA", ("Palo Alto", "Middlefield"), CDTFA),
    ("San Mateo County District", "2.125", "CA", ("Menlo Park", "Half Moon Bay"), CDTFA),
    ("Contra Costa County District", "2.5", "CA", ("San Pablo",), CDTFA),
    ("San Francisco District", "1.375", "CA", ("San Francisco",), CDTFA),
    ("Arizona State", "5.6", "AZ", (), "Arizona Department of Revenue"),
    ("Tucson City", "2.6", "AZ", ("Tucson",), "Arizona Department of Revenue"),
    ("Phoenix City", "2.3", "AZ", ("Phoenix",), "Arizona Department of Revenue"),
    ("New York State", "4", "NY", (), NYS),
    ("New York City", "4.875", "NY", ("New York",), NYS),
    ("New Jersey State", "6.625", "NJ", (), "New Jersey Division of Taxation"),
    ("Texas State", "6.25", "TX", (), "Texas Comptroller of Public Accounts"),
    ("Austin City and Transit", "2", "TX", ("Austin",), "Texas Comptroller of Public Accounts"),
    ("Washington State", "6.5", "WA", (), WA),
    ("Seattle City and Transit", "3.85", "WA", ("Seattle",), WA),
)  # fmt: skip


def ast_agencies() -> tuple[str, ...]:
    """The agencies of ``AST_RATES``, in order of first use (TaxAgency Ids from 1)."""
    return tuple(dict.fromkeys(agency for *_, agency in AST_RATES))


def ast_rates() -> tuple[tuple[str, str, int], ...]:
    """``AST_RATES`` as seed rows (Name, RateValue, agency number): TaxRate Ids from 1."""
    agencies = ast_agencies()
    return tuple((name, value, agencies.index(agency) + 1) for name, value, *_, agency in AST_RATES)


class Figures(NamedTuple):
    subtotal: Decimal  # the sales lines, before any discount (the SubTotalLineDetail line)
    tax_detail: Record  # TxnTaxDetail
    total: Decimal  # TotalAmt


def half_up(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _ref_value(ref: Any) -> str | None:
    value = ref.get("value") if isinstance(ref, dict) else None
    return value if isinstance(value, str) and value else None


def _number(value: Any, field: str) -> Decimal:
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise faults.business(f"{field} is not a number", field) from None
    if not result.is_finite():
        raise faults.business(f"{field} is not a number", field)
    return result


def _one(records: Records, entity: str) -> Record:
    return records.get(entity, {}).get("1") or {}


def country(records: Records) -> str:
    return str(_one(records, "CompanyInfo").get("Country") or "US")


def tax_prefs(records: Records) -> Record:
    prefs = _one(records, "Preferences").get("TaxPrefs")
    return prefs if isinstance(prefs, dict) else {}


def is_ast(records: Records) -> bool:
    return country(records) == "US" and tax_prefs(records).get("PartnerTaxEnabled") is True


def default_line_code(records: Records, item: Record) -> str | None:
    """The TaxCodeRef a sales line without one gets: NON in a manual US company (QBO's default
    there); under AST, TAX for an item that is ``Taxable`` and NON otherwise ([unverified]: AST
    taxes by the product's own taxability); outside the US none (the line is refused)."""
    if country(records) != "US":
        return None
    if is_ast(records) and item.get("Taxable") is True:
        return "TAX"
    return "NON"


def default_customer_code(records: Records) -> str | None:
    """A taxable customer's DefaultTaxCodeRef when none is sent: code 2 (as the recorded
    sandbox's Sonnenschein Family Store carries) in a manual US company that has it; none in
    the other kinds ([unverified]: the emulator's choice; QBO's own default is not recorded)."""
    codes = records.get("TaxCode", {})
    if country(records) == "US" and not is_ast(records) and "2" in codes:
        return "2"
    return None


# Discounts -------------------------------------------------------------------------------------


def _discount_account(records: Records) -> Record | None:
    """The income account of subtype DiscountsRefundsGiven a discount line defaults to:
    "Discounts given" where there is one, else the first such account by Id."""
    found = [
        a
        for a in records.get("Account", {}).values()
        if a.get("AccountSubType") == "DiscountsRefundsGiven" and a.get("Active", True)
    ]
    for account in found:
        if account.get("Name") == "Discounts given":
            return account
    return found[0] if found else None


def _discount(records: Records, lines: list[Record], subtotal: Decimal) -> Decimal:
    """Figure the discount lines in place (Amount, DiscountAccountRef); answer their sum."""
    total = ZERO
    for line in lines:
        if line.get("DetailType") != "DiscountLineDetail":
            continue
        prefs = _one(records, "Preferences").get("SalesFormsPrefs") or {}
        if prefs.get("AllowDiscount") is False:
            # The refusal's code and wording are the emulator's (FACTS §11 says only that a
            # discount needs AllowDiscount).
            raise faults.business(
                "Discounts are turned off for this company (SalesFormsPrefs.AllowDiscount)",
                "DiscountLineDetail",
            )
        detail = line.get("DiscountLineDetail")
        if not isinstance(detail, dict):
            detail = line["DiscountLineDetail"] = {}
        if detail.get("PercentBased") is True:
            percent = _number(detail.get("DiscountPercent", 0), "DiscountPercent")
            detail["DiscountPercent"] = percent
            amount = half_up(subtotal * percent / HUNDRED)
        else:
            amount = half_up(_number(line.get("Amount", 0), "Amount"))
            detail.setdefault("PercentBased", False)
        if amount < 0:
            raise faults.business("A discount cannot be negative", "Amount")
        line["Amount"] = amount
        if "DiscountAccountRef" not in detail:
            account = _discount_account(records)
            if account is not None:
                detail["DiscountAccountRef"] = {"value": account["Id"], "name": account["Name"]}
        total += amount
    if total > subtotal:
        # FACTS §11 quotes the message; the code (6000) is the emulator's choice.
        raise faults.business(
            "The discount amount can't be greater than the subtotal", "DiscountLineDetail"
        )
    return total


def _spread(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """``total`` shared in proportion to ``weights``, each rounded half up to the cent, the last
    taking what rounding left over."""
    whole = sum(weights, ZERO)
    if not weights:
        return []
    if whole == 0:
        return [ZERO] * (len(weights) - 1) + [total]
    shares = [half_up(total * w / whole) for w in weights[:-1]]
    return [*shares, total - sum(shares, ZERO)]


# Tax ------------------------------------------------------------------------------------------


def _sales_lines(lines: list[Record]) -> list[Record]:
    return [line for line in lines if line.get("DetailType") == "SalesItemLineDetail"]


def _line_code(line: Record) -> str | None:
    return _ref_value(line.get("SalesItemLineDetail", {}).get("TaxCodeRef"))


def _rate_ids(code: Record | None) -> list[str]:
    if code is None:
        return []
    details = (code.get("SalesTaxRateList") or {}).get("TaxRateDetail") or []
    return [v for d in details if (v := _ref_value(d.get("TaxRateRef"))) is not None]


def _tax_line(rate_id: str, percent: Decimal, taxable: Decimal, amount: Decimal) -> Record:
    return {
        "Amount": amount,
        "DetailType": "TaxLineDetail",
        "TaxLineDetail": {
            "TaxRateRef": {"value": rate_id},
            "PercentBased": True,
            "TaxPercent": percent,
            "NetAmountTaxable": taxable,
        },
    }


def _override(sent: Any) -> Decimal | None:
    """A ``TxnTaxDetail.TotalTax`` sent by the client, taken as an override (US) when it is not
    zero: [unverified] a 0 is what clients such as python-quickbooks send in an empty
    TxnTaxDetail, so it means "figure it" (make an invoice tax-free with NON lines instead)."""
    if not isinstance(sent, dict) or "TotalTax" not in sent:
        return None
    amount = half_up(_number(sent["TotalTax"], "TotalTax"))
    return amount if amount != 0 else None


def _us_tax(
    records: Records,
    taxable: Decimal,
    rate_ids: list[str],
    override: Decimal | None,
) -> tuple[list[Record], Decimal]:
    rates = records.get("TaxRate", {})
    percents = [Decimal(str(rates[r].get("RateValue", 0))) for r in rate_ids if r in rates]
    ids = [r for r in rate_ids if r in rates]
    if override is not None and ids:
        amounts = _spread(override, percents)
    else:
        amounts = [half_up(taxable * p / HUNDRED) for p in percents]
    lines = [_tax_line(r, p, taxable, a) for r, p, a in zip(ids, percents, amounts, strict=True)]
    return lines, sum(amounts, ZERO)


def _ast_rate_ids(records: Records, addresses: list[Any]) -> list[str]:
    """The TaxRate ids for the first address that names a state: the state's rate, then the
    city's (matched by Name against ``AST_RATES``, so the seeded records are the source)."""
    for address in addresses:
        if not isinstance(address, dict) or not address.get("CountrySubDivisionCode"):
            continue
        state = str(address["CountrySubDivisionCode"]).strip().upper()
        city = str(address.get("City", "")).strip().casefold()
        wanted = [
            name
            for name, _, where, cities, _ in AST_RATES
            if where == state and (not cities or city in {c.casefold() for c in cities})
        ]
        by_name = {r.get("Name"): rid for rid, r in records.get("TaxRate", {}).items()}
        return [by_name[name] for name in wanted if name in by_name]
    return []


def _pro_rata_discount(discount: Decimal, part: Decimal, subtotal: Decimal) -> Decimal:
    return half_up(discount * part / subtotal) if subtotal else ZERO


def figure(records: Records, invoice: Record, lines: list[Record], customer: Record) -> Figures:
    """Figure an invoice: its discount lines (in place), TxnTaxDetail and TotalAmt.

    ``lines`` are the invoice's lines with every sales line's Amount already known;
    ``invoice`` is the record as it will be saved (its ``TxnTaxDetail`` as sent, ``ShipAddr``,
    ``ApplyTaxAfterDiscount``, ``GlobalTaxCalculation``)."""
    sales = _sales_lines(lines)
    subtotal = sum((line["Amount"] for line in sales), ZERO)
    discount = _discount(records, lines, subtotal)
    sent = invoice.get("TxnTaxDetail")
    if country(records) != "US":
        abroad, inclusive = _abroad(records, invoice, sales, subtotal, discount)
        total = subtotal - discount + (ZERO if inclusive else abroad["TotalTax"])
        return Figures(subtotal, abroad, total)
    if tax_prefs(records).get("UsingSalesTax") is False:
        return Figures(subtotal, {"TotalTax": ZERO}, subtotal - discount)
    taxed = sum((line["Amount"] for line in sales if _line_code(line) == "TAX"), ZERO)
    if invoice.get("ApplyTaxAfterDiscount") is True:
        taxed -= _pro_rata_discount(discount, taxed, subtotal)
    override = _override(sent)
    detail: Record
    if is_ast(records):
        addresses = [invoice.get("ShipAddr"), customer.get("ShipAddr"), customer.get("BillAddr")]
        addresses.append(_one(records, "CompanyInfo").get("CompanyAddr"))
        rate_ids = _ast_rate_ids(records, addresses) if taxed or override else []
        tax_lines, tax = _us_tax(records, taxed, rate_ids, override)
        detail = {"TotalTax": tax}  # QBO replaces any TxnTaxCodeRef sent: none is kept
    else:
        code_id = _ref_value(sent.get("TxnTaxCodeRef")) if isinstance(sent, dict) else None
        if code_id is None and taxed:
            code_id = _ref_value(customer.get("DefaultTaxCodeRef"))
            if code_id in US_PSEUDO_CODES or code_id not in records.get("TaxCode", {}):
                code_id = _ref_value(tax_prefs(records).get("TaxGroupCodeRef"))
        code = records.get("TaxCode", {}).get(code_id or "")
        tax_lines, tax = _us_tax(records, taxed, _rate_ids(code), override)
        detail = {"TxnTaxCodeRef": {"value": code["Id"]}} if code is not None else {}
        detail["TotalTax"] = tax
    if tax_lines:
        detail["TaxLine"] = tax_lines
    return Figures(subtotal, detail, subtotal - discount + tax)


def _abroad(
    records: Records,
    invoice: Record,
    sales: list[Record],
    subtotal: Decimal,
    discount: Decimal,
) -> tuple[Record, bool]:
    """Outside the US: every line's code is required; each code's rates apply to its lines,
    after the discount ([unverified]: the emulator spreads the discount over the codes pro rata
    and taxes what is left). ``TxnTaxDetail.TotalTax`` sent is not an override here
    ([unverified]): the tax is always figured. Answers (TxnTaxDetail, inclusive?)."""
    mode = invoice.get("GlobalTaxCalculation", "TaxExcluded")
    if mode not in ("TaxExcluded", "TaxInclusive", "NotApplicable"):
        raise faults.validation(
            "2170", "Invalid Enumeration", f"Invalid Enumeration : {mode}", "GlobalTaxCalculation"
        )
    if mode == "NotApplicable":
        return {"TotalTax": ZERO}, False
    words = MISSING_CODE_WORDS.get(country(records), "a tax rate")
    by_code: dict[str, Decimal] = {}
    for line in sales:
        code_id = _line_code(line)
        if code_id is None:
            raise faults.business(
                f"Make sure all your transactions have {words} before you save.", "TaxCodeRef"
            )
        by_code[code_id] = by_code.get(code_id, ZERO) + line["Amount"]
    shares = _spread(discount, list(by_code.values())) if discount else [ZERO] * len(by_code)
    codes = records.get("TaxCode", {})
    rates = records.get("TaxRate", {})
    inclusive = mode == "TaxInclusive"
    per_rate: dict[str, tuple[Decimal, Decimal, Decimal]] = {}  # rate: (percent, net, tax)
    for (code_id, amount), share in zip(by_code.items(), shares, strict=True):
        base = amount - share
        for rate_id in _rate_ids(codes.get(code_id)):
            if rate_id not in rates:
                continue
            percent = Decimal(str(rates[rate_id].get("RateValue", 0)))
            if inclusive:
                tax = half_up(base * percent / (HUNDRED + percent))
                net = base - tax
            else:
                tax = half_up(base * percent / HUNDRED)
                net = base
            was = per_rate.get(rate_id, (percent, ZERO, ZERO))
            per_rate[rate_id] = (percent, was[1] + net, was[2] + tax)
    tax_lines = [_tax_line(r, p, n, t) for r, (p, n, t) in per_rate.items()]
    detail: Record = {"TotalTax": sum((t for _, _, t in per_rate.values()), ZERO)}
    if tax_lines:
        detail["TaxLine"] = tax_lines
    return detail, inclusive
