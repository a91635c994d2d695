"""What QuickBooks holds of an invoice: its number, total, tax, balance and state, as the pull API's
``GET /api/v1/links/invoice/{id}`` tells JobRoutr (../shared/jobroutr/CONTRACT.md section 2).

``invoice_figures`` reads them off a QBO ``Invoice`` (the shape kept on ``Link.figures``).
``LiveFigures`` reads the invoice once, live, for the pull API, and keeps what it read on the link;
the caller waits only ``timeout`` seconds and otherwise answers with the figures stored. The read
itself is never cancelled (a token refresh may be under way inside it: cutting it off could lose
the new refresh token): a late answer is still stored, for the next pull, and one read per
invoice is in flight at a time, however often JobRoutr asks.
"""

from __future__ import annotations

import asyncio
import functools
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from appliance.core.kinds import INVOICE
from appliance.logging import get_logger
from appliance.qbo.client import QboClient
from appliance.qbo.errors import QboError
from appliance.storage import pull
from appliance.storage.store import Store
from appliance.storage.types import utcnow

log = get_logger(__name__)
CENT = Decimal("0.01")
#: How long the pull API waits for QuickBooks before it answers with the stored figures.
LIVE_READ_SECONDS = 3.0
#: QuickBooks' answer to a read of a transaction that is gone.
NOT_FOUND = "610"


def money(value: Any) -> str | None:
    """A QBO amount as a decimal string with cents ("217.50"), or None."""
    if value is None:
        return None
    try:
        return str(Decimal(str(value)).quantize(CENT))
    except InvalidOperation:
        return None


def invoice_state(record: dict[str, Any]) -> str:
    """``deleted``, ``voided`` (QBO zeroes it and puts "Voided" before its note), ``paid`` (no
    balance left on a total above zero) or ``open``."""
    if str(record.get("status", "")).lower() == "deleted":
        return "deleted"
    if str(record.get("PrivateNote") or "").startswith("Voided"):
        return "voided"
    total = Decimal(money(record.get("TotalAmt")) or "0")
    balance = Decimal(money(record.get("Balance")) or "0")
    return "paid" if total > 0 and balance == 0 else "open"


def invoice_figures(record: dict[str, Any], read_at: datetime) -> dict[str, Any]:
    """A QBO invoice's figures as ``Link.figures`` keeps them: decimal strings, ISO time."""
    detail = record.get("TxnTaxDetail")
    tax = detail.get("TotalTax") if isinstance(detail, dict) else None
    return {
        "doc_number": record.get("DocNumber"),
        "total": money(record.get("TotalAmt")),
        "tax": money(tax if tax is not None else 0),
        "balance": money(record.get("Balance")),
        "state": invoice_state(record),
        "read_at": read_at.isoformat(),
        # Which version of the invoice these are (QBO bumps it on every change): an answer
        # older than what the store holds is known as such (``changes.invoice``).
        "sync_token": str(record.get("SyncToken", "")) or None,
    }


class LiveFigures:
    """Reads invoices' figures from QuickBooks for the pull API, one read per invoice at a time."""

    def __init__(self, store: Store, qbo: QboClient, timeout: float = LIVE_READ_SECONDS) -> None:
        self.store = store
        self.qbo = qbo
        self.timeout = timeout
        self._reads: dict[tuple[str, str], asyncio.Task[dict[str, Any] | None]] = {}

    async def invoice(self, realm_id: str, jobroutr_id: str, qbo_id: str) -> dict[str, Any] | None:
        """QuickBooks' figures of the invoice now (also kept on its link), or None when QuickBooks
        did not answer within ``timeout`` or could not be asked."""
        key = (realm_id, qbo_id)
        task = self._reads.get(key)
        if task is None:
            task = asyncio.ensure_future(self._read(realm_id, jobroutr_id, qbo_id))
            self._reads[key] = task
            task.add_done_callback(lambda _: self._reads.pop(key, None))
        done, _ = await asyncio.wait({task}, timeout=self.timeout)
        if not done:
            log.info("pull.invoice_read_late", qbo_id=qbo_id, timeout=self.timeout)
            return None
        return task.result()

    async def _read(self, realm_id: str, jobroutr_id: str, qbo_id: str) -> dict[str, Any] | None:
        now = utcnow()
        try:
            record = await self.qbo.read(realm_id, INVOICE.entity, qbo_id)
            figures = invoice_figures(record, now)
        except QboError as exc:
            if exc.qbo_code != NOT_FOUND:
                log.info("pull.invoice_read_failed", qbo_id=qbo_id, error=str(exc)[:200])
                return None
            figures = {"state": "deleted", "balance": None, "read_at": now.isoformat()}
        except Exception:
            log.exception("pull.invoice_read_crashed", qbo_id=qbo_id)
            return None
        return await asyncio.to_thread(
            functools.partial(pull.save_figures, qbo_id=qbo_id, figures=figures),
            self.store,
            realm_id,
            INVOICE.name,
            jobroutr_id,
        )

    async def aclose(self) -> None:
        """Stop the reads still in flight (the service is stopping)."""
        reads = list(self._reads.values())
        for task in reads:
            task.cancel()
        await asyncio.gather(*reads, return_exceptions=True)
