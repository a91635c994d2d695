"""Several instances, one company: two `appliance serve` on one PostgreSQL database and one
emulator company keep Intuit's limits together, share the data key, and own their imports."""

from __future__ import annotations

import json
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
from tests.harness.postgres import PostgresServer, server_or_skip
from tests.harness.processes import run_appliance, wait_until
from tests.harness.service import read_output

PER_MINUTE, AT_ONCE = 24, 3


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    with server_or_skip("two instances") as running:
        yield running


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
        for gateway, name in ((pair.a, "gateway-a"), (pair.b, "gateway-b")):
            shown = run_appliance("status", "--json", env=gateway.env)
            assert shown.returncode == 0, shown.stderr
            status = json.loads(shown.stdout)
            assert status["instance"] == name  # which instance answered
            # The queue is the cluster's: the same jobs, held by either instance.
            assert set(status["queue"]["running_by_instance"]) <= {"gateway-a", "gateway-b"}
            text = run_appliance("status", env=gateway.env).stdout
            assert f"Instance:         {name}" in text


def _calls_by(pair: Pair, instance: str) -> int:
    """QuickBooks calls one instance made (its /metrics, which names it)."""
    gateway = pair.a if instance == "gateway-a" else pair.b
    text = gateway.http.get("/metrics").text
    assert f'instance="{instance}"' in text, text[:500]
    calls = [line for line in text.splitlines() if line.startswith("appliance_qbo_calls_total{")]
    return sum(int(float(line.split()[-1])) for line in calls)


def test_a_rotation_on_one_instance_is_picked_up_by_the_other(
    tmp_path: Path, server: PostgresServer
) -> None:
    """The same key file: after rotate-key on a, b still takes events and is ready, and the
    secrets b seals afterwards open on a."""
    with RunningEmulator() as books, two_instances(books, tmp_path, server) as pair:
        pair.b.send(customer(1))
        rotated = run_appliance("rotate-key", env=pair.a.env)
        assert rotated.returncode == 0, rotated.stderr
        assert pair.b.http.get("/readyz").status_code == 200
        pair.b.send(customer(2))
        assert pair.a.http.get("/readyz").status_code == 200


def _last_import(env: dict[str, str]) -> dict[str, object]:
    shown = run_appliance("import", "customers", "--last", "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    return dict(json.loads(shown.stdout))


def test_an_instance_starting_leaves_the_others_live_import_alone_and_takes_over_a_dead_ones(
    tmp_path: Path, server: PostgresServer
) -> None:
    with (
        RunningEmulator(EmulatorConfig(customers=3000)) as books,
        two_instances(
            books,
            tmp_path,
            server,
            APPLIANCE_PUSH_LEASE_SECONDS="3",
            APPLIANCE_QBO_TIMEOUT_SECONDS="5",  # a killed instance's share of the limits ends soon
        ) as pair,
    ):
        books.service.governor.limits.latency_ms = 3000  # every QuickBooks call takes 3 s
        started = run_appliance("import", "customers", env=pair.a.env)
        assert started.returncode == 0, started.stderr
        pair.restart(pair.b)  # b starts while a's import runs, its heartbeat fresh
        time.sleep(2)
        assert "import.resumed" not in read_output(pair.b.service.out)
        assert _last_import(pair.b.env)["state"] == "running"
        pair.a.service.kill()  # a is gone: its lease runs out, b takes the run over
        books.service.governor.limits.latency_ms = 0
        wait_until(
            lambda: _last_import(pair.b.env)["state"] != "running",
            timeout=60,
            what="b to take over and finish the import",
        )
        assert "import.resumed" in read_output(pair.b.service.out)
        finished = _last_import(pair.b.env)
        assert finished["state"] == "done", finished
        assert finished["done"] == finished["total"]
