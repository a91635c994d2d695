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
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from appliance.logging import get_logger

log = get_logger(__name__)

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


class GrantShare(Protocol):
    """A share of the company's limits granted to this instance (storage/limits.py: Grant)."""

    @property
    def calls(self) -> int: ...
    @property
    def batch(self) -> int: ...
    @property
    def slots(self) -> int: ...


class GrantSource(Protocol):
    """Where shares come from: the store, shared by every instance (storage/limits.py)."""

    def request(self, realm_id: str, calls: int, batch: int, slots: int) -> GrantShare | float: ...

    def close(self, grant: Any, calls: int, batch: int) -> None: ...


#: How long this instance uses a grant before it closes it and asks again: short, so the others
#: get their turn at the slots, and the calls not made go back soon.
GRANT_SECONDS = 2.0


class _Held:
    """A grant in use here: what is left of it and the calls in flight under it."""

    def __init__(self, share: GrantShare, until: float) -> None:
        self.share = share
        self.until = until
        self.calls = 0
        self.batch = 0
        self.in_flight = 0
        self.retired = False
        self.closed = False

    def usable(self, now: float) -> bool:
        return not self.retired and now < self.until and self.calls < self.share.calls

    def free(self, batch: bool) -> bool:
        """A slot free now (and a batch call left, for a batch call)."""
        return self.in_flight < self.share.slots and (not batch or self.batch < self.share.batch)


class SharedCompanyLimiter:
    """The company's limits shared with the other instances through grants (storage/limits.py):
    a call takes a slot and a call of a grant held here; more grants are asked for while calls
    wait and this instance holds fewer slots than the limit; a grant used up or old is closed
    (once its calls are answered). One round trip to the store per grant, none per call."""

    def __init__(
        self,
        realm_id: str,
        grants: GrantSource,
        limits: RateLimits,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.realm_id = realm_id
        self.grants = grants
        self.clock = clock
        self.chunk = max(1, limits.per_minute // 20)
        self.batch_chunk = max(1, limits.batch_per_minute // 20)
        self.concurrent = limits.concurrent
        self._grants: list[_Held] = []  # held here, each with its own slots and calls
        self._retiring: list[_Held] = []  # retired, their slots held until the store has the close
        self._changed = asyncio.Condition()
        self._closing: set[asyncio.Task[None]] = set()
        self._waiting = 0  # callers waiting for a slot: the slots a new grant asks for
        # A thread of its own for the store: in the default pool, a grant would wait behind the
        # push workers' store calls while every call of the instance waits for it.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qbo-limits")
        self.in_flight = 0

    @asynccontextmanager
    async def slot(self, *, batch: bool = False) -> AsyncIterator[None]:
        held = await self._take(batch)
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1
            held.in_flight -= 1
            if held.retired and held.in_flight == 0:
                self._close(held)
            async with self._changed:
                self._changed.notify_all()

    async def _take(self, batch: bool) -> _Held:
        self._waiting += 1
        try:
            return await self._wait_for_share(batch)
        finally:
            self._waiting -= 1

    async def _wait_for_share(self, batch: bool) -> _Held:
        while True:
            async with self._changed:
                now = self.clock()
                for held in [h for h in self._grants if not h.usable(now)]:
                    self._retire(held)
                for held in self._grants:
                    if held.free(batch):
                        held.calls += 1
                        held.batch += int(batch)
                        held.in_flight += 1
                        return held
                # Our slots as the store counts them: those of grants not closed there yet too.
                slots = sum(held.share.slots for held in (*self._grants, *self._retiring))
                if slots >= self.concurrent:  # every slot of ours busy: one comes free soon
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), IN_FLIGHT_POLL)
                    continue
                # Fewer slots than the limit: ask for more, as many as calls wait (an idle
                # instance's grant, held until it expires if the instance is killed, must not
                # keep the others waiting).
                wait = await self._ask(max(1, min(self.concurrent - slots, self._waiting)))
                if wait is None:
                    continue
            await asyncio.sleep(min(wait, 5.0))

    async def _ask(self, slots: int) -> float | None:
        """Ask the store for a grant: None once one is held, else how long to wait."""
        try:
            answer = await asyncio.get_running_loop().run_in_executor(
                self._thread,
                self.grants.request,
                self.realm_id,
                self.chunk,
                self.batch_chunk,
                slots,
            )
        except Exception as exc:  # the store is down: no call may go without a share
            log.warning("qbo.limits_unavailable", error=type(exc).__name__)
            return 1.0
        if isinstance(answer, float):
            return answer
        held = _Held(answer, self.clock() + GRANT_SECONDS)
        self._grants.append(held)
        asyncio.get_running_loop().call_later(GRANT_SECONDS, self._retire, held)
        return None

    def _retire(self, held: _Held) -> None:
        """No new call under ``held``; closed once its calls are answered."""
        if held.retired:
            return
        held.retired = True
        self._grants.remove(held)
        self._retiring.append(held)
        if held.in_flight == 0:
            self._close(held)

    def _close(self, held: _Held) -> None:
        if held.closed:
            return
        held.closed = True
        task = asyncio.get_running_loop().create_task(self._write_close(held))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _write_close(self, held: _Held) -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(
                self._thread, self.grants.close, held.share, held.calls, held.batch
            )
        except Exception as exc:  # it expires by itself in the store
            log.warning("qbo.limits_close_failed", error=type(exc).__name__)
        async with self._changed:  # its slots are free in the store now: ask for them
            self._retiring.remove(held)
            self._changed.notify_all()

    async def aclose(self) -> None:
        for held in list(self._grants):
            self._retire(held)
        await asyncio.gather(*self._closing, return_exceptions=True)
        self._thread.shutdown(wait=False)


class Slots(Protocol):
    """What the client asks of a company's limiter: a slot for one call."""

    in_flight: int

    def slot(self, *, batch: bool = False) -> AbstractAsyncContextManager[None]: ...


class Limiters:
    """One limiter per company, created on first use: in this process only, or, with ``grants``
    (several instances on one PostgreSQL store), shared with the others (storage/limits.py)."""

    def __init__(self, limits: RateLimits | None = None, grants: GrantSource | None = None) -> None:
        self.limits = limits or RateLimits()
        self.grants = grants
        self._by_realm: dict[str, Slots] = {}

    def for_realm(self, realm_id: str) -> Slots:
        limiter = self._by_realm.get(realm_id)
        if limiter is None:
            if self.grants is None:
                limiter = CompanyLimiter(self.limits)
            else:
                limiter = SharedCompanyLimiter(realm_id, self.grants, self.limits)
            self._by_realm[realm_id] = limiter
        return limiter

    async def aclose(self) -> None:
        """Close the open grants (shared limits), so their unused calls go back now."""
        for limiter in self._by_realm.values():
            if isinstance(limiter, SharedCompanyLimiter):
                await limiter.aclose()
