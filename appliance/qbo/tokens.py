"""Access tokens for every caller, refreshed once however many find them expired at once.

The refresh protocol, per company:

1. In this process, one ``asyncio.Lock``: callers that find the token expired (or were just told
   401 with it) queue; the first refreshes, the others then find the new token and use it.
2. Across processes, a lease in the store (:class:`TokenStore.try_lease`): only its holder calls
   Intuit. A process that cannot take it waits, then re-reads the tokens: the holder's new ones.
3. The holder re-reads the tokens after taking the lease (another process may have just
   refreshed), refreshes, and stores the new refresh token (sealed, committed) before anyone uses
   the new access token. Intuit keeps the previous refresh token valid for 24 hours, so a crash
   between Intuit's answer and our commit still leaves a working token behind.
4. ``invalid_grant`` marks the connection *needs reconnect* and keeps the stored tokens; from then
   on no caller calls the token endpoint until the operator reconnects.

The store is a callback interface: this package never touches the database itself.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from appliance.core.tokens import DISCONNECTED, NEEDS_RECONNECT, StoredTokens, TokenSet
from appliance.qbo.errors import ConnectionLostError, ReconnectNeededError
from appliance.qbo.oauth import HINTS, OAuthClient


class TokenStore(Protocol):
    def load(self, realm_id: str) -> StoredTokens | None: ...

    def try_lease(self, realm_id: str, owner: str, seconds: float) -> bool: ...

    def release(self, realm_id: str, owner: str) -> None: ...

    def save_refreshed(self, realm_id: str, owner: str, tokens: TokenSet) -> None: ...

    def mark_needs_reconnect(self, realm_id: str, owner: str, reason: str) -> None: ...


def _now() -> datetime:
    return datetime.now(UTC)


class TokenManager:
    def __init__(
        self,
        store: TokenStore,
        oauth: OAuthClient,
        *,
        clock: Callable[[], datetime] = _now,
        lease_seconds: float = 30.0,
        margin: timedelta = timedelta(seconds=60),
        poll_seconds: float = 0.1,
    ) -> None:
        self.store = store
        self.oauth = oauth
        self.clock = clock
        self.lease_seconds = lease_seconds
        self.margin = margin
        self.poll_seconds = poll_seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:64]
        self._locks: dict[str, asyncio.Lock] = {}
        self._cache: dict[str, TokenSet] = {}
        self.refreshes = 0
        self.refresh_failures = 0

    def forget(self, realm_id: str) -> None:
        """Drop what this process remembers (after a reconnect or disconnect)."""
        self._cache.pop(realm_id, None)

    def _usable(self, tokens: TokenSet | None, rejected: str | None) -> bool:
        return (
            tokens is not None
            and tokens.access_token != rejected
            and tokens.access_expires_at > self.clock() + self.margin
        )

    async def access_token(self, realm_id: str, *, rejected: str | None = None) -> str:
        """A token to call the API with; ``rejected`` is one QBO just answered 401 to."""
        cached = self._cache.get(realm_id)
        if cached is not None and self._usable(cached, rejected):
            return cached.access_token
        lock = self._locks.setdefault(realm_id, asyncio.Lock())
        async with lock:
            return await self._under_lock(realm_id, rejected)

    async def _under_lock(self, realm_id: str, rejected: str | None) -> str:
        deadline = asyncio.get_running_loop().time() + 2 * self.lease_seconds + 30
        while True:
            stored = await self._load(realm_id)
            if self._usable(stored.tokens, rejected):
                assert stored.tokens is not None
                self._cache[realm_id] = stored.tokens
                return stored.tokens.access_token
            if await asyncio.to_thread(
                self.store.try_lease, realm_id, self.owner, self.lease_seconds
            ):
                return await self._refresh(realm_id, rejected)
            if asyncio.get_running_loop().time() > deadline:
                raise ConnectionLostError(
                    "Another process holds the token refresh and has not finished"
                )
            await asyncio.sleep(self.poll_seconds)

    async def _load(self, realm_id: str) -> StoredTokens:
        stored = await asyncio.to_thread(self.store.load, realm_id)
        if stored is None or stored.state == DISCONNECTED or stored.tokens is None:
            raise ReconnectNeededError(
                "not_connected",
                "This appliance is not connected to that QuickBooks company",
                hint="Run `appliance connect`.",
            )
        if stored.state == NEEDS_RECONNECT:
            raise ReconnectNeededError(
                "invalid_grant",
                "The connection to QuickBooks needs to be reconnected",
                hint=HINTS["invalid_grant"],
            )
        return stored

    async def _refresh(self, realm_id: str, rejected: str | None) -> str:
        try:
            stored = await self._load(realm_id)  # re-read: someone may have just refreshed
            if self._usable(stored.tokens, rejected):
                await asyncio.to_thread(self.store.release, realm_id, self.owner)
                assert stored.tokens is not None
                self._cache[realm_id] = stored.tokens
                return stored.tokens.access_token
            assert stored.tokens is not None
            self.refreshes += 1
            fresh = await self.oauth.refresh(stored.tokens.refresh_token, self.clock())
        except ReconnectNeededError as exc:
            self.refresh_failures += 1
            await asyncio.to_thread(
                self.store.mark_needs_reconnect, realm_id, self.owner, exc.error
            )
            self._cache.pop(realm_id, None)
            raise
        except BaseException as exc:
            if not isinstance(exc, asyncio.CancelledError):
                self.refresh_failures += 1
            await asyncio.shield(asyncio.to_thread(self.store.release, realm_id, self.owner))
            raise
        # Sealed and committed (and the lease released) before the new access token is used.
        await asyncio.to_thread(self.store.save_refreshed, realm_id, self.owner, fresh)
        self._cache[realm_id] = fresh
        return fresh.access_token
