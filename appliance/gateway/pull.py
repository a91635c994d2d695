"""The pull API JobRoutr calls (../shared/jobroutr/CONTRACT.md section 2), on the public listener.

Bearer API key (only its hash is stored). Lists page by an opaque cursor: a row's change number
in its company, so a cursor kept from an earlier pull returns only what changed since. The answer
always carries ``next_cursor``: keep the last one; an empty page means nothing changed.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from litestar import Controller, Request, get
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotAuthorizedException, NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, FromQuery

from appliance.core.accounts import ACCOUNT_KINDS
from appliance.gateway.problems import problems
from appliance.storage import credentials, pull
from appliance.storage import imports as runs
from appliance.storage.store import Store
from appliance.sync import setup

KINDS = {"customers": "customer", "products": "product"}
LINK_KINDS = ("customer", "product", "invoice")
MAX_LIMIT = 1000
#: The schema's name for the API key that ``require_api_key`` checks (a bearer token).
API_KEY = "apiKey"


def require_api_key(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    header = connection.headers.get("authorization", "")
    scheme, _sep, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise NotAuthorizedException("Send the appliance's API key as `Authorization: Bearer`.")
    store: Store = connection.app.state.store
    with store.session() as session:
        found = credentials.verify_api_key(session, key.strip())
        session.commit()
    if found is None:
        raise NotAuthorizedException("The API key is not valid (or was revoked).")


#: Longer than any cursor this appliance issues; a longer one is refused before it is decoded.
MAX_CURSOR = 256
#: The largest change number the store can hold (SQLite's INTEGER is signed 64-bit).
MAX_SEQ = 2**63 - 1


def _cursor(value: str | None, realm: str) -> int:
    """The change number in a cursor issued for this company; anything else (too long, not
    base64, not JSON, nested, a number the store cannot hold, a bool) is a 400."""
    if not value:
        return 0
    try:
        if len(value) > MAX_CURSOR:
            raise ValueError
        padded = value + "=" * (-len(value) % 4)
        doc = json.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(doc, dict) or doc.get("r") != realm:
            raise ValueError
        seq = doc.get("s")
        # type() and not isinstance(): True is an int to Python, and never a change number.
        if type(seq) is not int or not 0 <= seq <= MAX_SEQ:
            raise ValueError
        return seq
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise HTTPException(
            status_code=400,
            detail="The cursor is not one this appliance issued for this company; start over "
            "without a cursor.",
        ) from None


def _encode(seq: int, realm: str) -> str:
    raw = json.dumps({"r": realm, "s": seq}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise HTTPException(status_code=400, detail=f"limit must be between 1 and {MAX_LIMIT}.")
    return limit


def _realm(store: Store) -> str:
    info = store.connection_info()
    if info is None:
        raise HTTPException(
            status_code=409, detail="The appliance has not been connected to QuickBooks yet."
        )
    return info.realm_id


class PullController(Controller):
    path = "/api/v1"
    guards = [require_api_key]  # noqa: RUF012 - Litestar reads it from the class
    security = [{API_KEY: []}]  # noqa: RUF012
    tags = ["pull"]  # noqa: RUF012

    @get(
        "/status",
        summary="Connection, default accounts, onboarding, queue, last imports",
        responses=problems(401),
    )
    async def status(self, store: NamedDependency[Store]) -> dict[str, Any]:
        info = store.connection_info()
        body: dict[str, Any] = {
            "connection": None,
            "queue": _queue(store),
        }
        if info is None:
            return body
        body["connection"] = {
            "connected": info.state == "connected",
            "state": info.state,
            "company_name": info.company_name,
            "realm_id": info.realm_id,
            "environment": info.environment,
            "refresh_token_expires_at": info.refresh_token_expires_at,
        }
        chosen = setup.settings(store)
        body["default_accounts"] = {
            "income_account_id": chosen.income_account.qbo_id if chosen.income_account else None,
            "expense_account_id": chosen.expense_account.qbo_id if chosen.expense_account else None,
        }
        progress = setup.onboarding(store)
        body["onboarding"] = {
            "tasks": {t.task: t.done for t in progress.tasks},
            "completed_at": progress.completed_at,
        }
        body["last_imports"] = {}
        for kind in ("customers", "products", "accounts"):
            run = runs.latest_run(store.engine, info.realm_id, kind)
            body["last_imports"][kind] = (
                None
                if run is None
                else {
                    "state": run.state,
                    "done": run.done,
                    "skipped": run.skipped,
                    "finished_at": run.finished_at,
                }
            )
        return body

    @get(
        "/customers",
        summary="Imported QBO customers, changed since the cursor",
        responses=problems(400, 401, 409),
    )
    async def customers(
        self,
        store: NamedDependency[Store],
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = 100,
    ) -> dict[str, Any]:
        return _list(store, "customers", cursor, limit)

    @get(
        "/products",
        summary="Imported QBO items, changed since the cursor",
        responses=problems(400, 401, 409),
    )
    async def products(
        self,
        store: NamedDependency[Store],
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = 100,
    ) -> dict[str, Any]:
        return _list(store, "products", cursor, limit)

    @get(
        "/accounts",
        summary="Chart-of-accounts entries fit for the pickers",
        responses=problems(400, 401, 409),
    )
    async def accounts(
        self,
        store: NamedDependency[Store],
        kind: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = 100,
    ) -> dict[str, Any]:
        if kind is not None and kind not in ACCOUNT_KINDS:
            raise HTTPException(status_code=400, detail="kind must be income or expense.")
        return _list(store, "accounts", cursor, limit, account_kind=kind)

    @get(
        "/links/{kind:str}/{jobroutr_id:str}",
        summary="The QBO id a JobRoutr record is linked to",
        responses=problems(400, 401, 404, 409),
    )
    async def link(
        self, store: NamedDependency[Store], kind: FromPath[str], jobroutr_id: FromPath[str]
    ) -> dict[str, Any]:
        if kind not in LINK_KINDS:
            raise HTTPException(
                status_code=400, detail="kind must be customer, product or invoice."
            )
        realm = _realm(store)
        with store.session() as session:
            found = pull.link(session, realm, kind, jobroutr_id)
        if found is None:
            raise NotFoundException(f"No {kind} {jobroutr_id!r} is linked to QuickBooks.")
        return {"kind": kind, "jobroutr_id": jobroutr_id, "qbo_id": found.qbo_id}

    @get(
        "/events/{event_id:str}",
        summary="What became of an event JobRoutr sent",
        responses=problems(400, 401, 404),
    )
    async def event(
        self,
        store: NamedDependency[Store],
        request: Request[Any, Any, Any],
        event_id: FromPath[str],
    ) -> dict[str, Any]:
        with store.session() as session:
            found = pull.event(session, event_id)
        if found is None:
            raise NotFoundException(f"No event {event_id!r} was received.")
        error = None
        if found.status == "failed":
            error = {
                "code": found.error_code,
                "message": found.error_message,
                "hint": found.error_hint,
            }
        return {
            "event_id": found.id,
            "status": found.status,
            "attempts": found.attempts,
            "qbo_id": found.qbo_id,
            "error": error,
        }


def _queue(store: Store) -> dict[str, Any]:
    queue = store.queue_info()
    return {
        "depth": queue.queued + queue.running + queue.waiting,
        "oldest_queued_age_seconds": queue.oldest_queued_age_seconds,
        "failed": queue.failed,
    }


def _list(
    store: Store, kind: str, cursor: str | None, limit: int, account_kind: str | None = None
) -> dict[str, Any]:
    realm = _realm(store)
    after = _cursor(cursor, realm)
    size = _limit(limit)
    with store.session() as session:
        rows = pull.page(session, realm, kind, after=after, limit=size, account_kind=account_kind)
        linked = (
            pull.jobroutr_ids(session, realm, KINDS[kind], [r.qbo_id for r in rows])
            if kind in KINDS
            else {}
        )
    items = []
    for row in rows:
        if kind == "accounts":
            item = {
                "qbo_id": row.qbo_id,
                "name": row.name,
                "fully_qualified_name": row.fully_qualified_name,
                "account_type": row.account_type,
                "account_sub_type": row.account_sub_type,
                "active": row.active,
                "updated_at": row.updated_at,
            }
        else:
            item = {
                **row.data,
                "qbo_id": row.qbo_id,
                "jobroutr_id": linked.get(row.qbo_id),
                "updated_at": row.updated_at,
            }
        items.append(item)
    last = rows[-1].change_seq if rows else after
    return {"items": items, "next_cursor": _encode(last, realm)}
