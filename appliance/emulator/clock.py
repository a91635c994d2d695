"""The emulator's clock: real time plus an offset that tests move forward to expire tokens.

Rate limits use the monotonic clock instead, so driving this clock never unthrottles a client.
QBO writes timestamps in the company's local time with its UTC offset (the sandbox companies
are in California), so responses do too.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone, tzinfo

try:
    from zoneinfo import ZoneInfo

    COMPANY_TZ: tzinfo = ZoneInfo("America/Los_Angeles")
except Exception:  # no tz database on this machine: the recordings' summer offset
    COMPANY_TZ = timezone(timedelta(hours=-7))


class Clock:
    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def time(self) -> float:
        return time.time() + self.offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def stamp(self, seconds_ago: float = 0.0) -> str:
        """An entity timestamp: company-local, whole seconds (``2026-05-05T02:05:12-07:00``)."""
        return company_time(self.time() - seconds_ago)

    def envelope_time(self) -> str:
        """The ``time`` of a response body: company-local with milliseconds."""
        return company_time(self.time(), millis=True)

    def today(self) -> str:
        return datetime.fromtimestamp(self.time(), COMPANY_TZ).date().isoformat()


def company_time(epoch: float, *, millis: bool = False) -> str:
    moment = datetime.fromtimestamp(epoch, COMPANY_TZ)
    return moment.isoformat(timespec="milliseconds" if millis else "seconds")
