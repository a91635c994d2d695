"""Keep every caller in this process within Intuit's per-company limits (FACTS §8, §5).

10 requests at once, 500 a minute, 120 batch calls a minute, per company. A caller waits for a
slot instead of being refused: the limiter's job is that QBO never has to say 429. The minute
windows are sliding, on the monotonic clock. A call counts from the moment it starts until a
minute after its answer came: QuickBooks counts it when the request reaches it, somewhere in
between, so a window kept this way never holds fewer calls than Intuit's (counting from the
start only, a call slowed on its way could let the next minute's first call arrive early: a 429).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

WINDOW = 60.0


@dataclass(frozen=True)
class RateLimits:
    concurrent: int = 10
    per_minute: int = 500
    batch_per_minute: int = 120


#: How long to wait when the window is full of calls still in flight (none to age out yet).
IN_FLIGHT_POLL = 0.05


class _Window:
    def __init__(self, size: int, clock: Callable[[], float]) -> None:
        self.size = size
        self.clock = clock
        self.calls: deque[float] = deque()  # when each finished call's answer came, oldest first
        self.open = 0  # calls started and not finished: they count as made now

    def wait_time(self) -> float:
        now = self.clock()
        while self.calls and self.calls[0] <= now - WINDOW:
            self.calls.popleft()
        if len(self.calls) + self.open < self.size:
            return 0.0
        return self.calls[0] + WINDOW - now if self.calls else IN_FLIGHT_POLL

    def take(self) -> None:
        self.open += 1

    def finish(self) -> None:
        self.open -= 1
        self.calls.append(self.clock())


class CompanyLimiter:
    def __init__(self, limits: RateLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._concurrent = asyncio.Semaphore(limits.concurrent)
        self._minute = _Window(limits.per_minute, clock)
        self._batch = _Window(limits.batch_per_minute, clock)
        self._lock = asyncio.Lock()
        self.in_flight = 0

    @asynccontextmanager
    async def slot(self, *, batch: bool = False) -> AsyncIterator[None]:
        async with self._concurrent:
            while True:
                # Check and take under the lock, but never sleep holding it: a batch call waiting
                # for the batch window must not hold up ordinary calls.
                async with self._lock:
                    wait = max(self._minute.wait_time(), self._batch.wait_time() if batch else 0.0)
                    if wait <= 0:
                        self._minute.take()
                        if batch:
                            self._batch.take()
                        break
                await asyncio.sleep(wait)
            self.in_flight += 1
            try:
                yield
            finally:
                self.in_flight -= 1
                self._minute.finish()
                if batch:
                    self._batch.finish()


class Limiters:
    """One limiter per company, created on first use."""

    def __init__(self, limits: RateLimits | None = None) -> None:
        self.limits = limits or RateLimits()
        self._by_realm: dict[str, CompanyLimiter] = {}

    def for_realm(self, realm_id: str) -> CompanyLimiter:
        limiter = self._by_realm.get(realm_id)
        if limiter is None:
            limiter = self._by_realm[realm_id] = CompanyLimiter(self.limits)
        return limiter
