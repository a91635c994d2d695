"""The control API (``/_emulator/...``): what tests, benchmarks and an operator use to steer the
emulator (limits, injected faults, the clock, tokens, companies and their records, webhooks) and
to read its statistics. The README lists the endpoints (the emulator section, "Control API").
"""

from __future__ import annotations

import json
from typing import Any

from litestar import Request, Response, delete, get, patch, post, put
from litestar.exceptions import HTTPException
from litestar.params import FromPath

from appliance.emulator import currency, seed
from appliance.emulator.api import ENCODER, JSON_OK, company_summary
from appliance.emulator.service import service_of


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
    return service_of(request).governor.limits.to_json()


@patch("/_emulator/limits")
async def patch_limits(request: Request[Any, Any, Any]) -> dict[str, Any]:
    service = service_of(request)
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
    return [rule.to_json() for rule in service_of(request).governor.rules]


@post("/_emulator/faults", status_code=201)
async def add_fault(request: Request[Any, Any, Any]) -> dict[str, Any]:
    try:
        rule = service_of(request).governor.add_rule(_body_json(await request.body()))
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return rule.to_json()


@delete("/_emulator/faults", status_code=204)
async def clear_faults(request: Request[Any, Any, Any]) -> None:
    service_of(request).governor.clear_rules()


@post("/_emulator/clock", status_code=200)
async def advance_clock(request: Request[Any, Any, Any]) -> dict[str, Any]:
    service = service_of(request)
    doc = _body_json(await request.body())
    advance = doc.get("advance_seconds") if isinstance(doc, dict) else None
    if isinstance(advance, bool) or not isinstance(advance, (int, float)) or advance < 0:
        raise HTTPException(status_code=400, detail="Send {'advance_seconds': N} with N >= 0.")
    service.clock.advance(float(advance))
    service.dirty = True
    return {"now": service.clock.now().isoformat(), "offset_seconds": service.clock.offset}


@get("/_emulator/stats")
async def stats(request: Request[Any, Any, Any]) -> dict[str, Any]:
    service = service_of(request)
    return {
        **service.governor.stats.to_json(),
        "token_refreshes": service.oauth.refreshes,
        "token_requests": service.token_requests,
        "webhooks_sent": service.notifier.sent,
        "webhooks_failed": service.notifier.failed,
    }


@post("/_emulator/tokens", status_code=201)
async def mint_tokens(request: Request[Any, Any, Any]) -> dict[str, Any]:
    service = service_of(request)
    doc = _body_json(await request.body())
    realm = doc.get("realm_id") if isinstance(doc, dict) else None
    if realm not in service.companies:
        raise HTTPException(status_code=404, detail=f"No company with realm id {realm!r}.")
    service.dirty = True
    return {"realm_id": realm, **service.oauth.mint(str(realm), service.config.client_id)}


@post("/_emulator/disconnect", status_code=200)
async def user_disconnects(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """What a user's 'Disconnect' in QuickBooks does: every connection to the realm ends."""
    service = service_of(request)
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
    return [company_summary(c) for c in service_of(request).companies.values()]


@put("/_emulator/companies/{realm:str}")
async def put_company(request: Request[Any, Any, Any], realm: FromPath[str]) -> dict[str, Any]:
    """Create, or reset to its seed, a company of a kind:
    ``{"kind": "uk", "name": "...", "multicurrency": true}``."""
    service = service_of(request)
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
    company = service_of(request).companies.get(realm)
    if company is None or entity not in company.records:
        raise HTTPException(status_code=404, detail="No such company or entity.")
    return Response(ENCODER.encode(company.rows(entity)), media_type=JSON_OK)


@post("/_emulator/companies/{realm:str}/payments/{payment_id:str}/deposit", status_code=200)
async def deposit_payment(
    request: Request[Any, Any, Any], realm: FromPath[str], payment_id: FromPath[str]
) -> dict[str, Any]:
    """Mark a payment deposited (as a Deposit in QBO would): from then on QBO refuses to change,
    void or delete it (6540). No Deposit record is made and no money moves."""
    service = service_of(request)
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
    company = service_of(request).companies.get(realm)
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
    service = service_of(request)
    doc = _body_json(await request.body())
    if not isinstance(doc, dict):
        raise HTTPException(status_code=400, detail="Send a JSON object.")
    try:
        service.notifier.config.update(doc)
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return service.notifier.config.public()


#: The handlers, in the order the app registers them.
ROUTES = [
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
]
