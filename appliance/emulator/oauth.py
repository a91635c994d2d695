"""Intuit's OAuth 2.0 server, as the emulator plays it (../shared/qbo/FACTS.md §1).

* Registered apps: client id, secret, exact redirect URIs. Client authentication by Basic header
  (or ``client_secret_post``); a wrong secret is ``invalid_client`` (401).
* Authorization codes: single use (a second use is ``invalid_grant``), bound to the redirect URI
  they were issued for, valid 10 minutes [the lifetime is unverified].
* Access tokens: 3600 s. Refresh tokens: a rolling 100 days from each use, and a hard expiry
  five years after the company was connected. Every refresh issues a new refresh token; the
  previous ones keep working for 24 hours after they were replaced, then ``invalid_grant``.
* Revoking any token of a connection ends the whole connection.

State lives in plain dicts so it can be saved with the companies and survive a restart.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

from appliance.emulator.clock import Clock

ACCESS_SECONDS = 3600
CODE_SECONDS = 600
ROLLING_SECONDS = 100 * 24 * 3600
HARD_SECONDS = 5 * 365 * 24 * 3600
GRACE_SECONDS = 24 * 3600
ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"
KNOWN_SCOPES = frozenset(
    {
        ACCOUNTING_SCOPE,
        "com.intuit.quickbooks.payment",
        "openid",
        "profile",
        "email",
        "phone",
        "address",
    }
)


class OAuthError(Exception):
    def __init__(self, error: str, description: str | None = None, status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        body = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        return body


@dataclass
class App:
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    name: str = "JobRoutr QuickBooks Gateway"


@dataclass
class Grant:
    code: str
    client_id: str
    redirect_uri: str
    realm_id: str
    scope: str
    expires_at: float
    used: bool = False


@dataclass
class Connection:
    """One app's authorization of one company: what a disconnect or revoke ends."""

    id: str
    client_id: str
    realm_id: str
    scope: str
    connected_at: float
    hard_expires_at: float
    revoked: bool = False


@dataclass
class RefreshToken:
    value: str
    connection: str
    expires_at: float  # rolling
    replaced_at: float | None = None


@dataclass
class AccessToken:
    value: str
    connection: str
    realm_id: str
    expires_at: float


@dataclass
class OAuthState:
    grants: dict[str, Grant] = field(default_factory=dict)
    connections: dict[str, Connection] = field(default_factory=dict)
    refresh: dict[str, RefreshToken] = field(default_factory=dict)
    access: dict[str, AccessToken] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            name: {key: asdict(value) for key, value in getattr(self, name).items()}
            for name in ("grants", "connections", "refresh", "access")
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> OAuthState:
        """From a saved state file. The file is read with the API's decoder, which turns every
        JSON fraction into a Decimal (right for amounts): times here are floats again, as the
        clock's are, or ``float - Decimal`` fails the first refresh after a restart."""
        kinds = {
            "grants": Grant,
            "connections": Connection,
            "refresh": RefreshToken,
            "access": AccessToken,
        }
        state = cls()
        for name, kind in kinds.items():
            setattr(state, name, {k: kind(**_floats(v)) for k, v in doc.get(name, {}).items()})
        return state


def _floats(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: float(v) if isinstance(v, Decimal) else v for k, v in fields.items()}


def _access_token_value() -> str:
    # Shaped like Intuit's: a compact JWE with an empty key part (`header..iv.ciphertext.tag`).
    header = "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0"
    return ".".join(
        [
            header,
            "",
            secrets.token_urlsafe(16),
            secrets.token_urlsafe(600),
            secrets.token_urlsafe(16),
        ]
    )


class OAuthServer:
    def __init__(self, clock: Clock, apps: list[App], state: OAuthState | None = None) -> None:
        self.clock = clock
        self.apps = {app.client_id: app for app in apps}
        self.state = state or OAuthState()
        self.refreshes = 0  # for tests that count refreshes (the race tests of the client)

    # Authorization ----------------------------------------------------------------------------

    def check_authorize(
        self, client_id: str, redirect_uri: str, response_type: str, scope: str
    ) -> App:
        """Validate an authorization request; errors here are shown, never redirected."""
        app = self.apps.get(client_id)
        if app is None:
            raise OAuthError("invalid_client", "The client_id is not a registered app.")
        if redirect_uri not in app.redirect_uris:
            raise OAuthError(
                "invalid_request",
                "The redirect_uri query parameter value is invalid. Make sure it is listed in "
                "the Redirect URIs section on your app's keys tab and matches it exactly.",
            )
        if response_type != "code":
            raise OAuthError("unsupported_response_type", "response_type must be code.")
        scopes = set(scope.split())
        if not scopes or not scopes <= KNOWN_SCOPES:
            raise OAuthError("invalid_scope", f"Unknown scope in {scope!r}.")
        return app

    def issue_code(self, client_id: str, redirect_uri: str, realm_id: str, scope: str) -> str:
        code = "AB11" + secrets.token_urlsafe(36)
        self.state.grants[code] = Grant(
            code, client_id, redirect_uri, realm_id, scope, self.clock.time() + CODE_SECONDS
        )
        return code

    # Token endpoint ---------------------------------------------------------------------------

    def authenticate_client(self, authorization: str | None, form: dict[str, str]) -> App:
        client_id = secret = None
        if authorization and authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
                client_id, _, secret = decoded.partition(":")
                client_id, secret = unquote(client_id), unquote(secret)
            except (binascii.Error, UnicodeDecodeError):
                raise OAuthError("invalid_client", status=401) from None
        elif "client_id" in form:
            client_id, secret = form.get("client_id"), form.get("client_secret", "")
        app = self.apps.get(client_id or "")
        if app is None or not hmac.compare_digest(
            (secret or "").encode(), app.client_secret.encode()
        ):
            raise OAuthError("invalid_client", status=401)
        return app

    def token(
        self, app: App, form: dict[str, str], *, include_hard_expiry: bool = False
    ) -> dict[str, Any]:
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            connection = self._redeem_code(app, form.get("code", ""), form.get("redirect_uri", ""))
        elif grant_type == "refresh_token":
            connection = self._redeem_refresh(app, form.get("refresh_token", ""))
        elif not grant_type:
            raise OAuthError("invalid_request", "grant_type is required")
        else:
            raise OAuthError("unsupported_grant_type")
        return self._issue(connection, include_hard_expiry)

    def _redeem_code(self, app: App, code: str, redirect_uri: str) -> Connection:
        grant = self.state.grants.get(code)
        now = self.clock.time()
        if grant is None or grant.client_id != app.client_id or grant.expires_at < now:
            raise OAuthError("invalid_grant", "Token invalid")
        if grant.used:
            # A replayed code poisons itself (intuit/oauth-jsclient#173).
            raise OAuthError("invalid_grant", "Token invalid")
        if redirect_uri != grant.redirect_uri:
            raise OAuthError("invalid_grant", "Token invalid")
        grant.used = True
        connection = Connection(
            id=secrets.token_hex(8),
            client_id=app.client_id,
            realm_id=grant.realm_id,
            scope=grant.scope,
            connected_at=now,
            hard_expires_at=now + HARD_SECONDS,
        )
        self.state.connections[connection.id] = connection
        return connection

    def _redeem_refresh(self, app: App, value: str) -> Connection:
        token = self.state.refresh.get(value)
        now = self.clock.time()
        if token is None:
            raise OAuthError("invalid_grant", "Token invalid")
        connection = self.state.connections[token.connection]
        if (
            connection.client_id != app.client_id
            or connection.revoked
            or token.expires_at < now
            or connection.hard_expires_at < now
            or (token.replaced_at is not None and token.replaced_at + GRACE_SECONDS < now)
        ):
            raise OAuthError("invalid_grant", "Token invalid")
        self.refreshes += 1
        return connection

    def _issue(self, connection: Connection, include_hard_expiry: bool) -> dict[str, Any]:
        now = self.clock.time()
        for token in self.state.refresh.values():
            if token.connection == connection.id and token.replaced_at is None:
                token.replaced_at = now
        refresh_value = f"RT1-{secrets.randbelow(90) + 10}-H0-{int(now)}" + secrets.token_hex(10)
        rolling = min(now + ROLLING_SECONDS, connection.hard_expires_at)
        self.state.refresh[refresh_value] = RefreshToken(refresh_value, connection.id, rolling)
        access_value = _access_token_value()
        self.state.access[access_value] = AccessToken(
            access_value, connection.id, connection.realm_id, now + ACCESS_SECONDS
        )
        self._forget_expired(now)
        body: dict[str, Any] = {
            "token_type": "bearer",
            "expires_in": ACCESS_SECONDS,
            "refresh_token": refresh_value,
            "x_refresh_token_expires_in": int(rolling - now),
            "access_token": access_value,
        }
        if include_hard_expiry:
            body["x_refresh_token_hard_expires_in"] = int(connection.hard_expires_at - now)
        return body

    def _forget_expired(self, now: float) -> None:
        for value in [v for v, t in self.state.access.items() if t.expires_at < now - 3600]:
            del self.state.access[value]
        for value in [
            v
            for v, t in self.state.refresh.items()
            if t.replaced_at is not None and t.replaced_at + GRACE_SECONDS < now - 3600
        ]:
            del self.state.refresh[value]

    def revoke(self, app: App, value: str) -> None:
        connection_id = None
        if value in self.state.refresh:
            connection_id = self.state.refresh[value].connection
        elif value in self.state.access:
            connection_id = self.state.access[value].connection
        if connection_id is None:
            raise OAuthError("invalid_token", status=400)
        connection = self.state.connections[connection_id]
        if connection.client_id != app.client_id:
            raise OAuthError("invalid_token", status=400)
        self.disconnect(connection_id)

    def disconnect(self, connection_id: str) -> None:
        self.state.connections[connection_id].revoked = True
        for store in (self.state.refresh, self.state.access):
            for value in [v for v, t in store.items() if t.connection == connection_id]:
                del store[value]

    # API access -------------------------------------------------------------------------------

    def check_access(self, value: str, realm_id: str) -> str | None:
        """None if the token may call this company's API, else why not: expired or invalid."""
        token = self.state.access.get(value)
        if token is None:
            return "invalid"
        if token.expires_at < self.clock.time():
            return "expired"
        if token.realm_id != realm_id:
            return "forbidden"
        return None

    def mint(self, realm_id: str, client_id: str) -> dict[str, Any]:
        """Tokens without the browser dance, for tests and benchmarks (control endpoint)."""
        now = self.clock.time()
        connection = Connection(
            secrets.token_hex(8),
            client_id,
            realm_id,
            ACCOUNTING_SCOPE,
            now,
            now + HARD_SECONDS,
        )
        self.state.connections[connection.id] = connection
        return self._issue(connection, include_hard_expiry=True)
