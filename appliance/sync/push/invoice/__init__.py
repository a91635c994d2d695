"""Invoices: JobRoutr's bill as a QBO invoice written the company's way, and QBO's totals read
back (``push``); the body (``body``), the company's tax, discount and currency (``company``), the
read-back (``readback``)."""

from __future__ import annotations

from appliance.sync.push.invoice.body import invoice_body, invoice_marker, line_amount
from appliance.sync.push.invoice.push import PUSH

__all__ = ["PUSH", "invoice_body", "invoice_marker", "line_amount"]
