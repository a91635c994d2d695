"""Production readiness, as `appliance status` and the console show it: the clock, the disk, the
store's file, the public URL's certificate and the QuickBooks authorization, each ok, warn or fail
with a sentence.

The clock is compared with QuickBooks' own (the Date header of its last answer): OAuth and the
signed webhooks both depend on it. The certificate is the one JobRoutr and Intuit's redirect meet
at the public URL; it is looked at over the network at most every ten minutes.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from appliance.core.admin import ConnectionInfo, ReadinessCheck
from appliance.core.tokens import state_words
from appliance.storage.health import RESTORE_HINT, StoreHealth, disk_sentence

CLOCK_WARN_SECONDS = 30.0  # Intuit's and JobRoutr's tolerances are minutes; say so well before
CLOCK_FAIL_SECONDS = 240.0
DISK_WARN_BYTES = 1 << 30
DISK_FAIL_BYTES = 100 << 20
CERT_WARN_DAYS = 21
TOKEN_WARN_DAYS = 14
CERT_CACHE_SECONDS = 600.0


def clock_check(skew: float | None, measured: datetime | None) -> ReadinessCheck:
    if skew is None or measured is None:
        return ReadinessCheck(
            name="clock",
            state="unknown",
            detail="Not compared yet: it is compared with QuickBooks' clock on each call.",
        )
    ahead = "ahead of" if skew > 0 else "behind"
    size = abs(skew)
    detail = f"{size:.0f} s {ahead} QuickBooks' clock."
    if size >= CLOCK_FAIL_SECONDS:
        return ReadinessCheck(
            name="clock",
            state="fail",
            detail=detail,
            hint="Turn on time synchronisation (timedatectl set-ntp true) and check it works.",
        )
    if size >= CLOCK_WARN_SECONDS:
        return ReadinessCheck(
            name="clock",
            state="warn",
            detail=detail,
            hint="Check time synchronisation (timedatectl status).",
        )
    return ReadinessCheck(name="clock", state="ok", detail=detail)


def disk_check(path: Path) -> ReadinessCheck:
    try:
        usage = shutil.disk_usage(path)
    except OSError as exc:
        return ReadinessCheck(name="disk", state="fail", detail=f"{path}: {exc.strerror}.")
    free = usage.free
    detail = f"{free / (1 << 30):.1f} GiB free of {usage.total / (1 << 30):.1f} GiB at {path}."
    if free < DISK_FAIL_BYTES:
        state = "fail"
    elif free < DISK_WARN_BYTES or free < usage.total * 0.05:
        state = "warn"
    else:
        return ReadinessCheck(name="disk", state="ok", detail=detail)
    return ReadinessCheck(
        name="disk",
        state=state,
        detail=detail,
        hint="Free some space: the store stops taking events when the disk is full.",
    )


def store_check(health: StoreHealth, sqlite: bool) -> ReadinessCheck:
    """The store's file (SQLite's quick check) and whether its disk takes writes; on a
    PostgreSQL server (which checks its own pages), whether it answers."""
    if (damage := health.damage_sentence()) is not None:
        return ReadinessCheck(name="store", state="fail", detail=damage, hint=RESTORE_HINT)
    if (kind := health.writes_failing()) == "unreachable":
        return ReadinessCheck(
            name="store",
            state="fail",
            detail=health.problem() or "The database server does not answer.",
            hint="Start the database server again; the service goes on by itself.",
        )
    if kind is not None:
        return ReadinessCheck(
            name="store",
            state="fail",
            detail="It takes no writes: " + disk_sentence(kind, health.directory),
            hint="Free space there; the service takes events again by itself.",
        )
    if not sqlite:
        return ReadinessCheck(
            name="store",
            state="ok",
            detail="On a PostgreSQL server, which answers and checks its own pages.",
        )
    if health.checked_at is None:
        return ReadinessCheck(name="store", state="unknown", detail="Not checked yet.")
    return ReadinessCheck(
        name="store",
        state="ok",
        detail=f"Intact at SQLite's quick check ({health.checked_at:%H:%M} UTC).",
    )


def token_check(connection: ConnectionInfo | None, now: datetime) -> ReadinessCheck:
    if connection is None:
        return ReadinessCheck(
            name="quickbooks",
            state="warn",
            detail="Not connected.",
            hint="Run `appliance connect`.",
        )
    if connection.state != "connected":
        return ReadinessCheck(
            name="quickbooks",
            state="fail",
            detail=f"The connection to QuickBooks: {state_words(connection.state)}.",
            hint="Run `appliance connect` to reconnect the same company.",
        )
    refresh = connection.refresh_token_expires_at
    if refresh is None:
        return ReadinessCheck(name="quickbooks", state="unknown", detail="No token expiry known.")
    days = (refresh - now).total_seconds() / 86400
    detail = f"The refresh token is good for {days:.0f} more days."
    if days <= 0:
        return ReadinessCheck(
            name="quickbooks",
            state="fail",
            detail="The refresh token has expired.",
            hint="Run `appliance connect`.",
        )
    if days < TOKEN_WARN_DAYS:
        return ReadinessCheck(
            name="quickbooks",
            state="warn",
            detail=detail,
            hint="Keep the service running (it renews the token as it works), or reconnect.",
        )
    return ReadinessCheck(name="quickbooks", state="ok", detail=detail)


def certificate_check(public_url: str, now: datetime, timeout: float = 5.0) -> ReadinessCheck:
    parts = urlsplit(public_url)
    if parts.scheme != "https" or not parts.hostname:
        return ReadinessCheck(
            name="certificate",
            state="unknown",
            detail=f"The public URL ({public_url}) is not https: no certificate to check.",
        )
    host, port = parts.hostname, parts.port or 443
    context = ssl.create_default_context()
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            cert = tls.getpeercert()
    except ssl.SSLCertVerificationError as exc:
        return ReadinessCheck(
            name="certificate",
            state="fail",
            detail=f"{host}:{port} has a certificate that is not trusted ({exc.verify_message}).",
            hint="Intuit and JobRoutr will refuse it: install one from a public CA.",
        )
    except (OSError, ssl.SSLError) as exc:
        return ReadinessCheck(
            name="certificate",
            state="fail",
            detail=f"{host}:{port} did not complete a TLS handshake ({exc}).",
            hint="Check the reverse proxy or TLS terminator in front of the appliance.",
        )
    if not cert or "notAfter" not in cert:
        return ReadinessCheck(
            name="certificate", state="fail", detail=f"{host}:{port} sent no certificate."
        )
    expires = datetime.fromtimestamp(ssl.cert_time_to_seconds(str(cert["notAfter"])), UTC)
    days = (expires - now).total_seconds() / 86400
    detail = f"{host}'s certificate is valid until {expires:%Y-%m-%d} ({days:.0f} days)."
    if days < CERT_WARN_DAYS:
        return ReadinessCheck(
            name="certificate",
            state="warn",
            detail=detail,
            hint="Renew it (is automatic renewal running?).",
        )
    return ReadinessCheck(name="certificate", state="ok", detail=detail)


class CertificateCache:
    """The certificate check is a network round trip: keep its answer for a while."""

    def __init__(
        self, check: Callable[[str, datetime], ReadinessCheck] = certificate_check
    ) -> None:
        self._check = check
        self._lock = threading.Lock()
        self._last: tuple[float, str, ReadinessCheck] | None = None

    def get(self, public_url: str, now: datetime) -> ReadinessCheck:
        with self._lock:
            if (
                self._last is not None
                and self._last[1] == public_url
                and time.monotonic() - self._last[0] < CERT_CACHE_SECONDS
            ):
                return self._last[2]
        result = self._check(public_url, now)
        with self._lock:
            self._last = (time.monotonic(), public_url, result)
        return result
