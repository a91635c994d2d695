"""Intuit's limits and the faults a client must survive, as the emulator serves them."""

from __future__ import annotations

import concurrent.futures
import threading

import httpx
import pytest

from tests.harness.emulator import RunningEmulator

COUNT = "SELECT COUNT(*) FROM Customer"


def set_limits(emulator: RunningEmulator, **limits: object) -> None:
    response = httpx.patch(emulator.url + "/_emulator/limits", json=limits)
    assert response.status_code == 200, response.text


def add_fault(emulator: RunningEmulator, **rule: object) -> None:
    response = httpx.post(emulator.url + "/_emulator/faults", json=rule)
    assert response.status_code == 201, response.text


def test_more_than_ten_requests_at_once_are_throttled_in_intuits_xml(
    emulator: RunningEmulator,
) -> None:
    # Each admitted request is held 1.5 s, and all 16 leave together (a barrier, their clients
    # made): on a busy machine, threads started one by one, or the emulator (a thread of this
    # process, sharing the GIL with the 16) taking longer than a short hold to read them all,
    # let a first answer come back before the last request arrives, and only five are refused.
    set_limits(emulator, latency_ms=1500)
    token = emulator.token()
    ready = threading.Barrier(16)

    def one(_: int) -> httpx.Response:
        with emulator.api(token) as api:
            ready.wait(timeout=30)
            return api.get("/query", params={"query": COUNT})

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(pool.map(one, range(16)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 10
    assert statuses.count(429) == 6
    throttled = next(r for r in responses if r.status_code == 429)
    assert "ThrottleExceeded" in throttled.text
    assert '<Error code="3001">' in throttled.text
    stats = httpx.get(emulator.url + "/_emulator/stats").json()
    assert stats["peak_concurrency"] == 10


def test_the_per_minute_limit_answers_429_once_reached(emulator: RunningEmulator) -> None:
    set_limits(emulator, requests_per_minute=5, throttle_format="json")
    with emulator.api() as api:
        statuses = [api.get("/query", params={"query": COUNT}).status_code for _ in range(7)]
        throttled = api.get("/query", params={"query": COUNT})
    assert statuses == [200] * 5 + [429] * 2
    assert throttled.json()["Fault"]["Error"][0]["code"] == "3001"
    assert throttled.json()["Fault"]["type"] == "SERVICE"


def test_batch_calls_have_their_own_limit(emulator: RunningEmulator) -> None:
    set_limits(emulator, batch_per_minute=2)
    body = {"BatchItemRequest": [{"bId": "q", "Query": COUNT}]}
    with emulator.api() as api:
        statuses = [api.post("/batch", json=body).status_code for _ in range(3)]
        assert api.get("/query", params={"query": COUNT}).status_code == 200
    assert statuses == [200, 200, 429]


@pytest.mark.parametrize(
    ("kind", "status", "text"),
    [
        ("500", 500, "InternalServerError"),
        ("503_html", 503, "503 Service Temporarily Unavailable"),
        ("502", 502, ""),
        ("429", 429, "ThrottleExceeded"),
    ],
)
def test_an_injected_fault_answers_once_and_then_the_api_is_back(
    emulator: RunningEmulator, kind: str, status: int, text: str
) -> None:
    add_fault(emulator, kind=kind, count=1, path_contains="/query")
    with emulator.api() as api:
        faulty = api.get("/query", params={"query": COUNT})
        healthy = api.get("/query", params={"query": COUNT})
    assert faulty.status_code == status
    assert text in faulty.text
    assert "intuit_tid" in faulty.headers
    assert healthy.status_code == 200


def test_a_dropped_connection_is_a_transport_error_for_the_client(
    emulator: RunningEmulator,
) -> None:
    add_fault(emulator, kind="drop", count=1)
    with emulator.api() as api, pytest.raises(httpx.TransportError):
        api.get("/query", params={"query": COUNT})


def test_a_stall_holds_the_answer_for_the_given_time(emulator: RunningEmulator) -> None:
    add_fault(emulator, kind="stall", count=1, stall_seconds=2)
    with emulator.api() as api, pytest.raises(httpx.ReadTimeout):
        api.get("/query", params={"query": COUNT}, timeout=0.5)


def test_bad_control_requests_are_400_with_a_reason(emulator: RunningEmulator) -> None:
    bad_fault = httpx.post(emulator.url + "/_emulator/faults", json={"kind": "meteor"})
    assert bad_fault.status_code == 400
    assert "kind must be one of" in bad_fault.text
    bad_limit = httpx.patch(emulator.url + "/_emulator/limits", json={"concurrent": -1})
    assert bad_limit.status_code == 400


def test_an_edited_fault_makes_the_writes_synctoken_stale_as_another_users_save_would(
    emulator: RunningEmulator,
) -> None:
    # A create names no record yet: the fault changes nothing there.
    add_fault(emulator, kind="edited", count=1, path_contains="/customer", method="POST")
    with emulator.api() as api:
        made = api.post("/customer", json={"DisplayName": "Edited Elsewhere"}).json()["Customer"]
        change = {"Id": made["Id"], "SyncToken": made["SyncToken"], "sparse": True,
                  "Notes": "ours"}  # fmt: skip
        add_fault(emulator, kind="edited", count=1, path_contains="/customer", method="POST")
        stale = api.post("/customer", json=change)
        fresh = api.get(f"/customer/{made['Id']}").json()["Customer"]
        again = api.post("/customer", json={**change, "SyncToken": fresh["SyncToken"]})
    assert stale.status_code == 400
    assert stale.json()["Fault"]["Error"][0]["code"] == "5010"
    assert int(fresh["SyncToken"]) == int(made["SyncToken"]) + 1
    assert "Notes" not in fresh
    assert again.status_code == 200
    assert again.json()["Customer"]["Notes"] == "ours"
