"""Pushing JobRoutr's events to QuickBooks: the workers on the store's job queue.

Each worker claims a job (one at a time per JobRoutr record, in the order received), keeps its
lease alive with heartbeats while it works, and records the outcome with its fence, so a worker
that lost its lease changes nothing. What makes a write happen once in QuickBooks:

* every write carries a ``requestid`` derived from the event (and the operator-retry generation),
  stored on the job before it is sent and the same on every retry: QuickBooks answers a repeat
  with the first answer instead of writing again;
* records with a natural key are looked up before they are created (customer DisplayName, item
  Name: a same-named record, inactive ones included, is linked, not duplicated), and an invoice
  whose write may have happened is read back by its DocNumber before it is sent again. With a
  backlog, one lookup asks for the next queued records' names too (``LOOKAHEAD``): those
  QuickBooks has no record of go straight to their create, so a backlog costs about one call a
  record, not two; a name created meanwhile makes that create fail with 6240, which links it;
* the link (JobRoutr id -> QBO id) remembers the JobRoutr version it carries: an older event for a
  record changes nothing.

Outcomes: ``done``; ``waiting`` (for a customer/product link, default accounts, or a working
connection) re-checked until it can go on; ``queued`` again after a transient failure, with
back-off, until ``push_give_up_after_seconds``; ``failed`` with QBO's code, a sentence and a hint,
until the operator retries or skips it. A failing event never blocks the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from appliance.config import Settings
from appliance.core.activity import PUSH_DONE, PUSH_FAILED, PUSH_RETRIED, Activity
from appliance.logging import get_logger
from appliance.qbo.client import QboClient
from appliance.qbo.errors import (
    AuthenticationError,
    AuthorizationError,
    CompanyStatusError,
    OAuthError,
    QboError,
    TransientError,
    ValidationError,
)
from appliance.qbo.query import Select
from appliance.storage import push as jobs
from appliance.storage import queue
from appliance.storage.health import Trouble, trouble
from appliance.storage.mirror import MODELS, MirrorRow
from appliance.storage.store import Store
from appliance.storage.types import utcnow
from appliance.sync.imports import customer_row, item_row

log = get_logger(__name__)
CENT = Decimal("0.01")
DELETED = " (deleted)"
ITEM_TYPES = {"service": "Service", "non_inventory": "NonInventory"}
CONNECTION_WAIT = timedelta(seconds=60)
#: Events received before any company was connected wait for `appliance connect`, which wakes
#: them at once (and so does every start of the service); the recheck is only a safety net.
#: Rechecking every minute rewrote every parked job each minute: with thousands waiting, a
#: write-lock stall every few seconds for intake's commits (its p99 at 200/s: 80 ms, not 30).
NEVER_CONNECTED_WAIT = timedelta(minutes=15)
#: Names one lookup asks QuickBooks about: this job's and the next queued creates' of its kind
#: (twice each, with and without " (deleted)": a few kilobytes of query string at most).
LOOKAHEAD = 20
#: How long QuickBooks' "no record of that name" is taken as still true for a queued create.
ABSENT_FOR = 60.0
NOT_CONNECTED = "a QuickBooks connection: run `appliance connect`"
SETTINGS_WAIT = timedelta(seconds=60)
#: A job that met a full disk or a damaged store tries again after this (not failed: the event
#: is fine, the store is not).
STORE_RETRY = timedelta(seconds=60)
DEPENDENCY_RECHECK = timedelta(seconds=30)

#: Hints for QuickBooks' codes, in words an office manager can act on.
HINTS = {
    "6240": "Rename the customer in JobRoutr (or the vendor/employee in QuickBooks), then retry "
    "the event with `appliance events retry ID`.",
    "6140": "Give the invoice another number in JobRoutr, or rename the invoice that holds the "
    "number in QuickBooks, then retry the event.",
    "610": "The record it refers to was deleted or made inactive in QuickBooks: make it active "
    "again in QuickBooks, then retry the event.",
    "2500": "The account or record it names does not exist in QuickBooks: check the product's "
    "accounts and the default accounts (`appliance settings`), then retry the event.",
    "6000": "QuickBooks refused the values: correct the record in JobRoutr (it will send it "
    "again) or retry the event once QuickBooks accepts it.",
    "6070": "A line's amount does not match quantity x price: report this to support.",
}


class Wait(Exception):
    """The job cannot go on yet: it waits for what ``reason`` says. It is woken when one of
    ``waits_on`` changes (``customer:<id>``, ``settings:accounts``, ...), and looks again at
    ``recheck`` in any case. With ``give_up_after``, it fails once it has waited that long while
    the service ran (see :meth:`Pusher._waited`)."""

    def __init__(
        self,
        reason: str,
        recheck: timedelta,
        *,
        waits_on: list[str],
        give_up_after: timedelta | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.recheck = recheck
        self.waits_on = waits_on
        self.give_up_after = give_up_after


class Refused(Exception):
    """A permanent failure found by the worker itself (not a QBO error)."""

    def __init__(self, code: str, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.failure = jobs.Failure(code, message, hint)


class LeaseLost(Exception):
    """Another worker holds the job now: stop without writing anything more."""


@dataclass(frozen=True)
class Outcome:
    qbo_id: str
    link: jobs.LinkWrite | None = None
    note: str = ""
    mirror: tuple[str, MirrorRow] | None = None  # the record as QBO answered, for the mirror


def mirrored(kind: str, row: object) -> tuple[str, MirrorRow] | None:
    return (kind, row) if isinstance(row, MirrorRow) else None


@dataclass(frozen=True)
class PushConfig:
    workers: int = 4
    lease: timedelta = timedelta(seconds=60)
    retry_base: timedelta = timedelta(seconds=30)
    give_up_after: timedelta = timedelta(days=1)
    dependency_wait: timedelta = timedelta(days=1)
    name_clash: str = "suffix"
    name_clash_suffix: str = " (customer)"
    idle_poll: float = 1.0
    requestid: bool = True  # False only in the fault suite (Settings.push_requestid)

    @classmethod
    def from_settings(cls, settings: Settings) -> PushConfig:
        return cls(
            workers=settings.push_workers,
            lease=timedelta(seconds=settings.push_lease_seconds),
            retry_base=timedelta(seconds=settings.push_retry_seconds),
            give_up_after=timedelta(seconds=settings.push_give_up_after_seconds),
            dependency_wait=timedelta(seconds=settings.push_dependency_wait_seconds),
            name_clash=settings.push_name_clash,
            name_clash_suffix=settings.push_name_clash_suffix,
            requestid=settings.push_requestid,
        )


# Mapping JobRoutr records to QBO bodies -----------------------------------------------------------


def _store_trouble(kind: Trouble) -> str:
    if kind == "damaged":
        return "The store is damaged: tried again once it is restored."
    return "The store's disk is full or failing: tried again once it takes writes."


def _text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None


def display_name(data: dict[str, Any]) -> str:
    """As the contract says: display_name, else company_name, else "given family"."""
    given = " ".join(p for p in (_text(data, "given_name"), _text(data, "family_name")) if p)
    return _text(data, "display_name") or _text(data, "company_name") or given


def _address(value: Any) -> dict[str, str]:
    value = value if isinstance(value, dict) else {}
    fields = {
        "Line1": "line1",
        "Line2": "line2",
        "City": "city",
        "CountrySubDivisionCode": "region",
        "PostalCode": "postal_code",
        "Country": "country",
    }
    return {qbo: text for qbo, ours in fields.items() if (text := _text(value, ours))}


#: The QBO fields each JobRoutr record owns that may be absent from it. Each event carries the
#: whole record, so one absent from an update is cleared in QBO (see ``Pusher._clear``).
CUSTOMER_OPTIONAL = (
    "GivenName",
    "FamilyName",
    "CompanyName",
    "Notes",
    "PrimaryEmailAddr",
    "PrimaryPhone",
    "Mobile",
    "BillAddr",
    "ShipAddr",
)
ITEM_OPTIONAL = ("Description", "Sku")
#: What QBO fills in itself; never sent back on a full update.
READ_ONLY = ("MetaData", "domain", "sparse", "time")


def customer_body(data: dict[str, Any], name: str) -> dict[str, Any]:
    """The QBO fields JobRoutr owns that the record has."""
    body: dict[str, Any] = {
        "DisplayName": name,
        "GivenName": _text(data, "given_name"),
        "FamilyName": _text(data, "family_name"),
        "CompanyName": _text(data, "company_name"),
        "Notes": _text(data, "notes"),
        "PrimaryEmailAddr": {"Address": _text(data, "email")} if _text(data, "email") else None,
        "PrimaryPhone": {"FreeFormNumber": _text(data, "phone")} if _text(data, "phone") else None,
        "Mobile": {"FreeFormNumber": _text(data, "mobile")} if _text(data, "mobile") else None,
        "BillAddr": _address(data["billing_address"]) if data.get("billing_address") else None,
        "ShipAddr": _address(data["service_address"]) if data.get("service_address") else None,
        "Active": data.get("active", True) is not False,
    }
    if isinstance(data.get("taxable"), bool):
        body["Taxable"] = data["taxable"]
    return {k: v for k, v in body.items() if v is not None}


def item_body(data: dict[str, Any], income: str | None, expense: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Name": _text(data, "name") or "",
        "Type": ITEM_TYPES.get(str(data.get("type", "service")), "Service"),
        "UnitPrice": Decimal(str(data["price"])),
        "Active": data.get("active", True) is not False,
        "Description": _text(data, "description"),
        "Sku": _text(data, "sku"),
    }
    if isinstance(data.get("taxable"), bool):
        body["Taxable"] = data["taxable"]
    if income:
        body["IncomeAccountRef"] = {"value": income}
    if expense:
        body["ExpenseAccountRef"] = {"value": expense}
    return {k: v for k, v in body.items() if v is not None}


def _present(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_present(v) for k, v in value.items() if k != "Id")
    return value not in (None, "")


def line_amount(quantity: Decimal, unit_price: Decimal) -> Decimal:
    """Quantity x unit price in Decimal, rounded half-up to cents (as invoices are)."""
    return (quantity * unit_price).quantize(CENT, rounding=ROUND_HALF_UP)


def invoice_marker(jobroutr_id: str) -> str:
    return f"Created by JobRoutr (invoice {jobroutr_id})"


def invoice_body(
    data: dict[str, Any], customer_qbo_id: str, item_qbo_ids: dict[str, str]
) -> dict[str, Any]:
    lines = []
    for line in data.get("lines", []):
        quantity = Decimal(str(line["quantity"]))
        price = Decimal(str(line["unit_price"]))
        entry: dict[str, Any] = {
            "DetailType": "SalesItemLineDetail",
            "Amount": line_amount(quantity, price),
            "SalesItemLineDetail": {
                "ItemRef": {"value": item_qbo_ids[str(line["product_id"])]},
                "Qty": quantity,
                "UnitPrice": price,
            },
        }
        if _text(line, "description"):
            entry["Description"] = _text(line, "description")
        lines.append(entry)
    body: dict[str, Any] = {
        "CustomerRef": {"value": customer_qbo_id},
        "Line": lines,
        "TxnDate": data["issue_date"],
        "PrivateNote": invoice_marker(str(data["id"])),
    }
    if _text(data, "number"):
        body["DocNumber"] = _text(data, "number")
    if _text(data, "due_date"):
        body["DueDate"] = _text(data, "due_date")
    if _text(data, "memo"):
        body["CustomerMemo"] = {"value": _text(data, "memo")}
    if _text(data, "email"):
        body["BillEmail"] = {"Address": _text(data, "email")}
    if _text(data, "currency"):
        body["CurrencyRef"] = {"value": _text(data, "currency")}
    return body


def _fold(name: str) -> str:
    return name.strip().removesuffix(DELETED).strip().casefold()


def _older(event_at: datetime | None, applied_at: datetime | None) -> bool:
    return event_at is not None and applied_at is not None and event_at < applied_at


def request_id(event_id: str, generation: int, step: str) -> str:
    """The requestid of one write of one event: the job's stored base (derived from the event
    and the operator-retry generation) and the step, the same on every retry (at most 36
    characters, which QBO also accepts on batch calls)."""
    return step_id(queue.request_base(event_id, generation), step)


def step_id(base: str, step: str) -> str:
    return f"{base}-{step}"[:36]


# The job at hand ----------------------------------------------------------------------------------


class Job:
    """One claimed job while it runs: its event, its realm, and the fenced requestid."""

    def __init__(self, pusher: Pusher, work: jobs.Work, realm: str) -> None:
        self.pusher = pusher
        self.work = work
        self.realm = realm
        self.claim = work.claim
        self.data = work.data
        self.jobroutr_id = str(work.data.get("id", ""))
        #: A write of this job may have reached QuickBooks before (an earlier attempt ran).
        self.uncertain = work.claim.resumed

    def rid(self, step: str) -> str | None:
        """The requestid of this step's write. Its base was stored with the claim, before any
        write was sent; a step names one distinct write (QBO remembers refusals too). None (no
        requestid) only when the fault suite turned ``push_requestid`` off."""
        if not self.pusher.config.requestid:
            return None
        return step_id(self.claim.request_id, step)

    def link(self, kind: str, qbo_id: str) -> jobs.LinkWrite:
        return jobs.LinkWrite(
            kind=kind,
            jobroutr_id=self.jobroutr_id,
            qbo_id=qbo_id,
            source_timestamp=self.work.occurred_at,
            source_event_id=self.claim.event_id or "",
        )


class Absent:
    """Names QuickBooks was just asked about and had no record of (active or inactive), per
    realm and entity: the create of a queued record of that name may skip its own lookup, once,
    within ``ABSENT_FOR`` seconds. Names in a lookup still in flight are pending: a job of that
    name waits for the answer rather than asking again. Choosing the names of a lookup holds
    the realm's and entity's ``lock``, so two workers never ask about the same names at once."""

    def __init__(self, ttl: float = ABSENT_FOR) -> None:
        self.ttl = ttl
        self._until: dict[tuple[str, str, str], float] = {}
        self._pending: dict[tuple[str, str, str], asyncio.Future[None]] = {}
        self._taken: dict[tuple[str, str, str], float] = {}  # known absent, and now being created
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    def lock(self, realm: str, entity: str) -> asyncio.Lock:
        return self._locks.setdefault((realm, entity), asyncio.Lock())

    def add(self, realm: str, entity: str, names: list[str]) -> None:
        now = asyncio.get_running_loop().time()
        self._until = {k: t for k, t in self._until.items() if t > now}
        self._taken = {k: t for k, t in self._taken.items() if t > now}
        for name in names:
            self._until[(realm, entity, _fold(name))] = now + self.ttl

    def known(self, realm: str, entity: str, name: str) -> bool:
        key = (realm, entity, _fold(name))
        return key in self._until or key in self._pending or key in self._taken

    def pending(self, realm: str, entity: str, name: str) -> bool:
        return (realm, entity, _fold(name)) in self._pending

    def stock(self, realm: str, entity: str) -> int:
        """How many names are known absent (and not yet taken) or being asked about."""
        now = asyncio.get_running_loop().time()
        known = sum(
            1 for (r, e, _), t in self._until.items() if r == realm and e == entity and t > now
        )
        return known + sum(1 for r, e, _ in self._pending if r == realm and e == entity)

    def take(self, realm: str, entity: str, name: str) -> bool:
        """Whether the name was absent a moment ago; forgotten once taken."""
        key = (realm, entity, _fold(name))
        until = self._until.pop(key, None)
        if until is None or until <= asyncio.get_running_loop().time():
            return False
        self._taken[key] = until  # not asked about again while its create is under way
        return True

    async def settled(self, realm: str, entity: str, name: str) -> None:
        """Wait for a lookup in flight that asks about the name, if there is one."""
        pending = self._pending.get((realm, entity, _fold(name)))
        if pending is not None:
            await asyncio.shield(pending)

    def ask(self, realm: str, entity: str, names: list[str]) -> Callable[[], None]:
        """Mark a lookup of these names in flight; call what it returns when it is over,
        whatever its outcome (those waiting on it then look up for themselves if they must)."""
        answered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        keys = [(realm, entity, _fold(name)) for name in names]
        mine = [key for key in keys if self._pending.setdefault(key, answered) is answered]

        def over() -> None:
            for key in mine:
                del self._pending[key]
            answered.set_result(None)

        return over


class Pusher:
    """The push workers of one service process."""

    def __init__(
        self,
        store: Store,
        qbo: QboClient,
        config: PushConfig | None = None,
        activity: Activity | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.qbo = qbo
        self.config = config or PushConfig()
        self.activity = activity or Activity()
        self.clock = clock
        self.monotonic = monotonic
        self._parked_at: dict[int, float] = {}  # job id: when this process last parked it waiting
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"[:64]
        self._tasks: list[asyncio.Task[None]] = []
        self._idle: list[asyncio.Event] = []  # one per worker waiting for work, latest last
        self._missed = False
        self._random = random.Random()  # noqa: S311 - jitter, not secrets
        self.applied = 0
        self.absent = Absent()

    # Running ----------------------------------------------------------------------------------

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        for number in range(self.config.workers):
            self._tasks.append(loop.create_task(self._worker(number), name=f"push-{number}"))
        # A connect wakes the events waiting for one; a service stopped between the two would
        # leave them parked until their recheck. Every start looks again.
        self._tasks.append(loop.create_task(self.nudge("connection"), name="push-wake"))

    def wake(self) -> None:
        """New work is queued (an event arrived, a setting changed): an idle worker looks now.
        One, not all: a worker that finds a job wakes the next, so a backlog gets every worker
        and a single event does not make each of them query the queue."""
        if self._idle:
            self._idle.pop().set()
        else:
            self._missed = True  # every worker is busy: the next to finish looks again

    async def nudge(self, token: str | None = None) -> None:
        """What waiting jobs may need has changed (``connection``, ``settings:accounts``; None:
        anything): the jobs waiting on it look again now."""
        await asyncio.to_thread(jobs.wake_waiting, self.store.engine, token)
        self.wake()

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _worker(self, number: int) -> None:
        owner = f"{self.owner}/{number}"[:64]
        while True:
            try:
                found = await self.run_one(owner)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The store is unreachable or similar: say so, wait, go on (never die silently).
                # A full disk or a damaged store is the store's health to log, about once a
                # minute, not a traceback per worker and poll.
                if (kind := trouble(exc)) is not None:
                    self.store.health.failed(kind, exc)
                else:
                    log.exception("push.worker_error", worker=number)
                found = False
                await asyncio.sleep(self.config.idle_poll * 5)
            if found:
                self.wake()
                continue
            if self._missed:
                self._missed = False
                continue
            woken = asyncio.Event()
            self._idle.append(woken)
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), timeout=self.config.idle_poll)
            finally:
                if woken in self._idle:
                    self._idle.remove(woken)

    async def run_one(self, owner: str | None = None) -> bool:
        """Claim and run one job; False when there was nothing to do."""
        claim = await asyncio.to_thread(
            queue.claim, self.store.engine, owner or self.owner, self.config.lease
        )
        if claim is None:
            return False
        self.store.health.worked()  # the claim wrote its lease: the disk takes writes
        await self._run(claim)
        return True

    async def _run(self, claim: queue.Claim) -> None:
        engine = self.store.engine
        work = await asyncio.to_thread(jobs.load, engine, claim)
        if work is None:
            await asyncio.to_thread(
                jobs.complete,
                engine,
                claim,
                state="failed",
                failure=jobs.Failure("internal", "The job's event is missing from the store."),
            )
            return
        task = asyncio.ensure_future(self._apply(work))
        beat = asyncio.ensure_future(self._heartbeat(claim, task))
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            # The service is stopping: hand the job back at once, so the next start (or another
            # process) takes it up without waiting for the lease to run out. A write in flight
            # is answered again by requestid.
            task.cancel()
            await asyncio.shield(
                asyncio.to_thread(
                    jobs.complete, engine, claim, state="queued", run_after=self.clock()
                )
            )
            raise
        finally:
            beat.cancel()
            if not task.done():
                task.cancel()
        if task.cancelled():
            log.warning("push.lease_lost", job_id=claim.job_id, event_id=claim.event_id)
            return
        record = task.result()
        if record is None:
            return
        state, kwargs = record
        written = await asyncio.to_thread(jobs.complete, engine, claim, state=state, **kwargs)
        if not written:
            log.warning("push.lease_lost", job_id=claim.job_id, event_id=claim.event_id)
            return
        if state == "waiting" and "realm_id" not in kwargs and kwargs["waits_on"] == ["connection"]:
            # Never connected: the rest of the queue waits too, in one statement.
            await asyncio.to_thread(
                jobs.park_unconnected,
                engine,
                waiting_for=kwargs["waiting_for"],
                until=kwargs["run_after"],
            )
        counted = {"done": PUSH_DONE, "failed": PUSH_FAILED, "queued": PUSH_RETRIED}.get(state)
        if counted:
            self.activity.add(counted)
        if state == "done" and kwargs.get("link") is not None:
            self.applied += 1
            self.wake()  # an invoice may have been waiting for this record (complete woke it)

    async def _heartbeat(self, claim: queue.Claim, task: asyncio.Future[Any]) -> None:
        interval = self.config.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            alive = await asyncio.to_thread(
                queue.heartbeat, self.store.engine, claim.job_id, claim.fence, self.config.lease
            )
            if not alive:
                task.cancel()
                return

    # One job ----------------------------------------------------------------------------------

    async def _apply(self, work: jobs.Work) -> tuple[str, dict[str, Any]] | None:
        """Run the event's handler and turn what happened into the job's next state."""
        claim = work.claim
        now = self.clock()
        realm = work.realm_id or await asyncio.to_thread(self._current_realm)
        if realm is None:
            return "waiting", {
                "waiting_for": NOT_CONNECTED,
                "waits_on": ["connection"],
                "run_after": now + NEVER_CONNECTED_WAIT,
            }
        job = Job(self, work, realm)
        handlers: dict[str, Callable[[Job], Awaitable[Outcome]]] = {
            "customer.created": self.customer,
            "customer.updated": self.customer,
            "product.created": self.product,
            "product.updated": self.product,
            "invoice.created": self.invoice,
        }
        handler = handlers.get(work.event_type)
        if handler is None:
            return "failed", {"failure": jobs.Failure("unknown-type", "No handler for the type.")}
        try:
            outcome = await handler(job)
        except LeaseLost:
            return None
        except Exception as exc:
            return self._settle(work, realm, exc, now)
        self._parked_at.pop(claim.job_id, None)
        log.info(
            "push.applied",
            event_id=claim.event_id,
            type=work.event_type,
            qbo_id=outcome.qbo_id,
            note=outcome.note or None,
        )
        return "done", {
            "realm_id": realm,
            "qbo_id": outcome.qbo_id,
            "link": outcome.link,
            "mirror": outcome.mirror,
        }

    def _settle(
        self, work: jobs.Work, realm: str, exc: Exception, now: datetime
    ) -> tuple[str, dict[str, Any]]:
        """What a failed attempt means for the job: wait, try again later, or fail for good."""
        claim = work.claim
        state = "failed"
        outcome: dict[str, Any] = {"realm_id": realm}
        if not isinstance(exc, Wait):
            self._parked_at.pop(claim.job_id, None)  # a later wait is timed afresh
        if isinstance(exc, Wait):
            waited = self._waited(work)
            if exc.give_up_after is not None and waited >= exc.give_up_after.total_seconds():
                self._parked_at.pop(claim.job_id, None)
                outcome["failure"] = jobs.Failure(
                    "never-arrived",
                    f"Gave up waiting for {exc.reason}.",
                    "Check that record's event (`appliance events --status failed`), fix and "
                    "retry it, then retry this one.",
                )
            else:
                state = "waiting"
                outcome |= {
                    "waiting_for": exc.reason,
                    "waits_on": exc.waits_on,
                    "run_after": now + exc.recheck,
                    "waited_seconds": waited,
                }
        elif isinstance(exc, Refused):
            outcome["failure"] = exc.failure
        elif isinstance(exc, (OAuthError, AuthenticationError)):
            state = "waiting"
            outcome |= {
                "waiting_for": f"a working QuickBooks connection ({exc.message}): reconnect "
                "with `appliance connect`",
                "waits_on": ["connection"],
                "run_after": now + CONNECTION_WAIT,
            }
        elif isinstance(exc, (CompanyStatusError, AuthorizationError)):
            state = "waiting"
            outcome |= {
                "waiting_for": f"QuickBooks to accept writes again ({exc}). {exc.hint}".strip(),
                "waits_on": ["connection"],
                "run_after": now + CONNECTION_WAIT,
            }
        elif isinstance(exc, TransientError) and now - work.received_at < self.config.give_up_after:
            state = "queued"
            backoff = self.config.retry_base * min(2 ** max(claim.attempts - 1, 0), 32)
            backoff *= 0.5 + self._random.random() / 2
            outcome |= {"failure": jobs.Failure("transient", str(exc)), "run_after": now + backoff}
            log.info("push.retry_later", event_id=claim.event_id, error=str(exc))
        elif isinstance(exc, TransientError):
            outcome["failure"] = jobs.Failure(
                "gave-up",
                f"QuickBooks could not be reached for too long; the last error: {exc}.",
                "Retry the event when QuickBooks works again; it will not be written twice.",
            )
        elif (kind := trouble(exc)) is not None:
            # The store, not the event: a full disk or a damaged file. Try again later (if the
            # store cannot even record that, the lease runs out and the job comes back anyway).
            self.store.health.failed(kind, exc)
            state = "queued"
            outcome |= {
                "failure": jobs.Failure("store", _store_trouble(kind)),
                "run_after": now + STORE_RETRY,
            }
        elif isinstance(exc, QboError):
            code = exc.qbo_code or (str(exc.status) if exc.status else "qbo")
            outcome["failure"] = jobs.Failure(
                code, f"QuickBooks refused it: {exc}", exc.hint or HINTS.get(code, "")
            )
            log.info("push.refused", event_id=claim.event_id, code=code, error=str(exc))
        else:
            log.error("push.crashed", event_id=claim.event_id, exc_info=exc)
            outcome["failure"] = jobs.Failure(
                "internal",
                f"The appliance stopped on an internal error ({type(exc).__name__}).",
                "Retry the event; if it fails again, the service log has the details.",
            )
        return state, outcome

    def _waited(self, work: jobs.Work) -> float:
        """Seconds the job has waited while the service ran: what earlier looks stored, plus the
        time since this process last parked it, by the monotonic clock. The wall clock plays no
        part, so setting it (NTP's first sync, an operator's ``date``) neither gives up early
        nor, set back, makes a wait longer than it was; time the service was stopped does not
        count (the first look after a start adds nothing), so a wait only ever runs late."""
        now = self.monotonic()
        last = self._parked_at.get(work.claim.job_id)
        self._parked_at[work.claim.job_id] = now
        return work.waited + (max(now - last, 0.0) if last is not None else 0.0)

    def _current_realm(self) -> str | None:
        info = self.store.connection_info()
        return info.realm_id if info is not None else None

    # Shared steps -------------------------------------------------------------------------------

    async def _find(self, realm: str, entity: str, field: str, name: str) -> list[dict[str, Any]]:
        """Records of ``entity`` whose ``field`` is ``name`` (trimmed, any case), inactive ones
        (named "... (deleted)") included; active ones first."""
        statement = (
            Select(entity)
            .filter(field, "IN", [name, name + DELETED])
            .filter("Active", "IN", [True, False])
            .page(1, 10)
        )
        body = await self.qbo.query(realm, statement)
        rows = body.get(entity, [])
        found = [
            r
            for r in (rows if isinstance(rows, list) else [])
            if _fold(str(r.get(field, ""))) == _fold(name)
        ]
        return sorted(found, key=lambda r: r.get("Active") is False)

    async def _find_new(self, job: Job, entity: str, field: str, name: str) -> list[dict[str, Any]]:
        """``_find`` for a record about to be created, sharing the lookup with the backlog: the
        next queued creates' names go in the same query, and those QuickBooks has no record of
        are remembered in ``absent``, so their jobs go straight to the create (a job whose name
        is in a lookup still in flight waits for its answer). When fewer than ``LOOKAHEAD``
        names are known ahead, a job that needs no lookup of its own asks about the next ones
        before its create, so the other workers never run out and stand waiting."""
        absent, realm = self.absent, job.realm
        while True:
            await absent.settled(realm, entity, name)
            async with absent.lock(realm, entity):
                if absent.take(realm, entity, name):
                    if absent.stock(realm, entity) >= LOOKAHEAD:
                        return []
                    own = False
                    asked = await self._upcoming_names(job, entity, name, LOOKAHEAD)
                    if not asked:
                        return []
                elif absent.pending(realm, entity, name):  # asked about meanwhile: wait for it
                    continue
                else:
                    own = True
                    asked = await self._upcoming_names(job, entity, name, LOOKAHEAD - 1)
                names = [name, *asked] if own else asked
                over = absent.ask(realm, entity, names)
                break
        statement = (
            Select(entity)
            .filter(field, "IN", [v for n in names for v in (n, n + DELETED)])
            .filter("Active", "IN", [True, False])
            .page(1, 1000)
        )
        try:
            body = await self.qbo.query(realm, statement)
            rows = body.get(entity, [])
            rows = rows if isinstance(rows, list) else []
            present = {_fold(str(r.get(field, ""))) for r in rows}
            absent.add(realm, entity, [n for n in asked if _fold(n) not in present])
        except Exception as exc:
            if own:
                raise
            # Asking ahead for the others failed: this job's own create needs none of it (the
            # others look up for themselves).
            log.warning("push.lookahead_failed", error=type(exc).__name__)
            return []
        finally:
            over()
        if not own:
            return []
        found = [r for r in rows if _fold(str(r.get(field, ""))) == _fold(name)]
        return sorted(found, key=lambda r: r.get("Active") is False)

    async def _upcoming_names(self, job: Job, entity: str, name: str, most: int) -> list[str]:
        """Up to ``most`` names of the next queued creates of the job's kind that no lookup has
        asked about yet (nor is asking about), the job's own ``name`` aside."""
        namer = display_name if entity == "Customer" else (lambda d: _text(d, "name") or "")
        upcoming = await asyncio.to_thread(
            jobs.upcoming,
            self.store.engine,
            job.realm,
            job.work.event_type,
            after_job=job.claim.job_id,
            limit=3 * LOOKAHEAD,
        )
        others: dict[str, str] = {}
        for data in upcoming:
            other = namer(data).strip()
            folded = _fold(other)
            if other and folded != _fold(name) and not self.absent.known(job.realm, entity, other):
                others.setdefault(folded, other)
        return list(others.values())[:most]

    async def _sparse_update(
        self,
        job: Job,
        *,
        step: str,
        entity: str,
        qbo_id: str,
        sync_token: str | None,
        body: dict[str, Any],
    ) -> dict[str, Any]:
        """A sparse update with the SyncToken we know; a stale one (5010) re-reads and re-applies
        once, with a second requestid. ``step`` names the write within the job: QBO remembers
        each requestid's answer, refusals included, so two different writes never share one."""
        if sync_token is None:
            sync_token = str((await self.qbo.read(job.realm, entity, qbo_id))["SyncToken"])
        try:
            record = await self.qbo.write(
                job.realm,
                entity,
                {**body, "Id": qbo_id, "SyncToken": sync_token, "sparse": True},
                requestid=job.rid(f"{step}1"),
            )
        except ValidationError as exc:
            if exc.qbo_code != "5010":
                raise
            fresh = await self.qbo.read(job.realm, entity, qbo_id)
            record = await self.qbo.write(
                job.realm,
                entity,
                {**body, "Id": qbo_id, "SyncToken": str(fresh["SyncToken"]), "sparse": True},
                requestid=job.rid(f"{step}2"),
            )
        optional = CUSTOMER_OPTIONAL if entity == "Customer" else ITEM_OPTIONAL
        stale = [k for k in optional if k not in body and _present(record.get(k))]
        return await self._clear(job, step, entity, record, stale) if stale else record

    async def _clear(
        self, job: Job, step: str, entity: str, record: dict[str, Any], stale: list[str]
    ) -> dict[str, Any]:
        """Clear fields JobRoutr's record no longer has. A sparse update cannot blank a field
        (an empty value is ignored), so this is a full update of the record as QBO just returned
        it, minus those fields: everything else, the QBO user's own fields too, stays as is."""
        for attempt in (1, 2):
            base = record if attempt == 1 else await self.qbo.read(job.realm, entity, record["Id"])
            full = {k: v for k, v in base.items() if k not in stale and k not in READ_ONLY}
            try:
                return await self.qbo.write(
                    job.realm, entity, full, requestid=job.rid(f"{step}c{attempt}")
                )
            except ValidationError as exc:
                if exc.qbo_code != "5010" or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _sync_token(self, realm: str, kind: str, qbo_id: str) -> str | None:
        """The mirror row's last known SyncToken (a stale one costs a 5010 and a re-read)."""
        with self.store.session() as session:
            row = session.get(MODELS[kind], (realm, qbo_id))
            return row.sync_token if row is not None else None

    async def _superseded(self, job: Job, kind: str) -> tuple[jobs.LinkInfo | None, bool]:
        link = await asyncio.to_thread(
            jobs.link_of, self.store.engine, job.realm, kind, job.jobroutr_id
        )
        return link, link is not None and _older(job.work.occurred_at, link.source_timestamp)

    # customer.created / customer.updated --------------------------------------------------------

    async def customer(self, job: Job) -> Outcome:
        link, older = await self._superseded(job, "customer")
        if link is not None and older:
            return Outcome(link.qbo_id, note="superseded by a newer version")
        name = display_name(job.data)
        record: dict[str, Any] | None = None
        if link is not None:
            token = await asyncio.to_thread(self._sync_token, job.realm, "customers", link.qbo_id)
            try:
                record = await self._update_customer(job, link.qbo_id, token, name)
            except ValidationError as exc:
                if exc.qbo_code != "610":
                    raise
                record = None  # merged away or deleted in QuickBooks: write it anew
        if record is None:
            record = await self._match_or_create_customer(job, name)
        qbo_id = str(record["Id"])
        return Outcome(
            qbo_id, job.link("customer", qbo_id), mirror=mirrored("customers", customer_row(record))
        )

    async def _update_customer(
        self, job: Job, qbo_id: str, token: str | None, name: str
    ) -> dict[str, Any]:
        body = customer_body(job.data, name)
        try:
            return await self._sparse_update(
                job, step="lk", entity="Customer", qbo_id=qbo_id, sync_token=token, body=body
            )
        except ValidationError as exc:
            if exc.qbo_code != "6240":
                raise
        # The new name is taken by a vendor or employee (or an unlinked customer).
        suffixed = self._clash_name(name)
        body = customer_body(job.data, suffixed)
        fresh = await self.qbo.read(job.realm, "Customer", qbo_id)
        return await self.qbo.write(
            job.realm,
            "Customer",
            {**body, "Id": qbo_id, "SyncToken": str(fresh["SyncToken"]), "sparse": True},
            requestid=job.rid("ren"),
        )

    async def _claimable(self, job: Job, kind: str, record: dict[str, Any]) -> bool:
        """A same-named QBO record may be linked to this JobRoutr record, unless another one
        already holds it."""
        holder = await asyncio.to_thread(
            jobs.linked_to, self.store.engine, job.realm, kind, str(record["Id"])
        )
        return holder is None or holder == job.jobroutr_id

    async def _link_named(
        self, job: Job, step: str, name: str, *, new: bool = False
    ) -> dict[str, Any] | bool:
        """The QBO customer of that name, updated to this record: the record, True when there
        is none, False when another JobRoutr customer holds it (a clash, as with a vendor).
        ``new``: the first lookup before a create, shared with the backlog (``_find_new``)."""
        find = (
            self._find_new(job, "Customer", "DisplayName", name)
            if new
            else self._find(job.realm, "Customer", "DisplayName", name)
        )
        for candidate in await find:
            if not await self._claimable(job, "customer", candidate):
                return False
            return await self._sparse_update(
                job,
                step=step,
                entity="Customer",
                qbo_id=str(candidate["Id"]),
                sync_token=str(candidate["SyncToken"]),
                body=customer_body(job.data, name),
            )
        return True

    async def _create_customer(self, job: Job, step: str, name: str) -> dict[str, Any] | None:
        """Create it; None when the name is taken (6240) by a record the lookup did not see."""
        try:
            return await self.qbo.write(
                job.realm, "Customer", customer_body(job.data, name), requestid=job.rid(step)
            )
        except ValidationError as exc:
            if exc.qbo_code != "6240":
                raise
        return None

    async def _match_or_create_customer(self, job: Job, name: str) -> dict[str, Any]:
        found = await self._link_named(job, "mt", name, new=True)
        if found is True:
            created = await self._create_customer(job, "new", name)
            if created is not None:
                return created
            # A customer created meanwhile (another record, the QBO user) may hold it now.
            found = await self._link_named(job, "mt2", name)
        if isinstance(found, dict):
            return found
        return await self._create_suffixed(job, self._clash_name(name))

    def _clash_name(self, name: str) -> str:
        """The name is taken by a vendor, an employee or another JobRoutr customer: the
        configured rule adds a suffix, or holds the event for the operator. Never loops: the
        suffixed name is tried once."""
        if self.config.name_clash != "suffix" or name.endswith(self.config.name_clash_suffix):
            holder = "another customer, a vendor or an employee"
            raise Refused(
                "6240",
                f"QuickBooks already has {holder} named {name!r}, so this customer was held "
                "for you instead of being written under another name.",
                HINTS["6240"]
                + ' Or set [push] name_clash = "suffix" to add a suffix automatically.',
            )
        return name + self.config.name_clash_suffix

    async def _create_suffixed(self, job: Job, name: str) -> dict[str, Any]:
        found = await self._link_named(job, "sf", name)
        if isinstance(found, dict):
            return found
        if found is True and (created := await self._create_customer(job, "new2", name)):
            return created
        raise Refused(
            "6240",
            f"QuickBooks already uses both {name.removesuffix(self.config.name_clash_suffix)!r} "
            f"and {name!r} for other records, so this customer was held for you.",
            HINTS["6240"],
        )

    # product.created / product.updated ---------------------------------------------------------

    async def product(self, job: Job) -> Outcome:
        link, older = await self._superseded(job, "product")
        if link is not None and older:
            return Outcome(link.qbo_id, note="superseded by a newer version")
        record = await self._update_product(job, link.qbo_id) if link is not None else None
        if record is None:
            record = await self._match_or_create_product(job)
        qbo_id = str(record["Id"])
        return Outcome(
            qbo_id, job.link("product", qbo_id), mirror=mirrored("products", item_row(record))
        )

    async def _update_product(self, job: Job, qbo_id: str) -> dict[str, Any] | None:
        """The linked item, updated; None when it is gone from QuickBooks (write it anew)."""
        token = await asyncio.to_thread(self._sync_token, job.realm, "products", qbo_id)
        body = item_body(
            job.data,
            _text(job.data, "income_account_id"),
            _text(job.data, "expense_account_id"),
        )
        try:
            return await self._sparse_update(
                job, step="lk", entity="Item", qbo_id=qbo_id, sync_token=token, body=body
            )
        except ValidationError as exc:
            if exc.qbo_code == "6240":
                raise Refused(
                    "6240",
                    f"QuickBooks already has another product or service named {body['Name']!r}.",
                    "Rename the product in JobRoutr or the other item in QuickBooks, then "
                    "retry the event.",
                ) from None
            if exc.qbo_code != "610":
                raise
        return None

    async def _link_item(
        self, job: Job, step: str, candidates: list[dict[str, Any]], body: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The first same-named item, updated to this product (None when there is none)."""
        for candidate in candidates:
            if not await self._claimable(job, "product", candidate):
                raise Refused(
                    "6240",
                    f"QuickBooks' item {body['Name']!r} is already linked to another JobRoutr "
                    "product.",
                    "Give one of the two products another name in JobRoutr, then retry the event.",
                )
            return await self._sparse_update(
                job,
                step=step,
                entity="Item",
                qbo_id=str(candidate["Id"]),
                sync_token=str(candidate["SyncToken"]),
                body=body,
            )
        return None

    async def _match_or_create_product(self, job: Job) -> dict[str, Any]:
        name = _text(job.data, "name") or ""
        income = _text(job.data, "income_account_id")
        expense = _text(job.data, "expense_account_id")
        found = await self._find_new(job, "Item", "Name", name)
        linked = await self._link_item(job, "mt", found, item_body(job.data, income, expense))
        if linked is not None:
            return linked
        if income is None or expense is None:
            default_income, default_expense = await asyncio.to_thread(
                jobs.default_accounts, self.store.engine, job.realm
            )
            income, expense = income or default_income, expense or default_expense
        if income is None or expense is None:
            raise Wait(
                "choose default accounts: the product names no income and expense accounts "
                "and no defaults are chosen (`appliance settings set`)",
                SETTINGS_WAIT,
                waits_on=["settings:accounts"],
            )
        body = item_body(job.data, income, expense)
        try:
            return await self.qbo.write(job.realm, "Item", body, requestid=job.rid("new"))
        except ValidationError as exc:
            if exc.qbo_code != "6240":
                raise
        # Named meanwhile (another product, a QuickBooks user) since the lookup: link it.
        found = await self._find(job.realm, "Item", "Name", name)
        linked = await self._link_item(job, "mt2", found, body)
        if linked is not None:
            return linked
        raise Refused(
            "6240",
            f"QuickBooks already has a product or service named {name!r} that could not be linked.",
            "Rename the product in JobRoutr or the item in QuickBooks, then retry the event.",
        )

    # invoice.created -------------------------------------------------------------------------

    async def invoice(self, job: Job) -> Outcome:
        engine = self.store.engine
        link = await asyncio.to_thread(jobs.link_of, engine, job.realm, "invoice", job.jobroutr_id)
        if link is not None:
            return Outcome(link.qbo_id, note="already in QuickBooks")
        customer_id = str(job.data.get("customer_id", ""))
        product_ids = sorted({str(line.get("product_id", "")) for line in job.data["lines"]})
        customers = await asyncio.to_thread(
            jobs.links_of, engine, job.realm, "customer", [customer_id]
        )
        items = await asyncio.to_thread(jobs.links_of, engine, job.realm, "product", product_ids)
        missing = ([("customer", customer_id)] if customer_id not in customers else []) + [
            ("product", p) for p in product_ids if p not in items
        ]
        if missing:
            raise Wait(
                f"{' and '.join(f'{kind} {rid}' for kind, rid in missing)} to reach QuickBooks",
                DEPENDENCY_RECHECK,
                waits_on=[f"{kind}:{rid}" for kind, rid in missing],
                give_up_after=self.config.dependency_wait,
            )
        body = invoice_body(job.data, customers[customer_id], items)
        number = body.get("DocNumber")
        if job.uncertain and number:
            mine = await self._our_invoice(job, number)
            if mine is not None:
                return Outcome(mine, job.link("invoice", mine), note="read back")
        try:
            requestid = job.rid("new")
            record = await self.qbo.write(job.realm, "Invoice", body, requestid=requestid)
        except ValidationError as exc:
            if exc.qbo_code != "6140" or not number:
                raise
            mine = await self._our_invoice(job, number)
            if mine is None:
                raise Refused(
                    "6140",
                    f"QuickBooks already has an invoice numbered {number} that this appliance did "
                    "not write, so this one was not written.",
                    HINTS["6140"],
                ) from None
            return Outcome(mine, job.link("invoice", mine), note="already in QuickBooks")
        qbo_id = str(record["Id"])
        return Outcome(qbo_id, job.link("invoice", qbo_id))

    async def _our_invoice(self, job: Job, number: str) -> str | None:
        """The QBO id of the invoice with this DocNumber if this appliance wrote it for this
        JobRoutr invoice (it carries our note), else None."""
        body = await self.qbo.query(
            job.realm, Select("Invoice").filter("DocNumber", "=", number).page(1, 10)
        )
        rows = body.get("Invoice", [])
        for row in rows if isinstance(rows, list) else []:
            if str(row.get("PrivateNote", "")).startswith(invoice_marker(job.jobroutr_id)):
                return str(row["Id"])
        return None
