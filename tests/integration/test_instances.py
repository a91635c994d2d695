"""Several instances, one company: two `appliance serve` on one PostgreSQL database and one
emulator company keep Intuit's limits together, share the data key, and own their imports."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from appliance.emulator.app import EmulatorConfig
from appliance.emulator.limits import Limits
from tests.harness.emulator import RunningEmulator
from tests.harness.instances import Pair, two_instances
from tests.harness.postgres import PostgresServer, Unavailable
from tests.harness.processes import wait_until

PER_MINUTE, AT_ONCE = 24, 3


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    try:
        running = PostgresServer()
        running.start()
    except Unavailable as exc:
        pytest.skip(f"no PostgreSQL server for two instances: {exc}")
    try:
        yield running
    finally:
        running.remove()


def customer(n: int) -> dict[str, object]:
    return {
        "type": "customer.created",
        "timestamp": datetime.now(UTC).isoformat(),
        "data": {"id": f"cus_{uuid.uuid4().hex[:12]}", "company_name": f"Shared {n}"},
    }


def test_two_instances_keep_the_companys_limits_together(
    tmp_path: Path, server: PostgresServer
) -> None:
    limits = Limits(requests_per_minute=PER_MINUTE, concurrent=AT_ONCE)
    with (
        RunningEmulator(EmulatorConfig(limits=limits)) as books,
        two_instances(
            books,
            tmp_path,
            server,
            APPLIANCE_QBO_REQUESTS_PER_MINUTE=str(PER_MINUTE),
            APPLIANCE_QBO_CONCURRENT=str(AT_ONCE),
            APPLIANCE_PUSH_WORKERS="6",
        ) as pair,
    ):
        window = books.service.governor._window[books.realm]
        for n in range(20):  # each customer is a query and a write: far more than the minute's
            pair.a.send(customer(n))
            pair.b.send(customer(100 + n))
        wait_until(lambda: len(window) >= PER_MINUTE, timeout=45, what="the minute's calls made")
        time.sleep(3)  # any instance that went over would have been answered 429 by now
        stats = books.service.governor.stats
        assert stats.throttled == 0, stats.to_json()
        assert stats.peak_concurrency <= AT_ONCE
        assert _calls_by(pair, "gateway-a") > 0
        assert _calls_by(pair, "gateway-b") > 0


def _calls_by(pair: Pair, instance: str) -> int:
    """QuickBooks calls one instance made (its /metrics, which names it)."""
    gateway = pair.a if instance == "gateway-a" else pair.b
    text = gateway.http.get("/metrics").text
    assert f'instance="{instance}"' in text, text[:500]
    calls = [line for line in text.splitlines() if line.startswith("appliance_qbo_calls_total{")]
    return sum(int(float(line.split()[-1])) for line in calls)
