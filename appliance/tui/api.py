"""The console's way to the service: the admin API on its Unix socket, called off the event loop.

The console never opens the database or the key. Every call runs in a thread (the admin client is
synchronous), so the screen never freezes, and every failure arrives as an ``ApplianceError``
with a sentence and a hint (``ServiceNotRunning`` when nobody answers).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from appliance.core.admin import (
    AccountInfo,
    ConnectionInfo,
    ConnectStartReport,
    DisconnectReport,
    EventActionReport,
    EventList,
    ImportReport,
    OnboardingInfo,
    SettingsInfo,
    StatusReport,
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
                from appliance.core.admin_client import AdminClient

                path = self._socket if isinstance(self._socket, Path) else self._socket()
                self._client = AdminClient(path, timeout=self._timeout)
            return self._client

    async def connect(self) -> Path:
        """Find the service's socket (off the event loop); raises as a call would."""
        return (await asyncio.to_thread(self.client)).socket_path

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()

    async def _call(self, method: str, path: str, type_: type[T], **kwargs: Any) -> T:
        def call() -> T:
            return self.client().request(method, path, type_, **kwargs)

        return await asyncio.to_thread(call)

    async def status(self) -> StatusReport:
        return await self._call("GET", "/v1/status", StatusReport)

    async def events(self, status: str | None = None, limit: int = 50) -> EventList:
        params: dict[str, Any] = {"limit": limit}
        if status:
            params["status"] = status
        return await self._call("GET", "/v1/events", EventList, params=params)

    async def retry(self, event_ids: list[str] | None) -> EventActionReport:
        body = {"all_failed": True} if event_ids is None else {"event_ids": event_ids}
        return await self._call("POST", "/v1/events/retry", EventActionReport, json=body)

    async def skip(self, event_ids: list[str] | None) -> EventActionReport:
        body = {"all_failed": True} if event_ids is None else {"event_ids": event_ids}
        return await self._call("POST", "/v1/events/skip", EventActionReport, json=body)

    async def connect_start(self) -> ConnectStartReport:
        return await self._call(
            "POST", "/v1/connect/start", ConnectStartReport, json={"allow_other_company": False}
        )

    async def connect_finish(self, redirect_url: str) -> ConnectionInfo:
        return await self._call(
            "POST", "/v1/connect/finish", ConnectionInfo, json={"redirect_url": redirect_url}
        )

    async def disconnect(self) -> DisconnectReport:
        return await self._call("POST", "/v1/disconnect", DisconnectReport)

    async def import_start(self, kind: str) -> ImportReport:
        return await self._call("POST", f"/v1/imports/{kind}", ImportReport)

    async def import_latest(self, kind: str) -> ImportReport:
        return await self._call("GET", f"/v1/imports/{kind}", ImportReport)

    async def import_cancel(self, kind: str) -> ImportReport:
        return await self._call("POST", f"/v1/imports/{kind}/cancel", ImportReport)

    async def accounts(self, kind: str) -> list[AccountInfo]:
        return await self._call("GET", "/v1/accounts", list[AccountInfo], params={"kind": kind})

    async def settings(self) -> SettingsInfo:
        return await self._call("GET", "/v1/settings", SettingsInfo)

    async def save_settings(self, income: str | None, expense: str | None) -> SettingsInfo:
        body = {"income_account_id": income, "expense_account_id": expense}
        return await self._call("PUT", "/v1/settings", SettingsInfo, json=body)

    async def onboarding(self) -> OnboardingInfo:
        return await self._call("GET", "/v1/onboarding", OnboardingInfo)

    async def complete_onboarding(self) -> OnboardingInfo:
        return await self._call("POST", "/v1/onboarding/complete", OnboardingInfo)
