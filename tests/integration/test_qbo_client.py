"""The QBO client's policy table, against the emulator's faults and limits."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from appliance.config import Settings
from appliance.gateway.runtime import Runtime
from appliance.qbo.client import QboClient, RetryPolicy
from appliance.qbo.errors import ValidationError
from appliance.storage.store import Store
from tests.harness.emulator import RunningEmulator
from tests.harness.runtime import connect

FAST = RetryPolicy(max_attempts=6, server_initial=0.01, throttle_initial=0.05, max_wait=0.5)


def fault(emulator: RunningEmulator, **rule: object) -> None:
    httpx.post(emulator.url + "/_emulator/faults", json=rule).raise_for_status()


def with_client(settings: Settings, emulator: RunningEmulator, body, policy=FAST):  # type: ignore[no-untyped-def]
    async def main():  # type: ignore[no-untyped-def]
        store = Store.open(settings)
        runtime = Runtime(settings, store)
        client = QboClient(runtime.endpoints.api_base, runtime.tokens, policy=policy)
        try:
            await connect(runtime, emulator.realm)
            return await body(client)
        finally:
            await client.aclose()
            await runtime.aclose()
            store.close()

    return asyncio.run(main())


def customers_named(emulator: RunningEmulator, name: str) -> int:
    rows = emulator.service.companies[emulator.realm].rows("Customer")
    return sum(1 for row in rows if row["DisplayName"] == name)


def test_a_write_whose_answer_was_lost_is_retried_with_the_same_requestid_and_written_once(
    app_settings: Settings, emulator: RunningEmulator
) -> None:
    fault(emulator, kind="drop_after", count=1, path_contains="/customer", method="POST")

    async def body(client: QboClient) -> dict:
        return await client.write(
            emulator.realm, "Customer", {"DisplayName": "Once, Really"}, requestid="evt-1-create"
        )

    customer = with_client(app_settings, emulator, body)
    assert customer["DisplayName"] == "Once, Really"
    assert customers_named(emulator, "Once, Really") == 1
    stats = httpx.get(emulator.url + "/_emulator/stats").json()
    assert stats["replays"] == 1


@pytest.mark.parametrize("kind", ["500", "502", "503_html", "drop", "429"])
def test_transient_faults_are_retried_until_the_call_succeeds(
    app_settings: Settings, emulator: RunningEmulator, kind: str
) -> None:
    fault(emulator, kind=kind, count=2, path_contains="/query")

    async def body(client: QboClient) -> dict:
        return await client.query(emulator.realm, "SELECT COUNT(*) FROM Customer")

    assert with_client(app_settings, emulator, body)["totalCount"] > 0


def test_a_permanent_fault_surfaces_at_once_with_qbos_words(
    app_settings: Settings, emulator: RunningEmulator
) -> None:
    async def body(client: QboClient) -> None:
        with pytest.raises(ValidationError) as caught:
            await client.write(
                emulator.realm,
                "Customer",
                {"DisplayName": "Amy's Bird Sanctuary"},
                requestid="evt-dup",
            )
        error = caught.value
        assert error.qbo_code == "6240"
        assert error.status == 400
        assert error.intuit_tid
        assert "Duplicate Name" in str(error)
        assert client.calls == 1  # not retried

    with_client(app_settings, emulator, body)


def test_many_callers_stay_within_the_companys_limits(
    app_settings: Settings, emulator: RunningEmulator
) -> None:
    httpx.patch(emulator.url + "/_emulator/limits", json={"latency_ms": 30})

    async def body(client: QboClient) -> list[dict]:
        calls = [client.query(emulator.realm, "SELECT COUNT(*) FROM Item") for _ in range(60)]
        return await asyncio.gather(*calls)

    results = with_client(app_settings, emulator, body)
    assert len(results) == 60
    stats = httpx.get(emulator.url + "/_emulator/stats").json()
    assert stats["throttled"] == 0
    assert stats["peak_concurrency"] <= 10
