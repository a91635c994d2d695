"""What the service has been doing lately: counts per minute for the last hour, in memory.

The status screen's "pushes per minute" and "QBO calls and throttles in the last hour" come from
here. The counts belong to this service process: after a restart they start again from zero, and
``ActivityInfo.window_seconds`` says how much of the hour they cover. Cheap enough to call on
every QBO request (a dict increment under a lock).
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable

from appliance.core.admin import ActivityInfo

HOUR = 60  # minutes
RATE_WINDOW = 5  # pushes per minute are averaged over the last five minutes

#: The names counted, and what each means.
QBO_CALLS = "qbo.calls"  # requests sent to QuickBooks (each retry counts)
QBO_THROTTLED = "qbo.throttled"  # of those, answered 429
QBO_FAILED = "qbo.failed"  # answered with another error, or no answer at all
QBO_STATUS = "qbo.status."  # + the HTTP status of the answer, or "none" when none came
PUSH_DONE = "push.done"  # events written to QuickBooks (or found already there)
PUSH_MISMATCH = "push.mismatch"  # written, but QuickBooks' totals differ from the bill
PUSH_REVIEW = "push.review"  # events parked for the operator's decision, nothing written
PUSH_FAILED = "push.failed"  # events that failed for good and need the operator
PUSH_RETRIED = "push.retried"  # attempts that will be tried again (transient trouble)


class Activity:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._started = clock()
        self._lock = threading.Lock()
        self._minutes: deque[tuple[int, Counter[str]]] = deque()
        self.totals: Counter[str] = Counter()

    def add(self, name: str, count: int = 1) -> None:
        minute = int(self._clock() // 60)
        with self._lock:
            if not self._minutes or self._minutes[-1][0] != minute:
                self._minutes.append((minute, Counter()))
                while self._minutes and self._minutes[0][0] <= minute - HOUR:
                    self._minutes.popleft()
            self._minutes[-1][1][name] += count
            self.totals[name] += count

    def last(self, name: str, minutes: int) -> int:
        """How many in the current minute and the ``minutes - 1`` before it."""
        since = int(self._clock() // 60) - minutes
        with self._lock:
            return sum(counts[name] for minute, counts in self._minutes if minute > since)

    def span(self, minutes: int) -> float:
        """The seconds that ``last(name, minutes)`` covers: the minutes before the current one,
        what has gone of the current one, and never more than this process has been running."""
        now = self._clock()
        return max(min((minutes - 1) * 60 + now % 60, now - self._started), 1.0)

    def info(self) -> ActivityInfo:
        return ActivityInfo(
            window_seconds=round(self.span(HOUR)),
            pushes_per_minute=round(
                self.last(PUSH_DONE, RATE_WINDOW) * 60 / self.span(RATE_WINDOW), 1
            ),
            pushed=self.last(PUSH_DONE, HOUR),
            push_failed=self.last(PUSH_FAILED, HOUR),
            push_retried=self.last(PUSH_RETRIED, HOUR),
            qbo_calls=self.last(QBO_CALLS, HOUR),
            qbo_throttled=self.last(QBO_THROTTLED, HOUR),
            qbo_failed=self.last(QBO_FAILED, HOUR),
        )


def summary(info: ActivityInfo) -> str:
    """One line for the console and `appliance status`."""
    window = (
        "Last hour"
        if info.window_seconds >= HOUR * 60 - 60
        else f"Since start ({max(info.window_seconds // 60, 1)} min)"
        if info.window_seconds >= 60
        else f"Since start ({info.window_seconds} s)"
    )
    retried = f", {info.push_retried} retried" if info.push_retried else ""
    return (
        f"{window}: {info.pushed} pushed ({info.pushes_per_minute:g}/min lately), "
        f"{info.push_failed} failed{retried}; {info.qbo_calls} QuickBooks calls, "
        f"{info.qbo_throttled} throttled, {info.qbo_failed} "
        + ("error." if info.qbo_failed == 1 else "errors.")
    )
