"""Faults replayed: status, code and type as recorded, then the body's shape on its own.

Each fault has two tests: its status/code/type (which pass) and its body shape, so a strict
xfail on the shape still leaves the codes guarded.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.fidelity.recordings import Exchange, vcr
from tests.fidelity.replay import advance_clock, faults, media_type, named, send
from tests.fidelity.shape import compare
from tests.harness.emulator import RunningEmulator


def _assert_fault_as_recorded(exchange: Exchange, response: httpx.Response) -> None:
    assert response.status_code == exchange.status
    assert faults(response.json()) == faults(exchange.json())
    assert media_type(response.headers["content-type"]) == media_type(
        exchange.headers["content-type"]
    )


# 2010: unknown property ---------------------------------------------------------------------


def test_unknown_property_is_the_recorded_2010_validation_fault(
    samples: Path, api: httpx.Client
) -> None:
    (exchange,) = vcr(samples, "error__400_json")
    assert exchange.request_json() == {"BadJson": True}
    response = send(api, exchange)
    _assert_fault_as_recorded(exchange, response)
    assert faults(response.json()) == [("2010", "ValidationFault")]


def test_unknown_property_fault_body_has_the_recorded_shape(
    samples: Path, api: httpx.Client
) -> None:
    (exchange,) = vcr(samples, "error__400_json")
    assert compare(exchange.json(), send(api, exchange).json()) == []


# 6240: duplicate name -----------------------------------------------------------------------


def test_duplicate_display_name_is_the_recorded_6240_validation_fault(
    samples: Path, emulator: RunningEmulator, api: httpx.Client
) -> None:
    (exchange,) = vcr(samples, "error__validation")
    name = exchange.request_json()["DisplayName"]
    named(emulator, "Customer", name)  # the seeded sandbox has it too
    response = send(api, exchange)
    _assert_fault_as_recorded(exchange, response)
    assert faults(response.json()) == [("6240", "ValidationFault")]


def test_duplicate_display_name_fault_body_has_the_recorded_shape(
    samples: Path, api: httpx.Client
) -> None:
    (exchange,) = vcr(samples, "error__validation")
    assert compare(exchange.json(), send(api, exchange).json()) == []


# 500 and 2030: bad paths ----------------------------------------------------------------------


def test_unknown_resource_path_is_the_recorded_500_unsupported_operation(
    samples: Path, api: httpx.Client
) -> None:
    exchange = vcr(samples, "error__500")[0]
    assert exchange.scrubbed  # the Detail shows the real path: /v3/company/{realm}/customer/1/5
    assert "/v3/company/-COMPANY_ID-/customer/1/5" in exchange.json()["Fault"]["Error"][0]["Detail"]
    response = send(api, exchange)
    _assert_fault_as_recorded(exchange, response)
    assert faults(response.json()) == [("500", "ValidationFault")]
    assert compare(exchange.json(), response.json()) == []


def test_non_numeric_id_is_the_recorded_2030_fault_on_element_id(
    samples: Path, api: httpx.Client
) -> None:
    exchange = vcr(samples, "error__500")[1]
    assert exchange.path == "customer/1.5"
    response = send(api, exchange)
    _assert_fault_as_recorded(exchange, response)
    assert faults(response.json()) == [("2030", "ValidationFault")]
    recorded_error = exchange.json()["Fault"]["Error"][0]
    emulated_error = response.json()["Fault"]["Error"][0]
    assert emulated_error["element"] == recorded_error["element"] == "Id"
    # Everything but the envelope's "time" (next test) agrees.
    assert compare(exchange.json(), response.json()) in (
        [],
        ["$.time: unexpected key (not in the recording)"],
    )


def test_non_numeric_id_fault_body_has_no_time_as_recorded(
    samples: Path, api: httpx.Client
) -> None:
    exchange = vcr(samples, "error__500")[1]
    assert compare(exchange.json(), send(api, exchange).json()) == []


# 401: expired token -----------------------------------------------------------------------------


def test_expired_token_is_the_recorded_gateway_401_with_www_authenticate(
    samples: Path, fresh_emulator: RunningEmulator
) -> None:
    (exchange,) = vcr(samples, "error__401")
    emulator = fresh_emulator
    token = emulator.token()
    with emulator.api(token) as api:
        rid = named(emulator, "Customer", "Amy's Bird Sanctuary")["Id"]
        assert api.get(f"/customer/{rid}").status_code == 200
        advance_clock(emulator, 3601)  # the access token lives 3600 s
        response = send(api, exchange, path=f"customer/{rid}")
    assert response.status_code == exchange.status == 401
    assert response.headers["www-authenticate"] == exchange.headers["www-authenticate"]
    assert media_type(response.headers["content-type"]) == media_type(
        exchange.headers["content-type"]
    )
    assert faults(response.json()) == faults(exchange.json()) == [("3200", "AUTHENTICATION")]
    assert compare(exchange.json(), response.json()) == []
    recorded_detail = exchange.json()["fault"]["error"][0]["detail"]
    emulated_detail = response.json()["fault"]["error"][0]["detail"]
    assert recorded_detail.startswith("Token expired: ")
    assert emulated_detail.startswith("Token expired: ")
