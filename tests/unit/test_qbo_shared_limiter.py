"""The shared limiter (several instances on one store) uses the store's grants: never more calls
than granted, never more at once than the grant's slots, unused calls handed back at close."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from appliance.qbo.limiter import Limiters, RateLimits, SharedCompanyLimiter


@dataclass(frozen=True)
class Share:
    id: int
    calls: int
    batch: int
    slots: int


class Budget:
    """A store that has ``calls`` calls in all, hands out at most ``slots`` at once."""

    def __init__(self, calls: int, slots: int) -> None:
        self.left = calls
        self.slots = slots
        self.held = 0
        self.asked = 0
        self.closed: list[tuple[int, int, int]] = []

    def request(self, realm_id: str, calls: int, batch: int, slots: int) -> Share | float:
        self.asked += 1
        given, free = min(calls, self.left), min(slots, self.slots - self.held)
        if given == 0 or free == 0:
            return 0.01
        self.left -= given
        self.held += free
        return Share(self.asked, given, min(batch, given), free)

    def close(self, grant: Any, calls: int, batch: int) -> None:
        self.left += grant.calls - calls  # what was not used comes back
        self.held -= grant.slots
        self.closed.append((grant.id, calls, batch))


def test_calls_wait_for_grants_and_never_exceed_their_slots() -> None:
    budget = Budget(calls=12, slots=2)
    limiter = SharedCompanyLimiter("realm", budget, RateLimits(concurrent=10, per_minute=100))
    peak = 0
    made = 0

    async def call() -> None:
        nonlocal peak, made
        async with limiter.slot():
            peak = max(peak, limiter.in_flight)
            made += 1
            await asyncio.sleep(0.001)

    async def run() -> bool:
        done = await asyncio.wait_for(asyncio.gather(*(call() for _ in range(12))), 10)
        await limiter.aclose()
        return len(done) == 12

    assert asyncio.run(run())
    assert made == 12
    assert peak <= 2  # the store's slots, not the 10 of the settings
    assert budget.asked >= 3  # 12 calls in grants of 5 (a twentieth of 100)
    assert sum(calls for _, calls, _ in budget.closed) == 12  # every grant closed, calls counted


def test_a_batch_call_needs_a_grant_with_batch_calls() -> None:
    budget = Budget(calls=50, slots=5)
    limiter = SharedCompanyLimiter("realm", budget, RateLimits(batch_per_minute=20))

    async def run() -> None:
        for _ in range(3):
            async with limiter.slot(batch=True):
                pass
        await limiter.aclose()

    asyncio.run(run())
    assert sum(batch for _, _, batch in budget.closed) == 3


def test_limiters_without_grants_stay_in_process() -> None:
    assert not isinstance(Limiters().for_realm("r"), SharedCompanyLimiter)
    assert isinstance(Limiters(grants=Budget(1, 1)).for_realm("r"), SharedCompanyLimiter)
