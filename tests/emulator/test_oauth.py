"""The emulator's OAuth server behaves like Intuit's, and a real OAuth client library accepts it."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client

from appliance.config import EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET
from tests.harness.emulator import RunningEmulator

REDIRECT = "http://127.0.0.1:8780/oauth/callback"
SCOPE = "com.intuit.quickbooks.accounting"


def basic(client_id: str = EMULATOR_CLIENT_ID, secret: str = EMULATOR_CLIENT_SECRET) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def consent(
    emulator: RunningEmulator, *, action: str = "connect", redirect: str = REDIRECT
) -> dict[str, str]:
    """What the browser does: submit the consent form; returns the redirect's query."""
    response = httpx.post(
        emulator.url + "/connect/oauth2",
        data={
            "client_id": EMULATOR_CLIENT_ID,
            "redirect_uri": redirect,
            "response_type": "code",
            "scope": SCOPE,
            "state": "st-123",
            "realm_id": emulator.realm,
            "action": action,
        },
    )
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(redirect + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def exchange(emulator: RunningEmulator, code: str, redirect: str = REDIRECT) -> httpx.Response:
    return httpx.post(
        emulator.url + "/oauth2/v1/tokens/bearer",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect},
        headers={"Authorization": basic(), "Accept": "application/json"},
    )


def refresh(emulator: RunningEmulator, token: str, **headers: str) -> httpx.Response:
    return httpx.post(
        emulator.url + "/oauth2/v1/tokens/bearer",
        data={"grant_type": "refresh_token", "refresh_token": token},
        headers={"Authorization": basic(), **headers},
    )


def advance(emulator: RunningEmulator, seconds: float) -> None:
    httpx.post(emulator.url + "/_emulator/clock", json={"advance_seconds": seconds})


def test_the_discovery_document_names_the_emulators_endpoints(emulator: RunningEmulator) -> None:
    doc = httpx.get(emulator.url + "/.well-known/openid_configuration").json()
    assert doc["authorization_endpoint"] == emulator.url + "/connect/oauth2"
    assert doc["token_endpoint"] == emulator.url + "/oauth2/v1/tokens/bearer"
    assert doc["revocation_endpoint"] == emulator.url + "/v2/oauth2/tokens/revoke"
    assert doc["token_endpoint_auth_methods_supported"] == [
        "client_secret_post",
        "client_secret_basic",
    ]
    assert "realmid" in doc["claims_supported"]


def test_the_consent_page_offers_each_company_with_connect_and_cancel(
    emulator: RunningEmulator,
) -> None:
    page = httpx.get(
        emulator.url + "/connect/oauth2",
        params={
            "client_id": EMULATOR_CLIENT_ID,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": SCOPE,
            "state": "s",
        },
    )
    assert page.status_code == 200
    for company in emulator.service.companies.values():
        assert company.realm_id in page.text
    assert 'value="connect"' in page.text
    assert 'value="cancel"' in page.text


def test_an_unregistered_redirect_uri_is_refused_on_the_page_not_redirected(
    emulator: RunningEmulator,
) -> None:
    page = httpx.get(
        emulator.url + "/connect/oauth2",
        params={
            "client_id": EMULATOR_CLIENT_ID,
            "redirect_uri": "https://evil.example/callback",
            "response_type": "code",
            "scope": SCOPE,
            "state": "s",
        },
    )
    assert page.status_code == 400
    assert "redirect_uri" in page.text
    assert "location" not in page.headers


def test_cancel_redirects_with_access_denied_and_the_state(emulator: RunningEmulator) -> None:
    query = consent(emulator, action="cancel")
    assert query == {"error": "access_denied", "state": "st-123"}


def test_a_code_gives_tokens_shaped_like_intuits_and_works_only_once(
    emulator: RunningEmulator,
) -> None:
    query = consent(emulator)
    assert query["state"] == "st-123"
    assert query["realmId"] == emulator.realm
    first = exchange(emulator, query["code"])
    assert first.status_code == 200
    assert first.headers["content-type"] == "application/json;charset=UTF-8"
    assert "intuit_tid" in first.headers
    body = first.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert 0 < body["x_refresh_token_expires_in"] <= 100 * 86400
    assert "x_refresh_token_hard_expires_in" not in body

    second = exchange(emulator, query["code"])
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"


def test_a_code_with_another_redirect_uri_fails_with_invalid_grant(
    emulator: RunningEmulator,
) -> None:
    code = consent(emulator)["code"]
    response = exchange(emulator, code, redirect="http://localhost:8780/oauth/callback")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_a_wrong_client_secret_is_invalid_client(emulator: RunningEmulator) -> None:
    code = consent(emulator)["code"]
    response = httpx.post(
        emulator.url + "/oauth2/v1/tokens/bearer",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        headers={"Authorization": basic(secret="wrong")},
    )
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}


def test_refresh_rotates_and_the_old_token_works_for_24_hours_then_not(
    emulator: RunningEmulator,
) -> None:
    tokens = exchange(emulator, consent(emulator)["code"]).json()
    first = tokens["refresh_token"]
    rotated = refresh(emulator, first, **{"x-include-refresh-token-hard-expires-in": "true"})
    assert rotated.status_code == 200
    body = rotated.json()
    assert body["refresh_token"] != first
    assert 5 * 365 * 86400 - 60 < body["x_refresh_token_hard_expires_in"] <= 5 * 365 * 86400

    advance(emulator, 23 * 3600)
    assert refresh(emulator, first).status_code == 200  # still honoured within 24 hours
    advance(emulator, 2 * 3600)
    late = refresh(emulator, first)
    assert late.status_code == 400
    assert late.json()["error"] == "invalid_grant"


def test_an_expired_access_token_gets_the_gateways_401(emulator: RunningEmulator) -> None:
    token = emulator.token()
    with emulator.api(token) as api:
        assert api.get("/companyinfo/" + emulator.realm).status_code == 200
        advance(emulator, 3601)
        response = api.get("/companyinfo/" + emulator.realm)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="Intuit", error="invalid_token"'
    error = response.json()["fault"]["error"][0]
    assert error["code"] == "3200"
    assert error["detail"].startswith("Token expired")
    assert response.json()["fault"]["type"] == "AUTHENTICATION"


def test_revoke_ends_the_connection(emulator: RunningEmulator) -> None:
    tokens = exchange(emulator, consent(emulator)["code"]).json()
    response = httpx.post(
        emulator.url + "/v2/oauth2/tokens/revoke",
        json={"token": tokens["refresh_token"]},
        headers={"Authorization": basic(), "Accept": "application/json"},
    )
    assert response.status_code == 200
    assert refresh(emulator, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    with emulator.api(tokens["access_token"]) as api:
        assert api.get("/companyinfo/" + emulator.realm).status_code == 401


def test_authlib_completes_the_whole_authorization_code_flow(emulator: RunningEmulator) -> None:
    """A published OAuth client, configured only from the discovery document."""
    discovery = httpx.get(emulator.url + "/.well-known/openid_configuration").json()
    client = OAuth2Client(
        EMULATOR_CLIENT_ID,
        EMULATOR_CLIENT_SECRET,
        scope=SCOPE,
        redirect_uri=REDIRECT,
        token_endpoint_auth_method="client_secret_basic",
    )
    url, state = client.create_authorization_url(discovery["authorization_endpoint"])
    page = httpx.get(url)
    assert page.status_code == 200
    browser = httpx.post(
        discovery["authorization_endpoint"],
        data={
            **{k: v[0] for k, v in parse_qs(urlsplit(url).query).items()},
            "realm_id": emulator.realm,
            "action": "connect",
        },
    )
    token = client.fetch_token(
        discovery["token_endpoint"],
        authorization_response=browser.headers["location"],
        state=state,
    )
    assert token["expires_in"] == 3600
    refreshed = client.refresh_token(discovery["token_endpoint"])
    assert refreshed["refresh_token"] != token["refresh_token"]
    client.close()


@pytest.mark.parametrize("grant_type", ["password", ""])
def test_unsupported_or_missing_grant_types_are_refused(
    emulator: RunningEmulator, grant_type: str
) -> None:
    response = httpx.post(
        emulator.url + "/oauth2/v1/tokens/bearer",
        data={"grant_type": grant_type},
        headers={"Authorization": basic()},
    )
    assert response.status_code == 400
    assert response.json()["error"] in ("unsupported_grant_type", "invalid_request")
