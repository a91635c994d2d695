"""Intuit's OAuth endpoints against the SDKs' recorded fixtures (samples/oauth/*).

The fixtures hold placeholder token values (SOURCES.md), so only keys, JSON types, protocol
constants (token_type, error codes, *_supported lists) and the response headers are compared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from appliance.config import EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET
from tests.fidelity.recordings import sample_json
from tests.fidelity.replay import media_type
from tests.fidelity.shape import compare
from tests.harness.emulator import RunningEmulator

REDIRECT_URI = "http://127.0.0.1:8780/oauth/callback"
ACCOUNTING = "com.intuit.quickbooks.accounting"
AUTH = (EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET)
TOP_LEVEL = frozenset({"$"})  # the whole body is the envelope: equal key sets


def _authorize(emulator: RunningEmulator, scope: str = ACCOUNTING) -> str:
    """Consent on the emulator's page; returns the authorization code from the redirect."""
    form = {
        "client_id": EMULATOR_CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": scope,
        "state": "fidelity-state",
        "realm_id": emulator.realm,
        "action": "connect",
    }
    response = httpx.post(emulator.url + "/connect/oauth2", data=form)
    assert response.status_code == 302, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["state"] == ["fidelity-state"]
    assert query["realmId"] == [emulator.realm]
    return query["code"][0]


def _token(emulator: RunningEmulator, **form: str) -> httpx.Response:
    return httpx.post(
        emulator.url + "/oauth2/v1/tokens/bearer",
        data=form,
        auth=AUTH,
        headers={"Accept": "application/json"},
    )


def _exchange_code(emulator: RunningEmulator, code: str) -> httpx.Response:
    return _token(emulator, grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI)


def _without_id_token(body: dict[str, Any]) -> dict[str, Any]:
    """id_token comes only with the openid scope (FACTS §1); these grants ask for accounting."""
    return {k: v for k, v in body.items() if k != "id_token"}


@pytest.fixture(scope="module")
def granted(emulator: RunningEmulator) -> httpx.Response:
    response = _exchange_code(emulator, _authorize(emulator))
    assert response.status_code == 200, response.text
    return response


def test_code_grant_answers_the_recorded_token_keys_and_types(
    samples: Path, granted: httpx.Response
) -> None:
    recorded = _without_id_token(sample_json(samples, "oauth/token_response.dotnet-sdk.json"))
    assert compare(recorded, granted.json(), envelopes=TOP_LEVEL) == []
    assert granted.json()["token_type"] == recorded["token_type"] == "bearer"
    assert granted.json()["expires_in"] == recorded["expires_in"] == 3600


def test_token_response_carries_the_recorded_headers_and_body(
    samples: Path, granted: httpx.Response
) -> None:
    recorded = sample_json(samples, "oauth/token_success_with_headers.oauth-jsclient.json")
    headers = recorded["response"]["headers"]
    assert recorded["response"]["status"] == granted.status_code == 200
    assert media_type(granted.headers["content-type"]) == media_type(headers["content-type"])
    for name in ("cache-control", "pragma"):
        assert granted.headers[name] == headers[name], name
    assert headers["intuit_tid"]
    assert granted.headers.get("intuit_tid")
    assert compare(_without_id_token(recorded["json"]), granted.json(), envelopes=TOP_LEVEL) == []


def test_refresh_grant_answers_the_recorded_refresh_keys_and_types(
    samples: Path, emulator: RunningEmulator
) -> None:
    first = _exchange_code(emulator, _authorize(emulator))
    refreshed = _token(
        emulator, grant_type="refresh_token", refresh_token=first.json()["refresh_token"]
    )
    assert refreshed.status_code == 200, refreshed.text
    recorded = _without_id_token(
        sample_json(samples, "oauth/refresh_token_response.dotnet-sdk.json")
    )
    assert compare(recorded, refreshed.json(), envelopes=TOP_LEVEL) == []
    assert refreshed.json()["refresh_token"] != first.json()["refresh_token"]  # rotated


@pytest.mark.xfail(
    strict=True,
    reason="id_token: with the openid scope the recorded token responses carry id_token "
    "(token_response.dotnet-sdk.json, token_success_with_headers.oauth-jsclient.json); the "
    "emulator never issues one (app.py: 'the emulator issues no id_token')",
)
def test_code_grant_with_the_openid_scope_carries_an_id_token(
    samples: Path, emulator: RunningEmulator
) -> None:
    response = _exchange_code(emulator, _authorize(emulator, f"{ACCOUNTING} openid"))
    assert response.status_code == 200, response.text
    recorded = sample_json(samples, "oauth/token_response.dotnet-sdk.json")
    assert compare(recorded, response.json(), envelopes=TOP_LEVEL) == []


def test_reused_authorization_code_is_the_recorded_invalid_grant(
    samples: Path, emulator: RunningEmulator
) -> None:
    code = _authorize(emulator)
    assert _exchange_code(emulator, code).status_code == 200
    response = _exchange_code(emulator, code)  # a replayed code (intuit/oauth-jsclient#173)
    recorded = sample_json(samples, "oauth/token_error_invalid_grant.oauth-jsclient.json")
    assert response.status_code == recorded["response"]["status"] == 400
    assert compare(recorded["json"], response.json(), envelopes=TOP_LEVEL) == []
    assert response.json()["error"] == recorded["json"]["error"] == "invalid_grant"
    headers = recorded["response"]["headers"]
    assert media_type(response.headers["content-type"]) == media_type(headers["content-type"])
    for name in ("cache-control", "pragma"):
        assert response.headers[name] == headers[name], name
    assert response.headers.get("intuit_tid")


def test_failed_revoke_answers_the_recorded_error_keys(
    samples: Path, emulator: RunningEmulator
) -> None:
    response = httpx.post(
        emulator.url + "/v2/oauth2/tokens/revoke",
        json={"token": "not-a-token-the-emulator-issued"},
        auth=AUTH,
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    recorded = sample_json(samples, "oauth/revoke_failure.dotnet-sdk.json")
    assert compare(recorded, response.json(), envelopes=TOP_LEVEL) == []


def test_revoke_of_an_issued_refresh_token_answers_200(emulator: RunningEmulator) -> None:
    # Only the status is compared: revoke_success.dotnet-sdk.json's body was never verified
    # against Intuit (SOURCES.md); the SDKs key success off HTTP 200.
    tokens = _exchange_code(emulator, _authorize(emulator)).json()
    response = httpx.post(
        emulator.url + "/v2/oauth2/tokens/revoke",
        json={"token": tokens["refresh_token"]},
        auth=AUTH,
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200


def test_discovery_document_has_the_recorded_keys_paths_and_supported_values(
    samples: Path, emulator: RunningEmulator
) -> None:
    recorded = sample_json(samples, "oauth/discovery_document.dotnet-sdk.json")
    response = httpx.get(emulator.url + "/.well-known/openid_configuration")
    assert response.status_code == 200
    emulated = response.json()
    assert compare(recorded, emulated, envelopes=TOP_LEVEL) == []
    for key, value in recorded.items():
        if key.endswith("_supported"):
            assert emulated[key] == value, key
        else:  # an Intuit URL; the emulator serves the same path on its own host
            assert urlsplit(emulated[key]).path == urlsplit(value).path, key


def test_userinfo_claims_are_named_and_typed_as_recorded(
    samples: Path, emulator: RunningEmulator, granted: httpx.Response
) -> None:
    response = httpx.get(
        emulator.url + "/v1/openid_connect/userinfo",
        headers={"Authorization": f"Bearer {granted.json()['access_token']}"},
    )
    assert response.status_code == 200, response.text
    recorded = sample_json(samples, "oauth/userinfo_response.dotnet-sdk.json")
    # Phone and address claims come with the phone/address scopes, which this grant lacks.
    scoped = {"phoneNumber", "phoneNumberVerified", "address"}
    assert compare(recorded, response.json(), allowed_missing=scoped, envelopes=()) == []
    assert set(response.json()) <= set(recorded)  # camelCase claims, no others
