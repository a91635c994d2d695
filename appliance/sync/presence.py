"""This instance's row in the store's instance registry (storage/instances.py), kept current.

On PostgreSQL, where several instances may serve one store: written at start, again whenever the
key file changes (looked at every second, a ``stat``), and at least every ``heartbeat_seconds``;
deleted at a clean stop. A rotation on another instance waits for this row to list its new key.
"""

from __future__ import annotations

import asyncio
import time

from appliance.logging import get_logger
from appliance.storage import instances
from appliance.storage.store import Store
from appliance.storage.types import utcnow

log = get_logger(__name__)

#: How often the key file is looked at (a rotation elsewhere waits about this long for us).
LOOK_SECONDS = 1.0


class Presence:
    def __init__(self, store: Store, name: str, lease_seconds: float) -> None:
        self.store = store
        self.name = name
        self.started_at = utcnow()
        self.heartbeat_seconds = min(10.0, lease_seconds / 3)
        self._reported: dict[int, str] | None = None
        self._reported_at = 0.0
        self._failing = False

    def beat(self, *, force: bool = False) -> None:
        """Write the row if the key file changed or the heartbeat is due (blocking)."""
        held = self.store.vault.fresh().fingerprints()
        due = time.monotonic() - self._reported_at >= self.heartbeat_seconds
        if not (force or due or held != self._reported):
            return
        instances.heartbeat(self.store.engine, self.name, self.started_at, held)
        self._reported, self._reported_at = held, time.monotonic()

    def safe_beat(self, *, force: bool = False) -> None:
        try:
            self.beat(force=force)
        except Exception as exc:  # the database or the key file, for now: said once
            if not self._failing:
                log.warning("instance.heartbeat_failed", error=type(exc).__name__)
            self._failing = True
        else:
            self._failing = False

    async def run(self) -> None:
        while True:
            await asyncio.sleep(LOOK_SECONDS)
            await asyncio.to_thread(self.safe_beat)

    def forget(self) -> None:
        try:
            instances.forget(self.store.engine, self.name)
        except Exception as exc:  # its lease runs out instead
            log.warning("instance.forget_failed", error=type(exc).__name__)
