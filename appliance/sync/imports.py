"""Importing customers, products, accounts and tax codes from QuickBooks into the store.

A run: ``COUNT(*)`` for a true total, then every page of 1000 fetched concurrently (the QBO
client's limiter keeps the company within Intuit's limits), each page mapped and upserted as it
arrives, so memory holds a few pages whatever the company's size. Progress and a heartbeat are
written after every page; the operator can cancel between pages. A complete run marks the rows it
did not see as inactive: they were made inactive (or deleted) in QBO. A run whose service died is
picked up again when the service starts, from its first page: upserts are idempotent.

Items without a name or a price are not imported; each is recorded with its reason. A kind whose
records name records of another entity (a tax code its rates) reads those in full first
(``Lookup``) and maps its own with them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from appliance.core.admin import ImportReport, ImportSkipInfo
from appliance.core.kinds import ACCOUNT, CUSTOMER, IMPORTED, PRODUCT, TAX_CODE, RecordKind
from appliance.errors import ApplianceError, NotFoundError
from appliance.logging import get_logger
from appliance.qbo.client import QboClient
from appliance.qbo.errors import QboError
from appliance.qbo.query import Select
from appliance.storage import imports as runs
from appliance.storage.mirror import MirrorRow, deactivate_unseen, upsert
from appliance.storage.models import ImportRun
from appliance.storage.store import Store
from appliance.storage.taxes import resuggest
from appliance.sync import tax_codes
from appliance.sync.books import BooksReader
from appliance.sync.fields import Mapped, Skip, clean, text
from appliance.sync.push.customer import customer_row
from appliance.sync.push.product import FROM_QBO_TYPES, item_row

log = get_logger(__name__)
#: What the operator may import (``appliance import KIND``), in the order the setup asks.
KINDS = tuple(kind.plural for kind in IMPORTED)
PAGE_SIZE = 1000
CONCURRENCY = 8  # pages in flight; the limiter caps QBO calls at 10 at once for everything


class ImportFailedError(ApplianceError):
    pass


class NoImportYetError(ImportFailedError, NotFoundError):
    pass


def account_row(record: dict[str, Any]) -> Mapped:
    """A chart-of-accounts entry as the mirror keeps it (accounts are imported, never pushed)."""
    qbo_id = str(record.get("Id", ""))
    name = text(record.get("Name"))
    account_type = text(record.get("AccountType"))
    if name is None or account_type is None:
        return Skip(qbo_id, name, "has no name or account type")
    fqn = text(record.get("FullyQualifiedName")) or name
    data = clean(
        {
            "qbo_id": qbo_id,
            "name": name,
            "fully_qualified_name": fqn,
            "classification": text(record.get("Classification")),
            "account_type": account_type,
            "account_sub_type": text(record.get("AccountSubType")),
            "active": record.get("Active", True) is not False,
        }
    )
    columns = {
        "name": name[:100],
        "fully_qualified_name": fqn[:500],
        "classification": data.get("classification"),
        "account_type": account_type,
        "account_sub_type": data.get("account_sub_type"),
        "active": data["active"],
    }
    return MirrorRow(qbo_id, columns, data)


Mapper = Callable[[dict[str, Any]], Mapped]


@dataclass(frozen=True)
class Lookup:
    """Records of another entity a kind's mapping needs (a tax code's rates): every one is read
    before the kind's pages, and ``mapper`` makes the kind's mapper from them, by ``Id``."""

    select: Select
    mapper: Callable[[dict[str, dict[str, Any]]], Mapper]


@dataclass(frozen=True)
class Spec:
    """An import: the record kind, what to ask QuickBooks, and how a record becomes our row."""

    kind: RecordKind
    select: Select
    mapper: Mapper | Lookup
    #: What the import leaves out on purpose, each counted in QuickBooks (``core.left_out``).
    left_out: tuple[tuple[str, Select], ...] = ()

    @property
    def entity(self) -> str:
        return self.kind.entity


def _inactive(select: Select) -> tuple[str, Select]:
    # QuickBooks lists active records unless asked: the import takes those; these it leaves.
    return ("inactive", select.filter("Active", "=", False))


_PRODUCTS = Select(PRODUCT.entity).filter("Type", "IN", list(FROM_QBO_TYPES))
SPECS = {
    spec.kind.plural: spec
    for spec in (
        Spec(
            CUSTOMER, Select(CUSTOMER.entity), customer_row, (_inactive(Select(CUSTOMER.entity)),)
        ),
        Spec(
            PRODUCT,
            _PRODUCTS,
            item_row,
            (
                _inactive(_PRODUCTS),
                ("categories", Select(PRODUCT.entity).filter("Type", "=", "Category")),
            ),
        ),
        Spec(ACCOUNT, Select(ACCOUNT.entity), account_row, (_inactive(Select(ACCOUNT.entity)),)),
        # Tax codes come in whole, inactive ones too: nothing is left out.
        Spec(TAX_CODE, tax_codes.TAX_CODES, Lookup(tax_codes.TAX_RATES, tax_codes.with_rates)),
    )
}


class Importer:
    """Starts runs as background tasks of the service and resumes the ones a crash left behind."""

    def __init__(
        self,
        store: Store,
        qbo: QboClient,
        *,
        page_size: int = PAGE_SIZE,
        concurrency: int = CONCURRENCY,
        books: BooksReader | None = None,
        finished: Callable[[], None] | None = None,
        owner: str | None = None,
        lease_seconds: float = 60.0,
    ) -> None:
        self.store = store
        # Which instance runs its imports (several on one database: storage/imports.py); None:
        # the only one, every running run at start is its own, orphaned.
        self.owner = owner
        self.lease_seconds = lease_seconds
        self._watch: asyncio.Task[None] | None = None
        self.finished = finished  # told when a run is done (the change feed polls then)
        self.qbo = qbo
        self.books = books
        self.page_size = page_size
        self.concurrency = concurrency
        self.tasks: dict[int, asyncio.Task[None]] = {}

    def latest(self, kind: str) -> ImportRun:
        """The latest run of the company's, whatever the connection's state: the results of a
        run stay readable after QuickBooks ends the connection, or the operator disconnects."""
        info = self.store.connection_info()
        run = runs.latest_run(self.store.engine, info.realm_id, kind) if info else None
        if run is None:
            # Importing needs a connection: without one, the hint's command alone would fail.
            connected = info is not None and info.state == "connected"
            raise NoImportYetError(
                f"No import of {kind} has run yet.",
                hint=f"Run `appliance import {kind}`."
                if connected
                else f"Run `appliance connect` first, then `appliance import {kind}`.",
            )
        return run

    def realm(self) -> str:
        info = self.store.connection_info()
        if info is None or info.state != "connected":
            raise ImportFailedError(
                "The appliance is not connected to QuickBooks, so there is nothing to import.",
                hint="Run `appliance connect` first.",
            )
        return info.realm_id

    def start(self, kind: str) -> ImportRun:
        if kind not in SPECS:
            raise ImportFailedError(
                f"There is no import of {kind!r}.", hint=f"Choose one of {', '.join(KINDS)}."
            )
        realm = self.realm()
        try:
            run = runs.start_run(self.store.engine, realm, kind, self.owner)
        except runs.ImportBusyError as busy:
            raise ImportFailedError(
                f"An import of {kind} is already running (run {busy.run_id}, "
                f"{busy.done} of {busy.total or '?'} done).",
                hint=f"Wait for it (`appliance import {kind} --wait`) or cancel it "
                f"(`appliance import {kind} --cancel`).",
            ) from None
        self._launch(run)
        return run

    def _launch(self, run: ImportRun) -> None:
        assert run.id is not None
        task = asyncio.get_running_loop().create_task(self.execute(run.id, run.realm_id, run.kind))
        self.tasks[run.id] = task
        task.add_done_callback(lambda _: self.tasks.pop(run.id or 0, None))

    def resume_orphans(self) -> int:
        """Runs whose worker is gone, run again here: at start, every running run (one
        instance), or, named, this instance's own and those whose lease ran out."""
        taken = self._claim_orphans(set(self.tasks))
        for run in taken:
            self._launch(run)
        return len(taken)

    def _claim_orphans(self, running_here: set[int]) -> list[ImportRun]:
        """The orphaned runs, made this instance's (blocking: the store)."""
        engine = self.store.engine
        taken = []
        for run in runs.orphaned_runs(engine, self.owner, self.lease_seconds):
            assert run.id is not None
            if run.id in running_here:
                continue
            if self.owner is None:
                runs.restart(engine, run.id)
            elif not runs.take_over(engine, run.id, self.owner, self.lease_seconds):
                continue  # another instance took it first
            log.info("import.resumed", run_id=run.id, kind=run.kind, realm_id=run.realm_id)
            taken.append(run)
        return taken

    def watch(self) -> None:
        """Several instances: keep this one's runs' leases, and take over runs whose instance
        is gone, as long as the service runs."""
        if self.owner is not None and self._watch is None:
            self._watch = asyncio.get_running_loop().create_task(self._watching(), name="imports")

    async def _watching(self) -> None:
        assert self.owner is not None
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                await asyncio.to_thread(runs.beat, self.store.engine, self.owner, list(self.tasks))
                for run in await asyncio.to_thread(self._claim_orphans, set(self.tasks)):
                    self._launch(run)
            except Exception as exc:  # the store is away: the next round tries again
                log.warning("import.watch_failed", error=type(exc).__name__)

    def cancel(self, kind: str) -> ImportRun:
        run = runs.request_cancel(self.store.engine, self.realm(), kind)
        if run is None:
            raise ImportFailedError(f"No import of {kind} is running.", hint="Nothing to cancel.")
        return run

    async def aclose(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        for task in list(self.tasks.values()):
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)

    async def execute(self, run_id: int, realm: str, kind: str) -> None:
        spec = SPECS[kind]
        engine = self.store.engine
        started = time.monotonic()
        state: dict[str, Any] = {
            "done": 0, "skipped": 0, "calls": 0, "changed": 0, "cancelled": False,
        }  # fmt: skip
        try:
            if kind == ACCOUNT.plural and self.books is not None:
                # The company's settings may have changed too: read them with its accounts.
                await self.books.read(realm, "accounts import")
            await self._fetch(spec, realm, run_id, state)
        except QboError as exc:
            hint = f" {exc.hint}" if exc.hint else ""
            await asyncio.to_thread(
                runs.finish, engine, run_id, "failed", f"{exc}.{hint}", owner=self.owner
            )
            log.warning("import.failed", run_id=run_id, kind=kind, error=str(exc))
            return
        except asyncio.CancelledError:
            raise  # the service is stopping: the run stays "running" and resumes at next start
        except Exception as exc:
            # Not QuickBooks' doing: say so, keep the run's trace in the log, never hang "running".
            log.exception("import.crashed", run_id=run_id, kind=kind)
            await asyncio.to_thread(
                runs.finish,
                engine,
                run_id,
                "failed",
                f"The import stopped on an internal error ({type(exc).__name__}); run it again. "
                "If it happens again, the service log has the details.",
                owner=self.owner,
            )
            return
        if state["cancelled"]:
            await asyncio.to_thread(runs.finish, engine, run_id, "cancelled", owner=self.owner)
            log.info("import.cancelled", run_id=run_id, kind=kind)
            return
        await self._finish(run_id, realm, kind, state, started)

    async def _fetch(self, spec: Spec, realm: str, run_id: int, state: dict[str, Any]) -> None:
        """The count, then every page concurrently, then on while the last page came back full."""
        mapper = spec.mapper
        if isinstance(mapper, Lookup):
            mapper = mapper.mapper(await self._lookup(realm, mapper.select, state))
        count = await self.qbo.query(realm, spec.select.count())
        state["calls"] += 1
        total = int(count.get("totalCount", 0))
        left_out = {name: await self._count(realm, select, state) for name, select in spec.left_out}
        await asyncio.to_thread(
            runs.progress,
            self.store.engine,
            run_id,
            total=total,
            qbo_calls=state["calls"],
            left_out=left_out or None,
            owner=self.owner,
        )
        statements = list(spec.select.pages(total, self.page_size)) or [
            spec.select.page(1, self.page_size)
        ]
        gate = asyncio.Semaphore(self.concurrency)
        await asyncio.gather(
            *(
                self._page(gate, spec, mapper, realm=realm, run_id=run_id, statement=s, state=state)
                for s in statements
            )
        )
        # Rows added after the count: keep reading while the last page came back full.
        start = len(statements) * self.page_size + 1
        while not state["cancelled"] and state["done"] + state["skipped"] >= start - 1:
            await self._page(
                gate,
                spec,
                mapper,
                realm=realm,
                run_id=run_id,
                statement=spec.select.page(start, self.page_size),
                state=state,
            )
            start += self.page_size

    async def _count(self, realm: str, select: Select, state: dict[str, Any]) -> int:
        body = await self.qbo.query(realm, select.count())
        state["calls"] += 1
        return int(body.get("totalCount", 0))

    async def _lookup(
        self, realm: str, select: Select, state: dict[str, Any]
    ) -> dict[str, dict[str, Any]]:
        """Every record the query finds, by ``Id``: page after page until one is not full."""
        found: dict[str, dict[str, Any]] = {}
        start = 1
        while True:
            body = await self.qbo.query(realm, select.page(start, self.page_size))
            state["calls"] += 1
            records = body.get(select.entity, [])
            records = records if isinstance(records, list) else []
            found.update((str(r.get("Id", "")), r) for r in records if isinstance(r, dict))
            if len(records) < self.page_size:
                return found
            start += self.page_size

    async def _finish(
        self, run_id: int, realm: str, kind: str, state: dict[str, Any], started: float
    ) -> None:
        """A complete run: its last progress, the rows it did not see made inactive, done."""
        engine = self.store.engine
        # Progress writes from concurrent pages may land out of order: the last word is this one.
        lost = await asyncio.to_thread(
            runs.progress,
            engine,
            run_id,
            done=state["done"],
            skipped=state["skipped"],
            qbo_calls=state["calls"],
            owner=self.owner,
        )
        if lost and not runs.owns(engine, run_id, self.owner):
            log.warning("import.taken_over", run_id=run_id, kind=kind)
            return  # another instance runs it now: its end is that one's
        deactivated = await asyncio.to_thread(deactivate_unseen, engine, realm, kind, run_id)
        if kind == TAX_CODE.plural:  # a code may be new, or inactive now: suggest anew
            await asyncio.to_thread(resuggest, engine, realm)
        await asyncio.to_thread(runs.finish, engine, run_id, "done", owner=self.owner)
        if self.finished is not None:
            self.finished()
        log.info(
            "import.finished",
            run_id=run_id,
            kind=kind,
            realm_id=realm,
            imported=state["done"],
            skipped=state["skipped"],
            changed=state["changed"],
            deactivated=deactivated,
            qbo_calls=state["calls"],
            seconds=round(time.monotonic() - started, 2),
        )

    async def _page(
        self,
        gate: asyncio.Semaphore,
        spec: Spec,
        mapper: Mapper,
        *,
        realm: str,
        run_id: int,
        statement: str,
        state: dict[str, Any],
    ) -> None:
        async with gate:
            if state["cancelled"]:
                return
            body = await self.qbo.query(realm, statement)
            state["calls"] += 1
            records = body.get(spec.entity, [])
            records = records if isinstance(records, list) else []
            rows: list[MirrorRow] = []
            skips: list[tuple[str, str | None, str]] = []
            for record in records:
                mapped = mapper(record)
                if isinstance(mapped, Skip):
                    skips.append((mapped.qbo_id, mapped.name, mapped.reason))
                else:
                    rows.append(mapped)
            engine = self.store.engine
            if rows:
                changed = await asyncio.to_thread(
                    upsert, engine, realm, spec.kind.plural, rows, run_id
                )
                state["changed"] += changed  # after the await: pages run concurrently
            await asyncio.to_thread(runs.record_skips, engine, run_id, skips)
            state["done"] += len(rows)
            state["skipped"] += len(skips)
            state["cancelled"] = await asyncio.to_thread(
                runs.progress,
                engine,
                run_id,
                done=state["done"],
                skipped=state["skipped"],
                qbo_calls=state["calls"],
                owner=self.owner,
            )


def report(store: Store, run: ImportRun, *, with_skips: bool = False) -> ImportReport:
    """What the operator sees of a run: progress with rate and ETA, or its summary."""
    assert run.id is not None
    end = run.finished_at or datetime.now(UTC)
    seconds = max((end - run.started_at).total_seconds(), 1e-6)
    seen = run.done + run.skipped
    rate = seen / seconds if seen else None
    eta = None
    if run.state == "running" and rate and run.total is not None:
        eta = max(0.0, (run.total - seen) / rate)
    skips = (
        [
            ImportSkipInfo(qbo_id=s.qbo_id, name=s.name, reason=s.reason)
            for s in runs.skips_of(store.engine, run.id)
        ]
        if with_skips
        else []
    )
    return ImportReport(
        run_id=run.id,
        kind=run.kind,
        realm_id=run.realm_id,
        state=run.state,
        total=run.total,
        done=run.done,
        skipped=run.skipped,
        qbo_calls=run.qbo_calls,
        started_at=run.started_at,
        finished_at=run.finished_at,
        rate_per_second=round(rate, 1) if rate else None,
        eta_seconds=round(eta, 1) if eta is not None else None,
        error=run.error,
        skips=skips,
        left_out=run.left_out,
    )
