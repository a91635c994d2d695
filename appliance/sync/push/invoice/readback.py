"""QuickBooks' invoice read back: the figures it holds (kept on the link for the pull API) and
whether its total and tax are the bill's, to the cent."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from appliance.storage.types import utcnow
from appliance.sync.push.invoice.body import money
from appliance.sync.push.invoice.company import totals

CENT = Decimal("0.01")


def _cents(value: Any) -> Decimal:
    return money(value).quantize(CENT)


def qbo_tax(record: dict[str, Any]) -> Decimal:
    detail = record.get("TxnTaxDetail")
    return _cents(detail.get("TotalTax") if isinstance(detail, dict) else None)


def state(record: dict[str, Any]) -> str:
    """open, paid or voided, as QBO holds the invoice now (a deleted one cannot be read)."""
    if str(record.get("PrivateNote") or "").startswith("Voided"):
        return "voided"
    if _cents(record.get("TotalAmt")) != 0 and _cents(record.get("Balance")) == 0:
        return "paid"
    return "open"


def figures(record: dict[str, Any]) -> dict[str, Any]:
    """What QBO holds: ``doc_number``, ``total``, ``tax``, ``balance`` (decimal strings),
    ``state`` and ``read_at``."""
    return {
        "doc_number": record.get("DocNumber"),
        "total": str(_cents(record.get("TotalAmt"))),
        "tax": str(qbo_tax(record)),
        "balance": str(_cents(record.get("Balance"))),
        "state": state(record),
        "read_at": utcnow().isoformat(),
    }


def mismatch(record: dict[str, Any], data: dict[str, Any]) -> dict[str, Any] | None:
    """None when QBO's total and tax are the bill's to the cent, else both figures. An event
    without ``totals`` (sent before the contract carried the bill) has nothing to compare."""
    if not isinstance(data.get("totals"), dict):
        return None
    bill = totals(data)
    qbo = {"total": _cents(record.get("TotalAmt")), "tax": qbo_tax(record)}
    jobroutr = {"total": bill["total"].quantize(CENT), "tax": bill["tax"].quantize(CENT)}
    if qbo == jobroutr:
        return None
    return {
        "qbo": {k: str(v) for k, v in qbo.items()},
        "jobroutr": {k: str(v) for k, v in jobroutr.items()},
    }
