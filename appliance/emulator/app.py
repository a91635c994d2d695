"""The emulator as an HTTP service: Intuit's OAuth endpoints, the v3 API and a control API.

    /.well-known/openid_configuration      discovery (and openid_sandbox_configuration)
    /connect/oauth2                        consent page (GET) and its form (POST) -> redirect
    /oauth2/v1/tokens/bearer               token endpoint (authorization_code, refresh_token)
    /v2/oauth2/tokens/revoke               revoke (ends the connection)
    /v1/openid_connect/userinfo            userinfo
    /v3/company/{realm}/...                the accounting API (see api.py)
    /_emulator/...                         control: limits, faults, clock, tokens, records, stats

Every API request passes, in order: injected faults, the company's limits (429), latency, the
bearer token (401 in the gateway's shape), then ``requestid`` replay, then the API itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import uvicorn
from litestar import Litestar, Request, Response, delete, get, patch, post, put
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.params import FromPath

from appliance.config import EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET
from appliance.emulator import currency, faults, seed
from appliance.emulator.api import (
    ENCODER,
    JSON_OK,
    REQUESTID_MAX,
    Emulator,
    Reply,
    company_summary,
    decode_json,
)
from appliance.emulator.clock import Clock
from appliance.emulator.company import Company
from appliance.emulator.limits import Governor, Limits
from appliance.emulator.oauth import App, OAuthError, OAuthServer, OAuthState
from appliance.emulator.webhooks import Notifier, WebhookConfig

DEFAULT_REALMS = (("9341453050071776", None), ("9341453050071777", "Sandbox Company_US_2"))
DEFAULT_REDIRECT_URIS = (
    "http://127.0.0.1:8780/oauth/callback",
    "http://localhost:8780/oauth/callback",
)
STATE_FORMAT = "jobroutr-qbo-emulator/1"
SAVE_EVERY_SECONDS = 2.0


@dataclass
class EmulatorConfig:
    client_id: str = EMULATOR_CLIENT_ID
    client_secret: str = EMULATOR_CLIENT_SECRET
    redirect_uris: list[str] = field(default_factory=lambda: list(DEFAULT_REDIRECT_URIS))
    customers: int = 0
    items: int = 0
    seed: int = 1
    company: str = "us-ast"  # the kind of the seeded companies (seed.KINDS)
    multicurrency: bool = False  # seeded companies with multi-currency on
    state_file: Path | None = None
    limits: Limits = field(default_factory=Limits)
    webhooks: WebhookConfig = field(default_factory=WebhookConfig)


class EmulatorService:
    """Everything the emulator holds; one per process, shared by its HTTP handlers."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.clock = Clock()
        self.governor = Governor(config.limits)
        self.notifier = Notifier(self.clock, config.webhooks)
        apps = [App(config.client_id, config.client_secret, list(config.redirect_uris))]
        loaded = self._load() if config.state_file else None
        if loaded is None:
            companies = self._seed()
            self.oauth = OAuthServer(self.clock, apps)
        else:
            companies, oauth_state = loaded
            self.oauth = OAuthServer(self.clock, apps, oauth_state)
        self.api = Emulator(self.clock, companies)
        for company in companies.values():
            company.listeners.append(self._on_change)
        self.dirty = False
        self.token_requests = 0

    @property
    def companies(self) -> dict[str, Company]:
        return self.api.companies

    def _seed(self) -> dict[str, Company]:
        companies: dict[str, Company] = {}
        for index, (realm, name) in enumerate(DEFAULT_REALMS):
            data = (
                seed.generate(
                    self.config.customers,
                    self.config.items,
                    ts=self.clock.stamp,
                    seed=self.config.seed,
                    kind=self.config.company,
                )
                if index == 0
                else seed.sandbox_company(self.clock.stamp, self.config.company)
            )
            if name:
                data["CompanyInfo"][0]["CompanyName"] = name
            companies[realm] = Company(realm, self.clock, data)
            if self.config.multicurrency:
                companies[realm].turn_on_multicurrency()
        return companies

    def new_company(
        self, realm: str, kind: str, name: str | None = None, *, multicurrency: bool = False
    ) -> Company:
        """A freshly seeded sandbox company of this kind under this realm id, replacing any
        company the realm had (its connections stay: tokens are per realm)."""
        data = seed.sandbox_company(self.clock.stamp, kind)
        if name:
            data["CompanyInfo"][0]["CompanyName"] = name
            data["CompanyInfo"][0]["LegalName"] = name
        company = Company(realm, self.clock, data)
        if multicurrency:
            company.turn_on_multicurrency()  # before anyone listens: part of the seed
        company.listeners.append(self._on_change)
        self.companies[realm] = company
        self.api.replays.pop(realm, None)
        self.dirty = True
        return company

    def _on_change(self, realm: str, entity: str, rid: str, operation: str) -> None:
        self.dirty = True
        self.notifier.record(realm, entity, rid, operation)

    # Persistence -------------------------------------------------------------------------------

    def _load(self) -> tuple[dict[str, Company], OAuthState] | None:
        path = self.config.state_file
        if path is None or not path.exists():
            return None
        doc = decode_json(path.read_bytes())
        if doc.get("format") != STATE_FORMAT:
            raise ValueError(f"{path} is not an emulator state file")
        self.clock.offset = float(doc.get("clock_offset", 0.0))
        companies = {
            realm: Company(realm, self.clock, c["records"], seq=c["seq"])
            for realm, c in doc["companies"].items()
        }
        for realm, c in doc["companies"].items():
            companies[realm].deposited = set(c.get("deposited", []))
        return companies, OAuthState.from_json(doc["oauth"])

    def save(self) -> None:
        path = self.config.state_file
        if path is None:
            return
        doc = {
            "format": STATE_FORMAT,
            "clock_offset": self.clock.offset,
            "companies": {
                realm: {
                    "seq": company.seq,
                    "records": {e: company.rows(e) for e in company.records},
                    "deposited": sorted(company.deposited, key=int),
                }
                for realm, company in self.companies.items()
            },
            "oauth": self.oauth.state.to_json(),
        }
        tmp = path.with_name(f".{path.name}.tmp")
        fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(ENCODER.encode(doc))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        self.dirty = False

    async def saver(self) -> None:
        while True:
            await asyncio.sleep(SAVE_EVERY_SECONDS)
            if self.dirty:
                self.save()


# OAuth ---------------------------------------------------------------------------------------


def _service(request: Request[Any, Any, Any]) -> EmulatorService:
    service: EmulatorService = request.app.state.service
    return service


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
    service = _service(request)
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
    service = _service(request)
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
    service = _service(request)
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
    service = _service(request)
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
    service = _service(request)
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


# Control -------------------------------------------------------------------------------------


def _body_json(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"{}")
    except ValueError:
        raise HTTPException(status_code=400, detail="The body is not JSON.") from None


@get("/_emulator/health")
async def control_health() -> dict[str, str]:
    return {"status": "ok"}


@get("/_emulator/limits")
async def get_limits(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return _service(request).governor.limits.to_json()


@patch("/_emulator/limits")
async def patch_limits(request: Request[Any, Any, Any]) -> dict[str, Any]:
    service = _service(request)
    doc = _body_json(await request.body())
    if not isinstance(doc, dict):
        raise HTTPException(status_code=400, detail="Send a JSON object of limits.")
    try:
        service.governor.limits.update(doc)
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return service.governor.limits.to_json()


@get("/_emulator/faults")
async def list_faults(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    return [rule.to_json() for rule in _service(request).governor.rules]


@post("/_emulator/faults", status_code=201)
async def add_fault(request: Request[Any, Any, Any]) -> dict[str, Any]:
    try:
        rule = _service(request).governor.add_rule(_body_json(await request.body()))
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return rule.to_json()


@delete("/_emulator/faults", status_code=204)
async def clear_faults(request: Request[Any, Any, Any]) -> None:
    _service(request).governor.clear_rules()


@post("/_emulator/clock", status_code=200)
async def advance_clock(request: Request[Any, Any, Any]) -> dict[str, Any]:
    service = _service(request)
    doc = _body_json(await request.body())
    advance = doc.get("advance_seconds") if isinstance(doc, dict) else None
    if isinstance(advance, bool) or not isinstance(advance, (int, float)) or advance < 0:
        raise HTTPException(status_code=400, detail="Send {'advance_seconds': N} with N >= 0.")
    service.clock.advance(float(advance))
    service.dirty = True
    return {"now": service.clock.now().isoformat(), "offset_seconds": service.clock.offset}


@get("/_emulator/stats")
async def stats(request: Request[Any, Any, Any]) -> dict[str, Any]:
    service = _service(request)
    return {
        **service.governor.stats.to_json(),
        "token_refreshes": service.oauth.refreshes,
        "token_requests": service.token_requests,
        "webhooks_sent": service.notifier.sent,
        "webhooks_failed": service.notifier.failed,
    }


@post("/_emulator/tokens", status_code=201)
async def mint_tokens(request: Request[Any, Any, Any]) -> dict[str, Any]:
    service = _service(request)
    doc = _body_json(await request.body())
    realm = doc.get("realm_id") if isinstance(doc, dict) else None
    if realm not in service.companies:
        raise HTTPException(status_code=404, detail=f"No company with realm id {realm!r}.")
    service.dirty = True
    return {"realm_id": realm, **service.oauth.mint(str(realm), service.config.client_id)}


@post("/_emulator/disconnect", status_code=200)
async def user_disconnects(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """What a user's 'Disconnect' in QuickBooks does: every connection to the realm ends."""
    service = _service(request)
    doc = _body_json(await request.body())
    realm = doc.get("realm_id") if isinstance(doc, dict) else None
    ended = 0
    for connection in list(service.oauth.state.connections.values()):
        if connection.realm_id == realm and not connection.revoked:
            service.oauth.disconnect(connection.id)
            ended += 1
    service.dirty = True
    return {"realm_id": realm, "connections_ended": ended}


@get("/_emulator/companies")
async def list_companies(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    return [company_summary(c) for c in _service(request).companies.values()]


@put("/_emulator/companies/{realm:str}")
async def put_company(request: Request[Any, Any, Any], realm: FromPath[str]) -> dict[str, Any]:
    """Create, or reset to its seed, a company of a kind:
    ``{"kind": "uk", "name": "...", "multicurrency": true}``."""
    service = _service(request)
    doc = _body_json(await request.body())
    doc = doc if isinstance(doc, dict) else {}
    kind = doc.get("kind", seed.DEFAULT_KIND)
    name = doc.get("name")
    multicurrency = doc.get("multicurrency", False)
    if kind not in seed.KINDS:
        raise HTTPException(status_code=400, detail=f"kind must be one of {', '.join(seed.KINDS)}")
    if not realm.isdigit() or len(realm) > 20:
        raise HTTPException(status_code=400, detail="The realm id must be up to 20 digits.")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise HTTPException(status_code=400, detail="name must be non-empty text.")
    if not isinstance(multicurrency, bool):
        raise HTTPException(status_code=400, detail="multicurrency must be true or false.")
    company = service.new_company(realm, kind, name, multicurrency=multicurrency)
    return {**company_summary(company), "kind": kind}


@get("/_emulator/companies/{realm:str}/{entity:str}")
async def company_records(
    request: Request[Any, Any, Any], realm: FromPath[str], entity: FromPath[str]
) -> Response[bytes]:
    """Every record of an entity, inactive ones included: what a test checks QBO against."""
    company = _service(request).companies.get(realm)
    if company is None or entity not in company.records:
        raise HTTPException(status_code=404, detail="No such company or entity.")
    return Response(ENCODER.encode(company.rows(entity)), media_type=JSON_OK)


@post("/_emulator/companies/{realm:str}/payments/{payment_id:str}/deposit", status_code=200)
async def deposit_payment(
    request: Request[Any, Any, Any], realm: FromPath[str], payment_id: FromPath[str]
) -> dict[str, Any]:
    """Mark a payment deposited (as a Deposit in QBO would): from then on QBO refuses to change,
    void or delete it (6540). No Deposit record is made and no money moves."""
    service = _service(request)
    company = service.companies.get(realm)
    if company is None or payment_id not in company.records["Payment"]:
        raise HTTPException(status_code=404, detail="No such company or payment.")
    company.deposited.add(payment_id)
    service.dirty = True
    return {"realm_id": realm, "payment_id": payment_id, "deposited": True}


@patch("/_emulator/companies/{realm:str}")
async def set_company_status(
    request: Request[Any, Any, Any], realm: FromPath[str]
) -> dict[str, Any]:
    """What QBO does when a subscription ends or the connecting user loses admin rights
    (``{"status": ...}``), and turning multi-currency on (``{"multicurrency": true}``)."""
    company = _service(request).companies.get(realm)
    if company is None:
        raise HTTPException(status_code=404, detail=f"No company with realm id {realm!r}.")
    doc = _body_json(await request.body())
    doc = doc if isinstance(doc, dict) else {}
    if "status" not in doc and "multicurrency" not in doc:
        raise HTTPException(
            status_code=400, detail='Send {"status": ...} or {"multicurrency": true}, or both.'
        )
    status = doc.get("status", company.status)
    if status not in ("active", "subscription_ended", "user_not_admin"):
        raise HTTPException(
            status_code=400, detail="status must be active, subscription_ended or user_not_admin"
        )
    multicurrency = doc.get("multicurrency", currency.multicurrency(company.preferences))
    if not isinstance(multicurrency, bool):
        raise HTTPException(status_code=400, detail="multicurrency must be true or false.")
    if not multicurrency and currency.multicurrency(company.preferences):
        raise HTTPException(
            status_code=400,
            detail="Multi-currency cannot be turned off once on (as in QuickBooks); reset the "
            "company with PUT /_emulator/companies/{realm} to start without it.",
        )
    if multicurrency:
        try:
            company.turn_on_multicurrency()
        except ValueError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
    company.status = status
    return {"realm_id": realm, "status": status, "multicurrency": multicurrency}


@put("/_emulator/webhooks")
async def configure_webhooks(request: Request[Any, Any, Any]) -> dict[str, Any]:
    service = _service(request)
    doc = _body_json(await request.body())
    if not isinstance(doc, dict):
        raise HTTPException(status_code=400, detail="Send a JSON object.")
    try:
        service.notifier.config.update(doc)
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return service.notifier.config.public()


# The v3 API, behind admission -----------------------------------------------------------------

# Plain ASGI types: this layer speaks raw ASGI to Litestar and to uvicorn alike.
Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
API_PREFIX = "/v3/company/"


class _ClientGone(Exception):
    """The client went away before its request body was complete."""


async def _read_body(receive: Receive) -> bytes:
    """The whole request body. A client that disconnects before sending all of it (killed
    mid-request) raises _ClientGone: like QBO's front end, the emulator then does nothing, so a
    half-sent write is neither applied nor remembered under its requestid."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)
        elif message["type"] == "http.disconnect":
            raise _ClientGone


async def _send(send: Send, status: int, body: bytes, media: str, headers: dict[str, str]) -> None:
    raw_headers = [(b"content-type", media.encode()), (b"content-length", str(len(body)).encode())]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    start: Message = {"type": "http.response.start", "status": status, "headers": raw_headers}
    await send(start)
    await send({"type": "http.response.body", "body": body})


def api_gateway(service: EmulatorService, inner: ASGIApp) -> ASGIApp:
    """Admission and dispatch for /v3/company/...; everything else goes to the Litestar app."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await inner(scope, receive, send)
            return
        method = scope["method"]
        path = scope["path"][len(API_PREFIX) :]
        realm, _, rest = path.partition("/")
        tid = faults.intuit_tid()
        common = {"intuit_tid": tid, "Intuit-Tid": tid}
        governor = service.governor
        clock = service.clock
        governor.stats.requests += 1

        async def answer(status: int, body: bytes, media: str, headers: dict[str, str]) -> None:
            governor.stats.by_status[str(status)] += 1
            await _send(send, status, body, media, {**common, **headers})

        async def cut_short() -> None:
            # Start an answer and cut it: the client sees the connection drop mid-reply.
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"1000")],
                }
            )
            await send({"type": "http.response.body", "body": b'{"Cust', "more_body": True})
            raise ConnectionAbortedError("fault injected: connection dropped")

        async def processed_then_dropped(
            status: int, body: bytes, media: str, headers: dict[str, str]
        ) -> None:
            governor.stats.by_status[str(status)] += 1
            await cut_short()

        rule = governor.pick_fault(method, scope["path"])
        if rule is not None and rule.kind == "drop_after":
            # QBO did the work (and remembered the requestid); the answer never arrives.
            answer = processed_then_dropped
        elif rule is not None:
            if rule.kind == "stall":
                await asyncio.sleep(rule.stall_seconds)
            elif rule.kind == "drop":
                await cut_short()
            elif rule.kind == "500":
                await answer(
                    500,
                    ENCODER.encode(faults.server_error_json(clock.envelope_time())),
                    "application/json",
                    {},
                )
                return
            elif rule.kind == "502":
                await answer(502, b"", "text/html", {})
                return
            elif rule.kind == "503_html":
                await answer(503, faults.HTML_503.encode(), "text/html", {})
                return
            elif rule.kind == "429":
                await _throttled(service, answer)
                return
        is_batch = rest.split("?")[0].rstrip("/") == "batch"
        if not governor.admit(realm, batch=is_batch):
            await _throttled(service, answer)
            return
        try:
            delay = governor.latency()
            if delay:
                await asyncio.sleep(delay)
            await _dispatch(service, scope, receive, answer, realm=realm, rest=rest, method=method)
        finally:
            governor.release(realm)

    return app


async def _throttled(
    service: EmulatorService, answer: Callable[[int, bytes, str, dict[str, str]], Awaitable[None]]
) -> None:
    time = service.clock.envelope_time()
    if service.governor.limits.throttle_format == "xml":
        await answer(429, faults.throttle_xml(time).encode(), "application/xml", {})
    else:
        await answer(429, ENCODER.encode(faults.throttle_json(time)), "application/json", {})


async def _dispatch(
    service: EmulatorService,
    scope: Scope,
    receive: Receive,
    answer: Callable[[int, bytes, str, dict[str, str]], Awaitable[None]],
    *,
    realm: str,
    rest: str,
    method: str,
) -> None:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    token = headers.get("authorization", "")
    problem = (
        service.oauth.check_access(token[7:].strip(), realm)
        if token[:7].lower() == "bearer "
        else "invalid"
    )
    if problem in ("invalid", "expired"):
        detail = "Token expired: " + token[7:57] if problem == "expired" else "Token invalid"
        millis = int(service.clock.time() * 1000)
        await answer(
            401,
            ENCODER.encode(faults.auth_body(detail, millis)),
            "application/json",
            {"www-authenticate": faults.AUTHENTICATE},
        )
        return
    if problem == "forbidden":
        refusal = service.api.forbidden(realm)
        await answer(refusal.status, refusal.encode(), refusal.media_type, refusal.headers)
        return
    params = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
    try:
        body = await _read_body(receive)
    except _ClientGone:
        return  # nobody to answer, and nothing was asked in full
    requestid = params.pop("requestid", None)
    params.pop("minorversion", None)  # every minor version is served as 75 (FACTS §2)
    if requestid is not None and method == "POST":
        if len(requestid) > REQUESTID_MAX:
            refusal = service.api.refuse(
                faults.business(f"requestid is longer than {REQUESTID_MAX} characters")
            )
            await answer(refusal.status, refusal.encode(), refusal.media_type, refusal.headers)
            return
        remembered = service.api.replay(realm, requestid)
        if remembered is not None:
            service.governor.stats.replays += 1
            status, raw, media = remembered
            await answer(status, raw, media, {})
            return
    reply: Reply = service.api.call(
        realm, method, rest, params=params, body=body, content_type=headers.get("content-type", "")
    )
    raw = reply.encode()
    if reply.write and reply.status == 200:
        service.governor.stats.writes += 1
    if requestid is not None and method == "POST":
        service.api.remember(realm, requestid, reply, raw)
    await answer(reply.status, raw, reply.media_type, reply.headers)


# Factory ---------------------------------------------------------------------------------------


def create_emulator_app(config: EmulatorConfig | None = None) -> ASGIApp:
    """The emulator as one ASGI app; its state is reachable as ``app.service`` for tests."""
    service = EmulatorService(config or EmulatorConfig())

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(service.notifier.run())]
        if service.config.state_file:
            tasks.append(asyncio.create_task(service.saver()))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            service.save()

    inner = Litestar(
        route_handlers=[
            discovery,
            jwks,
            authorize_page,
            authorize_submit,
            token_endpoint,
            revoke_endpoint,
            userinfo,
            control_health,
            get_limits,
            patch_limits,
            list_faults,
            add_fault,
            clear_faults,
            advance_clock,
            stats,
            mint_tokens,
            user_disconnects,
            list_companies,
            company_records,
            deposit_payment,
            set_company_status,
            put_company,
            configure_webhooks,
        ],
        state=State({"service": service}),
        lifespan=[lifespan],
        openapi_config=None,
        logging_config=None,
        request_max_body_size=10 * 1024 * 1024,
    )
    app = api_gateway(service, inner)  # type: ignore[arg-type]  # Litestar's stricter ASGI types
    app.service = service  # type: ignore[attr-defined]
    return app


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Signals are handled in run(): SIGTERM ends the emulator cleanly, with exit status 0.
        yield


def run(app: ASGIApp, host: str, port: int) -> None:
    """Serve the emulator until SIGTERM or SIGINT (``appliance emulator``)."""
    server = _Server(
        uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="on")
    )

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
        await server.serve()

    asyncio.run(main())
