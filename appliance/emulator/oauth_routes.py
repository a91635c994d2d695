"""Intuit's OAuth 2.0 and OpenID endpoints, as the emulator serves them.

    /.well-known/openid_configuration      discovery (and openid_sandbox_configuration)
    /op/v1/jwks                            the signing keys (none: no id_token is issued)
    /connect/oauth2                        consent page (GET) and its form (POST) -> redirect
    /oauth2/v1/tokens/bearer               token endpoint (authorization_code, refresh_token)
    /v2/oauth2/tokens/revoke               revoke (ends the connection)
    /v1/openid_connect/userinfo            userinfo

The rules (codes, tokens, connections) are ``oauth.OAuthServer``'s; these handlers speak HTTP.
"""

from __future__ import annotations

import html
import json
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from litestar import Request, Response, get, post

from appliance.emulator import faults
from appliance.emulator.api import ENCODER
from appliance.emulator.oauth import OAuthError
from appliance.emulator.service import service_of


def _base_url(request: Request[Any, Any, Any]) -> str:
    return str(request.base_url).rstrip("/")


def _oauth_json(status: int, body: dict[str, Any]) -> Response[bytes]:
    return Response(
        ENCODER.encode(body),
        status_code=status,
        media_type="application/json;charset=UTF-8",
        headers={
            "intuit_tid": faults.intuit_tid(),
            "cache-control": "no-cache, no-store",
            "pragma": "no-cache",
        },
    )


@get(["/.well-known/openid_configuration", "/.well-known/openid_sandbox_configuration"])
async def discovery(request: Request[Any, Any, Any]) -> dict[str, Any]:
    base = _base_url(request)
    return {
        "issuer": f"{base}/op/v1",
        "authorization_endpoint": f"{base}/connect/oauth2",
        "token_endpoint": f"{base}/oauth2/v1/tokens/bearer",
        "userinfo_endpoint": f"{base}/v1/openid_connect/userinfo",
        "revocation_endpoint": f"{base}/v2/oauth2/tokens/revoke",
        "jwks_uri": f"{base}/op/v1/jwks",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile", "address", "phone"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
    }


@get("/op/v1/jwks")
async def jwks() -> dict[str, Any]:
    return {"keys": []}  # the emulator issues no id_token (see the README)


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem}}
.box{{border:1px solid #ccc;border-radius:8px;padding:1.5rem}} label{{display:block;margin:.4rem 0}}
button{{font-size:1rem;padding:.5rem 1.2rem;margin-right:.5rem}} .note{{color:#666;font-size:.9rem}}
</style></head><body><div class="box">{content}</div>
<p class="note">QuickBooks Online emulator (JobRoutr QuickBooks Gateway). Not Intuit.</p>
</body></html>"""


def _page(title: str, content: str, status: int = 200) -> Response[str]:
    return Response(
        _PAGE.format(title=html.escape(title), content=content),
        status_code=status,
        media_type="text/html; charset=utf-8",
        headers={"cache-control": "no-store", "x-frame-options": "DENY"},
    )


@get("/connect/oauth2")
async def authorize_page(request: Request[Any, Any, Any]) -> Response[str]:
    service = service_of(request)
    params = dict(request.query_params)
    try:
        app = service.oauth.check_authorize(
            params.get("client_id", ""),
            params.get("redirect_uri", ""),
            params.get("response_type", ""),
            params.get("scope", ""),
        )
    except OAuthError as exc:
        return _page(
            "Something went wrong",
            f"<h1>Something went wrong</h1><p>{html.escape(exc.description or exc.error)}</p>"
            f"<p class='note'>error: {html.escape(exc.error)}</p>",
            400,
        )
    hidden = "".join(
        f'<input type="hidden" name="{k}" value="{html.escape(params.get(k, ""), quote=True)}">'
        for k in ("client_id", "redirect_uri", "response_type", "scope", "state")
    )
    choices = "".join(
        f'<label><input type="radio" name="realm_id" value="{realm}"{" checked" if i == 0 else ""}>'
        f" {html.escape(company.name)} <span class='note'>(realm {realm})</span></label>"
        for i, (realm, company) in enumerate(service.companies.items())
    )
    content = (
        f"<h1>Connect {html.escape(app.name)} to QuickBooks</h1>"
        "<p>It will be able to read and change your company's accounting data.</p>"
        f'<form method="post" action="/connect/oauth2">{hidden}'
        f"<fieldset><legend>Choose a company</legend>{choices}</fieldset><p>"
        '<button type="submit" name="action" value="connect">Connect</button>'
        '<button type="submit" name="action" value="cancel">Cancel</button></p></form>'
    )
    return _page("Connect to QuickBooks", content)


@post("/connect/oauth2", status_code=302)
async def authorize_submit(request: Request[Any, Any, Any]) -> Response[str]:
    service = service_of(request)
    form = dict(parse_qsl((await request.body()).decode("utf-8", errors="replace")))
    try:
        service.oauth.check_authorize(
            form.get("client_id", ""),
            form.get("redirect_uri", ""),
            form.get("response_type", ""),
            form.get("scope", ""),
        )
    except OAuthError as exc:
        return _page("Something went wrong", html.escape(exc.description or exc.error), 400)
    redirect_uri = form["redirect_uri"]
    state = form.get("state", "")
    if form.get("action") != "connect":
        query = {"error": "access_denied", "state": state}
    else:
        realm = form.get("realm_id", "")
        if realm not in service.companies:
            return _page("Something went wrong", "Choose a company to connect.", 400)
        code = service.oauth.issue_code(form["client_id"], redirect_uri, realm, form["scope"])
        query = {"code": code, "state": state, "realmId": realm}
    separator = "&" if urlsplit(redirect_uri).query else "?"
    return Response(
        "",
        status_code=302,
        headers={"location": f"{redirect_uri}{separator}{urlencode(query)}"},
    )


@post("/oauth2/v1/tokens/bearer")
async def token_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
    service = service_of(request)
    service.token_requests += 1
    form = dict(parse_qsl((await request.body()).decode("utf-8", errors="replace")))
    try:
        app = service.oauth.authenticate_client(request.headers.get("authorization"), form)
        hard = request.headers.get("x-include-refresh-token-hard-expires-in", "").lower()
        body = service.oauth.token(app, form, include_hard_expiry=hard == "true")
    except OAuthError as exc:
        return _oauth_json(exc.status, exc.body())
    service.dirty = True
    return _oauth_json(200, body)


@post("/v2/oauth2/tokens/revoke")
async def revoke_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
    service = service_of(request)
    raw = await request.body()
    token = ""
    try:
        doc = json.loads(raw or b"{}")
        token = doc.get("token", "") if isinstance(doc, dict) else ""
    except ValueError:
        token = dict(parse_qsl(raw.decode("utf-8", errors="replace"))).get("token", "")
    try:
        app = service.oauth.authenticate_client(request.headers.get("authorization"), {})
        service.oauth.revoke(app, str(token))
    except OAuthError as exc:
        return _oauth_json(exc.status, {"error": exc.error})
    service.dirty = True
    return _oauth_json(200, {})


@get("/v1/openid_connect/userinfo")
async def userinfo(request: Request[Any, Any, Any]) -> Response[bytes]:
    service = service_of(request)
    token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    access = service.oauth.state.access.get(token)
    if access is None or access.expires_at < service.clock.time():
        return _oauth_json(401, {"error": "invalid_token"})
    return _oauth_json(
        200,
        {
            "sub": f"emulator-user-{access.realm_id}",
            "email": "admin@example.com",
            "emailVerified": True,
            "givenName": "Emulator",
            "familyName": "Admin",
        },
    )


#: The handlers, in the order the app registers them.
ROUTES = [
    discovery,
    jwks,
    authorize_page,
    authorize_submit,
    token_endpoint,
    revoke_endpoint,
    userinfo,
]
