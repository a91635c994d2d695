"""The change feed: what the bookkeeper did in QuickBooks to the records JobRoutr wrote or imported,
read from QuickBooks' Change Data Capture (FACTS section 6) every ``interval`` seconds while
connected, and after every import.

A poll asks for the invoices, payments and customers changed since the feed's mark
(``ChangeFeed.read_until``), judges them (``sync.changes``), keeps the changes and the invoices'
figures in one transaction, then moves the mark to the poll's start, less ``OVERLAP`` (the two
clocks may differ; a change found twice is kept once).

CDC's limits, used properly:

* at most 1,000 objects an answer: a full answer may be missing some, and CDC has no upper bound
  to page by, so the feed asks again from half-way (``changedSince`` later, a shorter window)
  until an answer is not full: that window is complete. What changed before it, and was not
  changed again since, is found by re-reading the linked records (below);
* 30 days of look-back: a mark older than that (the appliance was off) is a gap. The feed records
  it (``gap_at``, shown in the status), re-reads every record JobRoutr holds a link to (by id, 100
  at a time; one QuickBooks no longer has was deleted) and the payments changed since the mark
  (a query, which has no 30-day limit), and starts again from now.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from appliance.core.kinds import CUSTOMER, INVOICE, PAYMENT
from appliance.logging import get_logger
from appliance.qbo.client import QboClient
from appliance.qbo.errors import QboError
from appliance.qbo.query import MAX_RESULTS, Select
from appliance.storage import changes as stored
from appliance.storage.mirror import MirrorRow
from appliance.storage.store import Store
from appliance.storage.types import utcnow
from appliance.sync.changes import ENTITIES, Found, Outcome, applied, classify
from appliance.sync.push.customer import customer_row

log = get_logger(__name__)
#: CDC's most objects in one answer, and its look-back (FACTS section 6).
CDC_CAP = 1000
LOOK_BACK = timedelta(days=30)
#: How far back the next poll starts before this one did: clocks differ, changes are kept once.
OVERLAP = timedelta(minutes=2)
#: A window is not halved below this, nor more than ``MAX_SPLITS`` times.
MIN_WINDOW = timedelta(seconds=2)
MAX_SPLITS = 12
#: Linked records re-read at once (``WHERE Id IN (...)``).
REREAD_BATCH = 100


@dataclass
class PollReport:
    """What one poll did: the changes it kept, its QuickBooks calls, whether a full answer made
    it shorten the window, whether it re-read the linked records, and why (``gap``)."""

    found: int = 0
    calls: int = 0
    split: bool = False
    reread: bool = False
    gap: bool = False


class ChangeFeed:
    """Polls one company's changes: a background task of the service, and ``poll`` on demand."""

    def __init__(
        self,
        store: Store,
        qbo: QboClient,
        *,
        interval: float,
        cap: int = CDC_CAP,
        reread_batch: int = REREAD_BATCH,
    ) -> None:
        self.store = store
        self.qbo = qbo
        self.interval = interval
        self.cap = cap
        self.reread_batch = reread_batch
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="change-feed")

    def nudge(self) -> None:
        """Poll now (an import finished: the bookkeeper may have been busy)."""
        self._wake.set()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def _realm(self) -> str | None:
        info = self.store.connection_info()
        return info.realm_id if info is not None and info.state == "connected" else None

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval or None)
            self._wake.clear()
            realm = await asyncio.to_thread(self._realm)
            if realm is None:
                continue
            try:
                await self.poll(realm)
            except Exception as exc:
                # Not QuickBooks' doing: the status says so, the log has the trace, polls go on.
                log.exception("changes.poll_crashed", realm_id=realm)
                error = f"an internal error ({type(exc).__name__}); the service log has details"
                await asyncio.to_thread(
                    stored.save_progress, self.store.engine, realm, polled_at=utcnow(), error=error
                )

    async def poll(self, realm: str) -> PollReport:
        """One poll: the changes since the mark kept, the mark moved (or the error kept)."""
        async with self._lock:
            started = utcnow()
            state = await asyncio.to_thread(stored.feed_state, self.store.engine, realm)
            since = state.read_until if state is not None else None
            if since is None:
                since = await asyncio.to_thread(self._first_mark, started)
            report = PollReport(gap=started - since > LOOK_BACK)
            try:
                outcome = await self._read(realm, since, started, report)
            except QboError as exc:
                await asyncio.to_thread(
                    stored.save_progress,
                    self.store.engine,
                    realm,
                    polled_at=started,
                    error=str(exc),
                )
                log.warning("changes.poll_failed", realm_id=realm, error=str(exc)[:200])
                return report
            mark = started - OVERLAP
            if outcome.deferred is not None:  # a record being written now: read it again
                mark = min(mark, outcome.deferred - timedelta(seconds=1))
            await asyncio.to_thread(
                stored.save_progress,
                self.store.engine,
                realm,
                polled_at=started,
                read_until=mark if report.gap else max(mark, since),
                gap_at=started if report.gap else None,
            )
            log.info("changes.polled", realm_id=realm, since=since.isoformat(), **vars(report))
            return report

    def _first_mark(self, now: datetime) -> datetime:
        """Where a company's first poll starts: when it was connected (nothing JobRoutr wrote is
        older), within CDC's look-back."""
        info = self.store.connection_info()
        connected = info.connected_at if info is not None else None
        oldest = now - LOOK_BACK + OVERLAP
        return max(connected - OVERLAP, oldest) if connected is not None else now - OVERLAP

    async def _read(
        self, realm: str, since: datetime, now: datetime, report: PollReport
    ) -> Outcome:
        if report.gap:
            complete_from = now
            answer: dict[str, list[dict[str, Any]]] = {entity: [] for entity in ENTITIES}
        else:
            answer, complete_from = await self._window(realm, since, now, report)
        if complete_from > since:  # what changed before the complete window: re-read
            report.reread = True
            reread = await self._reread(realm, since, report)
            for entity, records in reread.items():
                answer[entity] = [*answer.get(entity, []), *records]  # CDC's first: its times
        outcome = await self._judge(realm, answer, now, report)
        report.found = await self._keep(realm, outcome)
        return outcome

    async def _window(
        self, realm: str, since: datetime, now: datetime, report: PollReport
    ) -> tuple[dict[str, list[dict[str, Any]]], datetime]:
        """The newest answer that is not full, and where its window starts (``now`` when even
        the shortest window was full: nothing read is known to be complete)."""
        start = since
        for _ in range(MAX_SPLITS + 1):
            answer = await self.qbo.cdc(realm, ENTITIES, start)
            report.calls += 1
            if sum(len(rows) for rows in answer.values()) < self.cap:
                return answer, start
            report.split = True
            if now - start <= MIN_WINDOW:
                break
            start = start + (now - start) / 2
        log.warning("changes.window_full", realm_id=realm, since=start.isoformat(), cap=self.cap)
        return answer, now

    async def _reread(
        self, realm: str, since: datetime, report: PollReport
    ) -> dict[str, list[dict[str, Any]]]:
        """Every linked invoice, payment and customer as QuickBooks holds it now (one it no longer
        has as deleted), and the payments changed since ``since``."""
        found: dict[str, list[dict[str, Any]]] = {}
        for kind in (INVOICE, PAYMENT, CUSTOMER):
            ids = await asyncio.to_thread(stored.linked_ids, self.store.engine, realm, kind.name)
            found[kind.entity] = await self._by_id(realm, kind.entity, ids, report)
        changed = Select(PAYMENT.entity).filter(
            "MetaData.LastUpdatedTime", ">=", since.isoformat(timespec="seconds")
        )
        found[PAYMENT.entity] += await self._all(realm, changed, report)
        return found

    async def _by_id(
        self, realm: str, entity: str, ids: list[str], report: PollReport
    ) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        for start in range(0, len(ids), self.reread_batch):
            batch = ids[start : start + self.reread_batch]
            select = Select(entity).filter("Id", "IN", batch)
            if entity == CUSTOMER.entity:  # inactive ones too (a query leaves them out)
                select = select.filter("Active", "IN", [True, False])
            rows = await self._all(realm, select, report)
            records += rows
            present = {str(row.get("Id")) for row in rows}
            records += [{"Id": i, "status": "Deleted"} for i in batch if i not in present]
        return records

    async def _all(self, realm: str, select: Select, report: PollReport) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        start = 1
        while True:
            body = await self.qbo.query(realm, select.page(start, MAX_RESULTS))
            report.calls += 1
            rows = body.get(select.entity, [])
            rows = [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
            records += rows
            if len(rows) < MAX_RESULTS:
                return records
            start += MAX_RESULTS

    async def _judge(
        self,
        realm: str,
        answer: dict[str, list[dict[str, Any]]],
        now: datetime,
        report: PollReport,
    ) -> Outcome:
        """The answer judged; the invoices its payments touched and it did not hold, read."""
        payments = answer.get(PAYMENT.entity, [])
        invoices = [str(r.get("Id")) for r in answer.get(INVOICE.entity, [])]
        invoices += [invoice_id for record in payments for invoice_id, _ in applied(record)]
        known = await asyncio.to_thread(
            stored.held,
            self.store.engine,
            realm,
            invoices=invoices,
            payments=[str(r.get("Id")) for r in payments],
            customers=[str(r.get("Id")) for r in answer.get(CUSTOMER.entity, [])],
        )
        outcome = classify(answer, known, now)
        if outcome.reread:
            select = Select(INVOICE.entity).filter("Id", "IN", sorted(outcome.reread))
            touched = await self._all(realm, select, report)
            more = classify({INVOICE.entity: touched}, known, now)
            outcome.changes += more.changes
            outcome.figures.update(more.figures)
        return outcome

    async def _keep(self, realm: str, outcome: Outcome) -> int:
        """The changes (once each: a record may be in CDC's answer and in a re-read), the figures
        and the customers, kept."""
        rows = {}
        for record in outcome.customers:
            row = customer_row(record)
            if isinstance(row, MirrorRow):
                rows[row.qbo_id] = row
        unique: dict[tuple[Any, ...], Found] = {}
        for c in outcome.changes:
            key = (c.kind, c.qbo_id, c.jobroutr_id, c.change, c.detail.get("payment_qbo_id"))
            unique.setdefault(key, c)
        found = [
            stored.NewChange(c.kind, c.jobroutr_id, c.qbo_id, c.change, c.at, c.detail)
            for c in sorted(unique.values(), key=lambda c: c.at)
        ]
        return await asyncio.to_thread(
            stored.record,
            self.store.engine,
            realm,
            found,
            figures=outcome.figures,
            customers=list(rows.values()),
        )
