"""One record kind's push run in-process, as a worker runs it, against the emulator and a real
store: for tests that check what a push returns (``Written``'s figures and mismatch) as well as
what reached the books, many invoices quickly, with no queue in between.

``Books`` is a connected store on one emulator company: links, tax mappings and invoice settings
are set through the storage layer (what connect, the mapping step and the worker do)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from appliance.config import Settings
from appliance.gateway.runtime import Runtime
from appliance.storage import choices, taxes
from appliance.storage import push as jobs
from appliance.storage.db import session_scope
from appliance.storage.models import Link
from appliance.storage.outcomes import LinkWrite
from appliance.storage.queue import Claim, request_base
from appliance.storage.store import Store, initialize
from appliance.sync.push.job import PushConfig, PushJob, Written
from appliance.sync.push.lookahead import Lookup
from tests.harness.emulator import RunningEmulator
from tests.harness.runtime import connect

Push = Callable[[PushJob], Awaitable[Written]]


@dataclass
class Attempt:
    """What one push did: ``written``, or the exception it raised (Wait, Refused, a QBO error)."""

    data: dict[str, Any]
    written: Written | None = None
    error: Exception | None = None


class Books:
    """A store connected to one emulator company, ready to push to it."""

    def __init__(self, emulator: RunningEmulator, base: Path, socket_dir: Path) -> None:
        self.emulator = emulator
        self.realm = emulator.realm
        self.settings = Settings(
            state_dir=base / "state",
            qbo_emulator_url=emulator.url,
            admin_socket=socket_dir / "admin.sock",
            log_format="json",
        )
        initialize(self.settings, actor="test")
        self.store = Store.open(self.settings)
        asyncio.run(self._connect())

    async def _connect(self) -> None:
        runtime = Runtime(self.settings, self.store)
        try:
            await connect(runtime, self.realm)
        finally:
            await runtime.aclose()

    def close(self) -> None:
        self.store.close()

    @property
    def company(self) -> Any:
        return self.emulator.service.companies[self.realm]

    # What the other steps of the appliance would have stored ---------------------------------

    def link(self, kind: str, jobroutr_id: str, qbo_id: str) -> None:
        write = LinkWrite(kind=kind, jobroutr_id=jobroutr_id, qbo_id=qbo_id,
                          source_timestamp=None, source_event_id="")  # fmt: skip
        with session_scope(self.store.engine) as session:
            jobs._write_link(session, self.realm, write)

    def map_rate(self, rate_id: str, name: str, percent: str, code: str | None) -> None:
        rate = {"id": rate_id, "name": name, "percent": percent}
        taxes.learn(self.store.engine, self.realm, [rate], None)
        taxes.set_mapping(self.store.engine, self.realm, rate_id, code, "test")

    def invoice_settings(self, *, discount_account: str | None, untaxed_code: str | None) -> None:
        with session_scope(self.store.engine) as session:
            row = choices.settings_row(session, self.realm)
            row.default_discount_account_id = discount_account
            row.untaxed_tax_code_id = untaxed_code
            session.add(row)

    # Pushing ---------------------------------------------------------------------------------

    def push(
        self,
        push: Push,
        docs: list[tuple[str, dict[str, Any]]],
        *,
        event_id: str | None = None,
        at: datetime | None = None,
    ) -> list[Attempt]:
        """Push each (event type, data) in turn, as a worker would, keeping the links written.
        With ``event_id``, each is that event's job taken up again after a crash (the claim is
        ``resumed``: its writes may have happened, under the same requestid). ``at``: the
        events' envelope timestamp (default: now)."""
        self._at = at
        return asyncio.run(self._push_all(push, docs, event_id))

    _at: datetime | None = None

    async def _push_all(
        self, push: Push, docs: list[tuple[str, dict[str, Any]]], event_id: str | None
    ) -> list[Attempt]:
        runtime = Runtime(self.settings, self.store)
        attempts = []
        try:
            for number, (event_type, data) in enumerate(docs):
                attempt = Attempt(data)
                try:
                    job = self._job(runtime, number, event_type, data, event_id)
                    attempt.written = await push(job)
                except Exception as exc:
                    attempt.error = exc
                if attempt.written is not None and attempt.written.link is not None:
                    with session_scope(self.store.engine) as session:
                        jobs._write_link(session, self.realm, attempt.written.link)
                attempts.append(attempt)
        finally:
            await runtime.aclose()
        return attempts

    def _job(
        self,
        runtime: Runtime,
        number: int,
        event_type: str,
        data: dict[str, Any],
        again: str | None,
    ) -> PushJob:
        event_id = again or f"evt_{uuid.uuid4().hex}"
        now = datetime.now(UTC)
        claim = Claim(
            job_id=number, fence=1, kind="invoice", record_key=str(data["id"]),
            event_id=event_id, attempts=2 if again else 1, request_id=request_base(event_id, 0),
            resumed=again is not None,
        )  # fmt: skip
        work = jobs.Work(claim, event_type, data, self._at or now, now, self.realm, 0)
        return PushJob(
            work, self.realm, store=self.store, qbo=runtime.qbo, config=PushConfig(),
            lookup=Lookup(self.store, runtime.qbo),
        )  # fmt: skip

    def unlink(self, kind: str, jobroutr_id: str) -> None:
        """Forget a link, as if the worker died after the write and before recording it."""
        with session_scope(self.store.engine) as session:
            row = session.get(Link, (self.realm, kind, jobroutr_id))
            if row is not None:
                session.delete(row)

    def invoice(self, qbo_id: str) -> dict[str, Any]:
        return dict(self.company.get("Invoice", qbo_id))
