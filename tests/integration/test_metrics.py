"""`/metrics`: Prometheus text behind the API key, numbers that move as events flow, the same
names in the periodic `metrics` log line, and switched off by a setting."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import Gateway, running_gateway
from tests.harness.jobroutr import created
from tests.harness.processes import run_appliance, wait_until
from tests.harness.service import read_output


@pytest.fixture(scope="module")
def gateway(books: RunningEmulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    base = tmp_path_factory.mktemp("metrics")
    with running_gateway(books, base, APPLIANCE_METRICS_LOG_SECONDS="1") as running:
        yield running


def scrape(gateway: Gateway) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = gateway.http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    values = {}
    for family in text_string_to_metric_families(response.text):  # the reference parser
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def test_metrics_need_the_api_key(gateway: Gateway) -> None:
    anonymous = httpx.get(gateway.base + "/metrics")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")
    wrong = httpx.get(gateway.base + "/metrics", headers={"Authorization": "Bearer jra_nope"})
    assert wrong.status_code == 401


def test_the_numbers_move_as_events_flow(gateway: Gateway) -> None:
    before = scrape(gateway)
    assert before[("appliance_qbo_connected", ())] == 1
    assert before[("appliance_token_expires_in_seconds", (("token", "access"),))] > 0
    assert before[("appliance_token_expires_in_seconds", (("token", "refresh"),))] > 86400
    accounts = ("appliance_import_last_records", (("kind", "accounts"), ("result", "imported")))
    assert before[accounts] > 0  # the chart of accounts was imported when connecting
    assert ("appliance_import_last_duration_seconds", (("kind", "accounts"),)) in before

    sent = [gateway.send(created(f"cus_metrics_{n}", f"Metrics Customer {n}")) for n in range(3)]
    assert [e["status"] for e in gateway.settle(*sent)] == ["done"] * 3
    after = scrape(gateway)

    def moved(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after[key] - before.get(key, 0.0)

    assert moved("appliance_pushes_total", outcome="done") == 3
    assert moved("appliance_events", status="done") == 3
    # Three creates, and at least one name lookup (names queued together share one).
    assert moved("appliance_qbo_calls_total", status="200") >= 4
    assert moved("appliance_qbo_throttled_total") == 0
    assert after[("appliance_queue_jobs", (("state", "queued"),))] == 0
    assert after[("appliance_queue_oldest_age_seconds", ())] == 0
    assert ("appliance_info", (("version", "0.1.0"),)) in after


def test_the_log_line_carries_the_same_names(gateway: Gateway) -> None:
    def logged() -> list[dict]:  # type: ignore[type-arg]
        lines = (
            read_output(gateway.service.out).splitlines()
            + read_output(gateway.service.err).splitlines()
        )
        found = []
        for line in lines:
            if '"metrics"' in line:
                record = json.loads(line)
                if record.get("event") == "metrics":
                    found.append(record)
        return found

    wait_until(lambda: bool(logged()), timeout=20, what="a metrics log line")
    line = logged()[-1]
    scraped = {name for name, _ in scrape(gateway)}
    logged_names = {key.split("{")[0] for key in line if key.startswith("appliance_")}
    assert "appliance_queue_jobs" in logged_names
    assert "appliance_qbo_calls_total" in logged_names
    assert logged_names <= scraped


def test_metrics_can_be_switched_off(books: RunningEmulator, tmp_path: Path) -> None:
    with running_gateway(books, tmp_path, connect=False, APPLIANCE_METRICS_ENABLED="false") as gw:
        assert gw.http.get("/metrics").status_code == 404
        assert gw.http.get("/healthz").status_code == 200


def test_status_shows_the_readiness_checks(gateway: Gateway, store_kind: str) -> None:
    # A QuickBooks call has been made (connecting), so the clock has been compared.
    shown = run_appliance("status", "--json", env=gateway.env)
    assert shown.returncode == 0, shown.stderr
    checks = {c["name"]: c for c in json.loads(shown.stdout)["checks"]}
    assert checks["clock"]["state"] == "ok"  # the emulator runs on this machine's clock
    assert "QuickBooks' clock" in checks["clock"]["detail"]
    assert checks["disk"]["state"] in ("ok", "warn")
    assert checks["store"]["state"] == "ok"  # SQLite's quick check, run at start
    said = "quick check" if store_kind == "sqlite" else "PostgreSQL server"
    assert said in checks["store"]["detail"]
    assert checks["certificate"]["state"] == "unknown"  # http://127.0.0.1 in tests
    assert checks["quickbooks"]["state"] == "ok"
    printed = run_appliance("status", env=gateway.env).stdout
    assert "Readiness:" in printed
    assert "clock" in printed
