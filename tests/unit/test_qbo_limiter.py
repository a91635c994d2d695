"""The per-company limiter keeps callers within Intuit's limits (FACTS §8, §5, §10 item 7).

10 requests at once, 500 a minute and 120 batch calls a minute per company, waiting instead of
failing. The minute windows are 60 s long, so time is faked at the edge: a fake monotonic clock
is given to the limiter and ``asyncio.sleep`` as the limiter sees it advances that clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from appliance.qbo.limiter import (
    IN_FLIGHT_POLL,
    WINDOW,
    CompanyLimiter,
    Limiters,
    RateLimits,
    _Window,
)

_real_sleep = asyncio.sleep
T = TypeVar("T")


class FakeTime:
    """A monotonic clock that only moves when the limiter sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await _real_sleep(0)


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr("appliance.qbo.limiter.asyncio.sleep", fake.sleep)
    return fake


def run(factory: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await factory()

    return asyncio.run(main())


async def take(limiter: CompanyLimiter, fake: FakeTime, *, batch: bool = False) -> float:
    """Take a slot, leave it at once; the fake time at which the slot was granted."""
    async with limiter.slot(batch=batch):
        return fake.now


# --------------------------------------------------------------------------------------------------
# Defaults and the registry


def test_default_limits_are_intuits_per_company_limits() -> None:
    assert RateLimits() == RateLimits(concurrent=10, per_minute=500, batch_per_minute=120)
    assert WINDOW == 60.0


def test_for_realm_returns_the_same_limiter_on_repeat() -> None:
    limiters = Limiters()

    assert limiters.for_realm("9130") is limiters.for_realm("9130")


def test_for_realm_returns_one_limiter_per_realm() -> None:
    limiters = Limiters()

    first, second = limiters.for_realm("9130"), limiters.for_realm("4620")

    assert first is not second
    assert limiters.for_realm("9130") is first
    assert limiters.for_realm("4620") is second


def test_for_realm_limiters_use_the_given_limits_or_the_defaults() -> None:
    small = RateLimits(concurrent=2, per_minute=5, batch_per_minute=1)

    assert Limiters(small).for_realm("1").limits == small
    assert Limiters().for_realm("1").limits == RateLimits()


# --------------------------------------------------------------------------------------------------
# Concurrency


def test_never_more_than_concurrent_holders_at_once() -> None:
    limiter = CompanyLimiter(RateLimits(concurrent=10, per_minute=1000, batch_per_minute=1000))
    holding = 0
    most = 0
    most_in_flight = 0

    async def hold() -> None:
        nonlocal holding, most, most_in_flight
        async with limiter.slot():
            holding += 1
            most = max(most, holding)
            most_in_flight = max(most_in_flight, limiter.in_flight)
            await asyncio.sleep(0.01)
            holding -= 1

    async def main() -> None:
        await asyncio.gather(*(hold() for _ in range(30)))

    asyncio.run(main())

    assert most == 10
    assert most_in_flight == 10
    assert limiter.in_flight == 0


def test_batch_and_ordinary_calls_share_the_concurrency_limit() -> None:
    limiter = CompanyLimiter(RateLimits(concurrent=3, per_minute=1000, batch_per_minute=1000))
    holding = 0
    most = 0

    async def hold(batch: bool) -> None:
        nonlocal holding, most
        async with limiter.slot(batch=batch):
            holding += 1
            most = max(most, holding)
            await asyncio.sleep(0.01)
            holding -= 1

    async def main() -> None:
        await asyncio.gather(*(hold(i % 2 == 0) for i in range(12)))

    asyncio.run(main())

    assert most == 3


def test_a_slot_is_given_back_when_the_caller_fails() -> None:
    limiter = CompanyLimiter(RateLimits(concurrent=1, per_minute=1000, batch_per_minute=1000))

    async def main() -> None:
        with pytest.raises(RuntimeError):
            async with limiter.slot():
                raise RuntimeError("boom")
        assert limiter.in_flight == 0
        async with asyncio.timeout(1):
            async with limiter.slot():
                assert limiter.in_flight == 1

    asyncio.run(main())


# --------------------------------------------------------------------------------------------------
# The sliding minute window


def test_window_has_no_wait_until_full() -> None:
    fake = FakeTime()
    window = _Window(3, fake.clock)

    for _ in range(2):
        window.take()
        window.finish()

    assert window.wait_time() == 0.0


def test_window_when_full_waits_until_the_oldest_call_is_60_seconds_old() -> None:
    fake = FakeTime()
    window = _Window(3, fake.clock)
    start = fake.now
    for offset in (0.0, 10.0, 20.0):
        fake.now = start + offset
        window.take()
        window.finish()

    fake.now = start + 30.0
    assert window.wait_time() == pytest.approx(30.0)
    fake.now = start + 59.5
    assert window.wait_time() == pytest.approx(0.5)
    fake.now = start + 60.0
    assert window.wait_time() == 0.0


def test_window_forgets_calls_older_than_a_minute() -> None:
    fake = FakeTime()
    window = _Window(2, fake.clock)
    for _ in range(2):
        window.take()
        window.finish()

    fake.now += 61.0

    assert window.wait_time() == 0.0
    assert len(window.calls) == 0


def test_per_minute_caller_beyond_the_limit_waits_a_full_minute(fake_time: FakeTime) -> None:
    limiter = CompanyLimiter(
        RateLimits(concurrent=10, per_minute=3, batch_per_minute=100), clock=fake_time.clock
    )
    start = fake_time.now

    async def main() -> list[float]:
        return [await take(limiter, fake_time) for _ in range(4)]

    granted = run(main)

    assert granted == [start, start, start, start + 60.0]
    assert fake_time.sleeps == [pytest.approx(60.0)]


def test_per_minute_waiter_is_let_in_when_the_oldest_call_turns_60_seconds_old(
    fake_time: FakeTime,
) -> None:
    limiter = CompanyLimiter(
        RateLimits(concurrent=10, per_minute=3, batch_per_minute=100), clock=fake_time.clock
    )
    start = fake_time.now

    async def main() -> list[float]:
        granted = []
        for offset in (0.0, 10.0, 20.0):
            fake_time.now = start + offset
            granted.append(await take(limiter, fake_time))
        fake_time.now = start + 30.0
        granted.append(await take(limiter, fake_time))  # waits for the call made at 0
        granted.append(await take(limiter, fake_time))  # then for the one made at 10
        return granted

    granted = run(main)

    assert granted == [
        start,
        start + 10.0,
        start + 20.0,
        pytest.approx(start + 60.0),
        pytest.approx(start + 70.0),
    ]
    assert fake_time.sleeps == [pytest.approx(30.0), pytest.approx(10.0)]


def test_waiting_callers_are_let_in_one_per_expired_call(fake_time: FakeTime) -> None:
    limiter = CompanyLimiter(
        RateLimits(concurrent=10, per_minute=2, batch_per_minute=100), clock=fake_time.clock
    )
    start = fake_time.now

    async def main() -> list[float]:
        return list(await asyncio.gather(*(take(limiter, fake_time) for _ in range(6))))

    granted = sorted(run(main))

    assert granted == [
        start,
        start,
        pytest.approx(start + 60.0),
        pytest.approx(start + 60.0),
        pytest.approx(start + 120.0),
        pytest.approx(start + 120.0),
    ]


def test_a_call_counts_from_its_start_until_a_minute_after_its_answer() -> None:
    """QuickBooks counts a call when it arrives, between its start and its answer: a window
    counting from the start could let the next minute's first call arrive while Intuit still
    counts the slow one (a 429)."""
    fake = FakeTime()
    window = _Window(2, fake.clock)
    start = fake.now
    window.take()
    window.take()
    assert window.wait_time() == IN_FLIGHT_POLL  # both in flight: full until one is answered
    fake.now = start + 5.0  # the first answer comes after 5 s
    window.finish()
    fake.now = start + 60.0
    assert window.wait_time() == pytest.approx(5.0)  # a minute after the answer, not the start
    fake.now = start + 65.0
    assert window.wait_time() == 0.0  # the first aged out; the second, in flight, still counts
    window.take()
    assert window.wait_time() == IN_FLIGHT_POLL


def test_a_slow_call_holds_its_place_in_the_minute_until_a_minute_after_its_answer(
    fake_time: FakeTime,
) -> None:
    limiter = CompanyLimiter(
        RateLimits(concurrent=10, per_minute=2, batch_per_minute=100), clock=fake_time.clock
    )
    start = fake_time.now

    async def main() -> list[float]:
        granted = [await take(limiter, fake_time)]
        async with limiter.slot():
            fake_time.now += 30.0  # a call answered 30 s after it started
        granted.append(await take(limiter, fake_time))  # waits for the first call's minute
        granted.append(await take(limiter, fake_time))  # and for the slow one's answer + 60 s
        return granted

    assert run(main) == [start, pytest.approx(start + 60.0), pytest.approx(start + 90.0)]


# --------------------------------------------------------------------------------------------------
# Batch calls


def test_batch_calls_beyond_the_batch_limit_wait_a_minute(fake_time: FakeTime) -> None:
    limiter = CompanyLimiter(
        RateLimits(concurrent=10, per_minute=100, batch_per_minute=2), clock=fake_time.clock
    )
    start = fake_time.now

    async def main() -> list[float]:
        return [await take(limiter, fake_time, batch=True) for _ in range(3)]

    assert run(main) == [start, start, pytest.approx(start + 60.0)]
    assert fake_time.sleeps == [pytest.approx(60.0)]


def test_ordinary_calls_do_not_wait_for_a_full_batch_window(fake_time: FakeTime) -> None:
    limiter = CompanyLimiter(
        RateLimits(concurrent=10, per_minute=100, batch_per_minute=2), clock=fake_time.clock
    )
    start = fake_time.now

    async def main() -> list[float]:
        granted = [await take(limiter, fake_time, batch=True) for _ in range(2)]
        granted += [await take(limiter, fake_time) for _ in range(20)]
        return granted

    assert run(main) == [start] * 22
    assert fake_time.sleeps == []


def test_ordinary_calls_do_not_use_up_the_batch_window(fake_time: FakeTime) -> None:
    limiter = CompanyLimiter(
        RateLimits(concurrent=10, per_minute=100, batch_per_minute=2), clock=fake_time.clock
    )
    start = fake_time.now

    async def main() -> list[float]:
        granted = [await take(limiter, fake_time) for _ in range(20)]
        granted += [await take(limiter, fake_time, batch=True) for _ in range(2)]
        return granted

    assert run(main) == [start] * 22
    assert fake_time.sleeps == []


def test_a_batch_call_also_counts_toward_the_per_minute_limit(fake_time: FakeTime) -> None:
    limiter = CompanyLimiter(
        RateLimits(concurrent=10, per_minute=2, batch_per_minute=100), clock=fake_time.clock
    )
    start = fake_time.now

    async def main() -> list[float]:
        return [
            await take(limiter, fake_time, batch=True),
            await take(limiter, fake_time, batch=True),
            await take(limiter, fake_time),
        ]

    assert run(main) == [start, start, pytest.approx(start + 60.0)]


def test_an_ordinary_call_is_not_held_up_behind_a_batch_call_waiting_for_the_batch_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeTime()
    released = asyncio.Event()
    limiter = CompanyLimiter(
        RateLimits(concurrent=10, per_minute=100, batch_per_minute=1), clock=fake.clock
    )

    async def parked_sleep(seconds: float) -> None:
        fake.sleeps.append(seconds)
        await released.wait()
        fake.now += seconds

    monkeypatch.setattr("appliance.qbo.limiter.asyncio.sleep", parked_sleep)
    ordinary_entered = False

    async def ordinary() -> None:
        nonlocal ordinary_entered
        async with limiter.slot():
            ordinary_entered = True

    async def main() -> None:
        await take(limiter, fake, batch=True)
        waiting_batch = asyncio.create_task(take(limiter, fake, batch=True))
        await _real_sleep(0)
        plain = asyncio.create_task(ordinary())
        try:
            for _ in range(20):
                await _real_sleep(0)
            assert fake.sleeps == [pytest.approx(60.0)]  # the batch caller waits for its window
            assert ordinary_entered
        finally:
            released.set()
            await asyncio.gather(waiting_batch, plain)

    asyncio.run(main())
