"""Intake's writer: JobRoutr's events committed in groups, each answered only after its commit.

Every accepted event must be durable before it is answered (synchronous=FULL: the log is synced
on each commit). Committing each request on its own costs a transaction, a sync and a thread hop
per event, and concurrent requests queue behind each other for SQLite's one writer. Here the
requests that arrive while a commit is under way are gathered and stored together in the next
transaction (group commit): one sync makes all of them durable, and each request is answered
when the commit that holds it has returned. A batch that fails is retried one event at a time, so
one bad event cannot fail the others -- unless the store itself is in trouble (a full disk, a
damaged file): then every request of the batch is answered 503 at once, the log says so about
once a minute, and the writer goes on with the next requests, so it works again when space does.

The webhook secret, the connected realm, its home currency and its chart of accounts' types, which
every request needs, are read from the store at most once a second (and at once after a connect
or disconnect in this process).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from appliance.logging import get_logger
from appliance.storage import choices, credentials
from appliance.storage.books import get_books
from appliance.storage.events import AcceptedEvent, Incoming, Unconnected, accept_many
from appliance.storage.health import trouble
from appliance.storage.store import Store
from appliance.sync.push import NEVER_CONNECTED_WAIT, NOT_CONNECTED

log = get_logger(__name__)

MAX_BATCH = 256
CONTEXT_SECONDS = 1.0
#: Before the first connect, new jobs wait for it as the push workers would make them wait.
UNCONNECTED = Unconnected(NOT_CONNECTED, NEVER_CONNECTED_WAIT)


@dataclass(frozen=True)
class Context:
    #: The secrets a signature may be made with (none before `appliance init`).
    secrets: list[str]
    #: The connected company, stored with each event (None when not connected).
    realm_id: str | None
    #: Its home currency, once its books have been read (an invoice in another currency needs
    #: an exchange rate); None until then, when the push checks.
    home_currency: str | None = None
    #: Its imported chart of accounts, id -> AccountType: a product's own accounts must be of
    #: their kind (an account not imported yet is left to the push).
    accounts: Mapping[str, str] = field(default_factory=dict)


class Intake:
    def __init__(self, store: Store, *, max_batch: int = MAX_BATCH) -> None:
        self.store = store
        self.max_batch = max_batch
        self._pending: list[tuple[Incoming, asyncio.Future[AcceptedEvent]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._context: Context | None = None
        self._context_at = 0.0
        self._reading: asyncio.Future[Context] | None = None
        #: Commits made and events they held (the mean batch size is events / commits).
        self.commits = 0
        self.events = 0

    # The secret and realm ------------------------------------------------------------------

    async def context(self) -> Context:
        now = time.monotonic()
        if self._context is None or now - self._context_at > CONTEXT_SECONDS:
            # One read for all the requests that find it stale at once.
            if self._reading is None or self._reading.done():
                self._reading = asyncio.ensure_future(asyncio.to_thread(self._read_context))
            reading = self._reading
            context = await asyncio.shield(reading)
            if self._reading is reading:
                self._context, self._context_at = context, now
            return context
        return self._context

    def forget(self) -> None:
        """The connection changed: read the realm again on the next request."""
        self._context = None
        self._reading = None

    def _read_context(self) -> Context:
        with self.store.session() as session:
            secret = credentials.webhook_secret(session, self.store.vault)
        info = self.store.connection_info()
        realm_id = info.realm_id if info else None
        accounts: dict[str, str] = {}
        if realm_id:
            with self.store.session() as session:
                accounts = choices.account_types(session, realm_id)
        books = get_books(self.store.engine, realm_id) if realm_id else None
        home_currency = books.home_currency if books else None
        return Context([secret] if secret else [], realm_id, home_currency, accounts)

    # Group commit ---------------------------------------------------------------------------

    async def accept(self, incoming: Incoming) -> AcceptedEvent:
        """Store the event (with its job); returns once it is committed. StoreUnavailableError (503)
        when the store cannot take it: a full disk, or a damaged file that a restore would
        replace, losing what was acknowledged since."""
        if self.store.health.damage is not None:
            raise self.store.health.unavailable()
        future: asyncio.Future[AcceptedEvent] = asyncio.get_running_loop().create_future()
        self._pending.append((incoming, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="intake-writer")
        # A client that hangs up does not cancel the write: the event is stored all the same,
        # and a redelivery gets the first answer.
        return await asyncio.shield(future)

    async def _write(self) -> None:
        while self._pending:
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            try:
                results = await asyncio.to_thread(
                    accept_many, self.store.engine, [item for item, _ in batch], UNCONNECTED
                )
            except Exception as exc:
                if (kind := trouble(exc)) is not None:
                    # A full disk or a damaged file fails every event alike: one log line at
                    # most (StoreHealth), and each waiting request is answered 503.
                    self.store.health.failed(kind, exc)
                    self._refuse(batch)
                    continue
                log.warning("intake.batch_failed", events=len(batch), exc_info=True)
                await self._one_by_one(batch)
                continue
            self.store.health.worked()
            self.commits += 1
            self.events += len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def _one_by_one(
        self, batch: list[tuple[Incoming, asyncio.Future[AcceptedEvent]]]
    ) -> None:
        for item, future in batch:
            try:
                [result] = await asyncio.to_thread(
                    accept_many, self.store.engine, [item], UNCONNECTED
                )
            except Exception as exc:
                if (kind := trouble(exc)) is not None:
                    self.store.health.failed(kind, exc)
                    self._refuse([(item, future)])
                elif not future.done():
                    future.set_exception(exc)
                continue
            self.store.health.worked()
            self.commits += 1
            self.events += 1
            if not future.done():
                future.set_result(result)

    def _refuse(self, batch: list[tuple[Incoming, asyncio.Future[AcceptedEvent]]]) -> None:
        for _, future in batch:
            if not future.done():
                future.set_exception(self.store.health.unavailable())

    async def aclose(self) -> None:
        """Let the events already received be committed and answered."""
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
