"""Intuit's OAuth 2.0 for the appliance: authorization URL, code exchange, refresh, revoke.

Built on authlib's httpx client (client_secret_basic, as Intuit's own clients use). Every answer is
turned into a :class:`TokenSet` with absolute expiry times, or into a typed error:
``invalid_grant`` is :class:`ReconnectNeededError` (only the operator reconnecting helps), other
OAuth errors are :class:`OAuthError` with a hint, 5xx and network failures are transient.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.integrations.base_client import OAuthError as AuthlibOAuthError

with warnings.catch_warnings():
    # authlib now prefers the httpx2 package and warns when it falls back to httpx, which is what
    # the rest of the appliance uses; the fallback is supported, the warning is noise on stderr.
    warnings.simplefilter("ignore")
    from authlib.integrations.httpx_client import AsyncOAuth2Client

from appliance.core.tokens import TokenSet
from appliance.qbo.errors import ConnectionLostError, OAuthError, ReconnectNeededError, ServerError

SCOPE = "com.intuit.quickbooks.accounting"
HARD_EXPIRY_HEADER = {"x-include-refresh-token-hard-expires-in": "true"}


@dataclass(frozen=True)
class Endpoints:
    environment: str
    authorize: str
    token: str
    revoke: str
    api_base: str


def endpoints(environment: str, emulator_url: str) -> Endpoints:
    """Where each environment's OAuth and API live (FACTS §1, §2). Authorize and token are the
    same for sandbox and production; the API host and the app's keys differ."""
    if environment == "emulator":
        base = emulator_url.rstrip("/")
        return Endpoints(
            environment,
            f"{base}/connect/oauth2",
            f"{base}/oauth2/v1/tokens/bearer",
            f"{base}/v2/oauth2/tokens/revoke",
            f"{base}/v3",
        )
    api = (
        "https://quickbooks.api.intuit.com/v3"
        if environment == "production"
        else "https://sandbox-quickbooks.api.intuit.com/v3"
    )
    return Endpoints(
        environment,
        "https://appcenter.intuit.com/connect/oauth2",
        "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer",
        "https://developer.api.intuit.com/v2/oauth2/tokens/revoke",
        api,
    )


@dataclass(frozen=True)
class Callback:
    """What Intuit put on the redirect: a code and realm, or an error; always the state."""

    state: str
    code: str | None = None
    realm_id: str | None = None
    error: str | None = None
    error_description: str | None = None

    @classmethod
    def from_params(cls, params: dict[str, str]) -> Callback:
        return cls(
            state=params.get("state", ""),
            code=params.get("code") or None,
            realm_id=params.get("realmId") or None,
            error=params.get("error") or None,
            error_description=params.get("error_description") or None,
        )

    @classmethod
    def from_url(cls, url: str) -> Callback:
        query = parse_qs(urlsplit(url.strip()).query)
        return cls.from_params({k: v[0] for k, v in query.items()})


class OAuthClient:
    def __init__(
        self,
        endpoints: Endpoints,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.endpoints = endpoints
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self._client = AsyncOAuth2Client(
            client_id,
            client_secret,
            scope=SCOPE,
            redirect_uri=redirect_uri,
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name
            timeout=timeout,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    def authorization_url(self, state: str) -> str:
        url, _ = self._client.create_authorization_url(self.endpoints.authorize, state=state)
        return str(url)

    async def exchange(self, code: str, now: datetime) -> TokenSet:
        body = await self._call(
            self._client.fetch_token(
                self.endpoints.token,
                grant_type="authorization_code",
                code=code,
                headers={"Accept": "application/json", **HARD_EXPIRY_HEADER},
            )
        )
        return _token_set(body, now)

    async def refresh(self, refresh_token: str, now: datetime) -> TokenSet:
        body = await self._call(
            self._client.refresh_token(
                self.endpoints.token,
                refresh_token=refresh_token,
                headers={"Accept": "application/json", **HARD_EXPIRY_HEADER},
            )
        )
        return _token_set(body, now)

    async def revoke(self, token: str) -> None:
        try:
            response = await self._client.post(
                self.endpoints.revoke,
                json={"token": token},
                auth=httpx.BasicAuth(self.client_id, self._client.client_secret),
                headers={"Accept": "application/json"},
            )
        except httpx.TransportError as exc:
            raise ConnectionLostError(
                f"Cannot reach Intuit to revoke ({type(exc).__name__})"
            ) from None
        if response.status_code >= 500:
            raise ServerError(f"Intuit's revoke endpoint answered HTTP {response.status_code}")
        if response.status_code >= 400:
            raise OAuthError("invalid_token", "Intuit did not accept the token to revoke")

    async def _call(self, call: Any) -> dict[str, Any]:
        try:
            token = await call
        except AuthlibOAuthError as exc:
            raise oauth_error(str(exc.error), exc.description) from None
        except httpx.HTTPStatusError as exc:
            raise ServerError(
                f"Intuit's token endpoint answered HTTP {exc.response.status_code}",
                status=exc.response.status_code,
            ) from None
        except httpx.TransportError as exc:
            raise ConnectionLostError(f"Cannot reach Intuit ({type(exc).__name__})") from None
        return dict(token)


HINTS = {
    "invalid_client": (
        "QuickBooks did not accept the app's client ID or secret. Check APPLIANCE_QBO_CLIENT_ID "
        "and the client secret file, and that production keys are used with the production "
        "environment (sandbox keys only work with sandbox companies)."
    ),
    "invalid_grant": (
        "The connection to QuickBooks is no longer valid (it was disconnected in QuickBooks, or "
        "its authorization expired). Run `appliance connect` to reconnect the same company."
    ),
    "access_denied": (
        "To connect after all, open a new connect link (`appliance connect` makes one) and "
        "choose Connect; only a QuickBooks company administrator can connect apps."
    ),
    "unauthorized_client": (
        "This app may not connect to that company. Check the app's keys in Intuit's developer "
        "portal."
    ),
}


def oauth_error(error: str, description: str | None = None) -> OAuthError:
    kind = ReconnectNeededError if error == "invalid_grant" else OAuthError
    return kind(error, description, hint=HINTS.get(error, ""))


def _token_set(body: dict[str, Any], now: datetime) -> TokenSet:
    try:
        access = str(body["access_token"])
        refresh = str(body["refresh_token"])
        expires_in = float(body.get("expires_in", 3600))
        refresh_in = float(body.get("x_refresh_token_expires_in", 100 * 86400))
        hard = body.get("x_refresh_token_hard_expires_in")
        hard_at = now + timedelta(seconds=float(hard)) if hard is not None else None
    except (KeyError, TypeError, ValueError):
        raise ServerError("QuickBooks answered the token request without tokens") from None
    return TokenSet(
        access_token=access,
        refresh_token=refresh,
        access_expires_at=now + timedelta(seconds=expires_in),
        refresh_expires_at=now + timedelta(seconds=refresh_in),
        hard_expires_at=hard_at,
    )
