"""The job at hand: one claimed job while it runs, with the steps every record kind shares
(the sparse update with its SyncToken, the clear of fields JobRoutr no longer has, the link
checks), and ``KindPush``, what a record kind's module gives the registry."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from appliance.config import Settings
from appliance.core.kinds import RecordKind
from appliance.core.review import Decision
from appliance.qbo.client import QboClient
from appliance.qbo.errors import ValidationError
from appliance.storage import push as jobs
from appliance.storage.mirror import MODELS, MirrorRow
from appliance.storage.outcomes import LinkWrite
from appliance.storage.store import Store
from appliance.sync.push import steps
from appliance.sync.push.lookahead import Lookup

#: For the fault suite only (tests/chaos/test_kill9.py sets it to "false"): every write is sent
#: without QBO's idempotency key, so a write whose answer was lost can be applied twice, which
#: is what the suite counts to show what requestid prevents. Read when the service builds its
#: push configuration; not an operator's setting, and never off in production.
REQUESTID_ENV = "APPLIANCE_PUSH_REQUESTID"
#: What QBO fills in itself; never sent back on a full update.
READ_ONLY = ("MetaData", "domain", "sparse", "time")


def _requestid_from_env() -> bool:
    return os.environ.get(REQUESTID_ENV, "true").strip().lower() not in ("false", "0", "no", "off")


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
    requestid: bool = True  # False only in the fault suite (REQUESTID_ENV)
    instance: str = ""  # this instance's name: the jobs it holds say so (Settings.instance())

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
            requestid=_requestid_from_env(),
            instance=settings.instance(),
        )


@dataclass(frozen=True)
class Written:
    """What a record kind's push did: the QBO id ("" when nothing was written, such as a void
    of an invoice that never reached QuickBooks), the link to write, a note for the log, and the
    record as QBO answered it, for the mirror."""

    qbo_id: str
    link: LinkWrite | None = None
    note: str = ""
    mirror: tuple[str, MirrorRow] | None = None
    #: What QuickBooks holds, as read back after the write (invoices: doc_number, total, tax,
    #: balance, state): kept on the link for the pull API.
    figures: dict[str, Any] | None = None
    #: QuickBooks' totals differ from the bill: ``{"qbo": {"total", "tax"}, "jobroutr": {...}}``.
    #: The job ends ``mismatch``, never ``done``.
    mismatch: dict[str, Any] | None = None


def mirrored(kind: RecordKind, row: object) -> tuple[str, MirrorRow] | None:
    return (kind.plural, row) if isinstance(row, MirrorRow) else None


def older(event_at: datetime | None, applied_at: datetime | None) -> bool:
    return event_at is not None and applied_at is not None and event_at < applied_at


def _present(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_present(v) for k, v in value.items() if k != "Id")
    return value not in (None, "")


class PushJob:
    """One claimed job while it runs: its event, its realm, the fenced requestid, and what it
    needs of the service (the store, QuickBooks, the configuration, the name lookup)."""

    def __init__(
        self,
        work: jobs.Work,
        realm: str,
        *,
        store: Store,
        qbo: QboClient,
        config: PushConfig,
        lookup: Lookup,
    ) -> None:
        self.work = work
        self.realm = realm
        self.store = store
        self.qbo = qbo
        self.config = config
        self.lookup = lookup
        self.claim = work.claim
        self.data = work.data
        self.jobroutr_id = str(work.data.get("id", ""))
        #: A write of this job may have reached QuickBooks before (an earlier attempt ran).
        self.uncertain = work.claim.resumed
        #: The operator's answer to the question this job was parked in review with, if any.
        self.decision = (
            Decision.from_details({"decision": work.decision}) if work.decision else None
        )

    def rid(self, step: str) -> str | None:
        """The requestid of this step's write (see ``steps``). Its base was stored with the
        claim, before any write was sent. None (no requestid) only in the fault suite."""
        if not self.config.requestid:
            return None
        return steps.step_id(self.claim.request_id, step)

    def link(self, kind: RecordKind, qbo_id: str) -> LinkWrite:
        return LinkWrite(
            kind=kind.name,
            jobroutr_id=self.jobroutr_id,
            qbo_id=qbo_id,
            source_timestamp=self.work.occurred_at,
            source_event_id=self.claim.event_id or "",
        )

    async def linked(self, kind: RecordKind) -> tuple[jobs.LinkInfo | None, bool]:
        """The record's link, and whether this event is older than the version it carries."""
        link = await asyncio.to_thread(
            jobs.link_of, self.store.engine, self.realm, kind.name, self.jobroutr_id
        )
        return link, link is not None and older(self.work.occurred_at, link.source_timestamp)

    async def claimable(self, kind: RecordKind, record: dict[str, Any]) -> bool:
        """A same-named QBO record may be linked to this JobRoutr record, unless another one
        already holds it."""
        holder = await asyncio.to_thread(
            jobs.linked_to, self.store.engine, self.realm, kind.name, str(record["Id"])
        )
        return holder is None or holder == self.jobroutr_id

    def _sync_token(self, kind: RecordKind, qbo_id: str) -> str | None:
        with self.store.session() as session:
            row = session.get(MODELS[kind.plural], (self.realm, qbo_id))
            return row.sync_token if row is not None else None

    async def sync_token(self, kind: RecordKind, qbo_id: str) -> str | None:
        """The mirror row's last known SyncToken (a stale one costs a 5010 and a re-read)."""
        return await asyncio.to_thread(self._sync_token, kind, qbo_id)

    async def sparse_update(
        self,
        kind: RecordKind,
        *,
        step: str,
        qbo_id: str,
        sync_token: str | None,
        body: dict[str, Any],
        optional: tuple[str, ...],
        guard: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """A sparse update with the SyncToken we know; a stale one (5010) re-reads and re-applies
        once, with a second requestid. The ``optional`` fields the body lacks but QBO's record
        still has are cleared after it (``clear``). ``guard`` checks any record read here (the
        SyncToken unknown, or stale) before the write, and raises to stop it: what was checked
        with the known SyncToken stays true unless the record changed, and then it is read."""
        entity = kind.entity
        if sync_token is None:
            sync_token = str((await self._read(entity, qbo_id, guard))["SyncToken"])
        try:
            record = await self.qbo.write(
                self.realm,
                entity,
                {**body, "Id": qbo_id, "SyncToken": sync_token, "sparse": True},
                requestid=self.rid(steps.sparse(step, 1)),
            )
        except ValidationError as exc:
            if exc.qbo_code != "5010":
                raise
            fresh = await self._read(entity, qbo_id, guard)
            record = await self.qbo.write(
                self.realm,
                entity,
                {**body, "Id": qbo_id, "SyncToken": str(fresh["SyncToken"]), "sparse": True},
                requestid=self.rid(steps.sparse(step, 2)),
            )
        stale = [k for k in optional if k not in body and _present(record.get(k))]
        return await self.clear(kind, step, record, stale) if stale else record

    async def _read(
        self, entity: str, qbo_id: str, guard: Callable[[dict[str, Any]], None] | None
    ) -> dict[str, Any]:
        record = await self.qbo.read(self.realm, entity, qbo_id)
        if guard is not None:
            guard(record)
        return record

    async def clear(
        self, kind: RecordKind, step: str, record: dict[str, Any], stale: list[str]
    ) -> dict[str, Any]:
        """Clear fields JobRoutr's record no longer has. A sparse update cannot blank a field
        (an empty value is ignored), so this is a full update of the record as QBO just returned
        it, minus those fields: everything else, the QBO user's own fields too, stays as is."""
        for attempt in (1, 2):
            base = (
                record
                if attempt == 1
                else await self.qbo.read(self.realm, kind.entity, record["Id"])
            )
            full = {k: v for k, v in base.items() if k not in stale and k not in READ_ONLY}
            try:
                return await self.qbo.write(
                    self.realm, kind.entity, full, requestid=self.rid(steps.clear(step, attempt))
                )
            except ValidationError as exc:
                if exc.qbo_code != "5010" or attempt == 2:
                    raise
        raise AssertionError("unreachable")


@dataclass(frozen=True)
class KindPush:
    """A record kind as the push knows it: the event types that carry it, the handler that
    writes one to QuickBooks, and how an event's data names one (for the name lookahead)."""

    kind: RecordKind
    events: tuple[str, ...]
    push: Callable[[PushJob], Awaitable[Written]]
    name_of: Callable[[dict[str, Any]], str] | None = None
