"""The recent-activity counts behind "pushes per minute" and "QBO calls in the last hour"."""

from __future__ import annotations

from appliance.core.activity import (
    PUSH_DONE,
    QBO_CALLS,
    QBO_THROTTLED,
    Activity,
    summary,
)


class Clock:
    def __init__(self, now: float = 6000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_counts_fall_out_of_the_hour() -> None:
    clock = Clock()
    activity = Activity(clock)
    activity.add(QBO_CALLS, 5)
    clock.now += 30 * 60
    activity.add(QBO_CALLS, 2)
    activity.add(QBO_THROTTLED)
    assert activity.info().qbo_calls == 7
    assert activity.info().qbo_throttled == 1
    clock.now += 31 * 60  # the first five are now more than an hour old
    assert activity.info().qbo_calls == 2
    clock.now += 60 * 60
    info = activity.info()
    assert (info.qbo_calls, info.qbo_throttled) == (0, 0)
    assert activity.totals[QBO_CALLS] == 7  # totals never forget


def test_pushes_per_minute_is_the_rate_of_the_last_five_minutes() -> None:
    clock = Clock(60 * 1000)  # on a minute boundary
    activity = Activity(clock)
    clock.now += 20 * 60  # running for a while
    for _ in range(10):  # ten a minute for ten minutes
        for _ in range(10):
            activity.add(PUSH_DONE)
        clock.now += 60
    info = activity.info()
    assert info.pushes_per_minute == 10.0
    assert info.pushed == 100
    clock.now += 30 * 60  # then nothing
    assert activity.info().pushes_per_minute == 0.0


def test_just_after_a_start_the_rate_covers_only_the_time_running() -> None:
    clock = Clock(60 * 1000 + 30)
    activity = Activity(clock)
    clock.now += 30
    for _ in range(6):
        activity.add(PUSH_DONE)
    info = activity.info()
    assert info.window_seconds == 30
    assert info.pushes_per_minute == 12.0  # 6 in 30 s, not 6 in five minutes
    assert summary(info).startswith("Since start (30 s): 6 pushed (12/min lately)")
    clock.now += 2 * 3600
    assert summary(activity.info()).startswith("Last hour: 0 pushed")
