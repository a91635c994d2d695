"""The console's way to the service: the admin API on its Unix socket, called off the event loop.

The console never opens the database or the key. Every call runs in a thread (the admin client is
synchronous), so the screen never freezes, and every failure arrives as an ``ApplianceError``
with a sentence and a hint (``ServiceNotRunningError`` when nobody answers). The endpoints
themselves are the admin client's methods (``appliance.core.admin_client``), the CLI's too: this
class only moves them off the event loop, and stays a class of its own so tests can give the
console fixed answers (tests/tui/fake.py).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from appliance.core.admin import (
    AccountInfo,
    ConnectAttempt,
    ConnectionInfo,
    ConnectStartReport,
    DisconnectReport,
    EventActionReport,
    EventInfo,
    EventList,
    ImportReport,
    OnboardingInfo,
    SettingsInfo,
    StatusReport,
    TaxCodeView,
    TaxesInfo,
    TaxRateView,
)

if TYPE_CHECKING:
    from appliance.core.admin_client import AdminClient

T = TypeVar("T")


class Api:
    """``socket`` is the admin socket's path, or a function that finds it (loads the settings):
    it is called, and the HTTP client built, in a worker thread at the first call, so the console
    paints its first screen before either is imported. A settings error reaches every call as
    the ``SettingsError`` it is (a sentence and a hint)."""

    def __init__(self, socket: Path | Callable[[], Path], *, timeout: float = 30.0) -> None:
        self._socket = socket
        self._timeout = timeout
        self._client: AdminClient | None = None
        self._lock = threading.Lock()

    @property
    def socket_path(self) -> Path | None:
        """The socket's path once known (at once when given as a path)."""
        if isinstance(self._socket, Path):
            return self._socket
        return self._client.socket_path if self._client is not None else None

    def client(self) -> AdminClient:
        """The admin client, made at the first call (blocking: call it off the event loop)."""
        with self._lock:
            if self._client is None:
                path = self._socket if isinstance(self._socket, Path) else self._socket()
                from appliance.core.admin_client import AdminClient

                self._client = AdminClient(path, timeout=self._timeout)
            return self._client

    async def connect(self) -> Path:
        """Find the service's socket (off the event loop); raises as a call would."""
        return (await asyncio.to_thread(self.client)).socket_path

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()

    async def _call(self, method: Callable[[AdminClient], T]) -> T:
        """Run ``method`` (an endpoint of the admin client) in a worker thread."""
        return await asyncio.to_thread(lambda: method(self.client()))

    async def status(self) -> StatusReport:
        return await self._call(lambda c: c.status())

    async def events(self, status: str | None = None, limit: int = 50) -> EventList:
        return await self._call(lambda c: c.events(status, limit))

    async def retry(self, event_ids: list[str] | None) -> EventActionReport:
        return await self._call(lambda c: c.retry_events(event_ids))

    async def skip(self, event_ids: list[str] | None) -> EventActionReport:
        return await self._call(lambda c: c.skip_events(event_ids))

    async def accept(self, event_ids: list[str]) -> EventActionReport:
        return await self._call(lambda c: c.accept_events(event_ids))

    async def decide(self, event_id: str, action: str, qbo_id: str | None = None) -> EventInfo:
        return await self._call(lambda c: c.decide_event(event_id, action, qbo_id))

    async def connect_start(self, allow_other_company: bool = False) -> ConnectStartReport:
        return await self._call(lambda c: c.connect_start(allow_other_company=allow_other_company))

    async def connect_attempt(self, attempt: str) -> ConnectAttempt:
        return await self._call(lambda c: c.connect_attempt(attempt))

    async def connect_finish(self, redirect_url: str) -> ConnectionInfo:
        return await self._call(lambda c: c.connect_finish(redirect_url))

    async def disconnect(self) -> DisconnectReport:
        return await self._call(lambda c: c.disconnect())

    async def import_start(self, kind: str) -> ImportReport:
        return await self._call(lambda c: c.import_start(kind))

    async def import_latest(self, kind: str) -> ImportReport:
        return await self._call(lambda c: c.import_latest(kind))

    async def import_cancel(self, kind: str) -> ImportReport:
        return await self._call(lambda c: c.import_cancel(kind))

    async def accounts(self, kind: str) -> list[AccountInfo]:
        return await self._call(lambda c: c.accounts(kind))

    async def settings(self) -> SettingsInfo:
        return await self._call(lambda c: c.settings())

    async def save_settings(
        self, income: str | None, expense: str | None, deposit: str | None = None
    ) -> SettingsInfo:
        return await self._call(lambda c: c.save_settings(income, expense, deposit))

    async def onboarding(self) -> OnboardingInfo:
        return await self._call(lambda c: c.onboarding())

    async def complete_onboarding(self) -> OnboardingInfo:
        return await self._call(lambda c: c.complete_onboarding())

    async def taxes(self) -> TaxesInfo:
        return await self._call(lambda c: c.taxes())

    async def tax_codes(self) -> list[TaxCodeView]:
        return await self._call(lambda c: c.tax_codes())

    async def discount_accounts(self) -> list[AccountInfo]:
        return await self._call(lambda c: c.discount_accounts())

    async def map_tax_rate(self, rate_id: str, code_id: str, *, force: bool = False) -> TaxRateView:
        return await self._call(lambda c: c.map_tax_rate(rate_id, code_id, force=force))

    async def unmap_tax_rate(self, rate_id: str) -> TaxRateView:
        return await self._call(lambda c: c.unmap_tax_rate(rate_id))

    async def accept_tax_suggestions(self, rate_ids: list[str] | None = None) -> TaxesInfo:
        return await self._call(lambda c: c.accept_tax_suggestions(rate_ids))

    async def save_invoice_settings(
        self, *, discount_account_id: str | None = None, untaxed_tax_code_id: str | None = None
    ) -> TaxesInfo:
        return await self._call(
            lambda c: c.save_invoice_settings(
                discount_account_id=discount_account_id, untaxed_tax_code_id=untaxed_tax_code_id
            )
        )
