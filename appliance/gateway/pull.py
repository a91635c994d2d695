"""The pull API JobRoutr calls (../shared/jobroutr/CONTRACT.md section 2), on the public listener.

Bearer API key (only its hash is stored). Lists page by an opaque cursor: a row's change number
in its company, so a cursor kept from an earlier pull returns only what changed since. The answer
always carries ``next_cursor``: keep the last one; an empty page means nothing changed.

The handlers check parameters and cursors; the answers are typed schemas that
:mod:`appliance.storage.pull` builds. The OpenAPI document shows them as free-form objects, as it
always has (``PULL_SCHEMAS``): documenting their fields is a change of the contract, for its own
issue, not a side effect of a reshape.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING, Any

from litestar import Controller, get
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotAuthorizedException, NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import FromPath, FromQuery
from litestar.plugins import OpenAPISchemaPlugin

from appliance.core.accounts import ACCOUNT_KINDS
from appliance.core.kinds import ACCOUNT, CUSTOMER, INVOICE, PRODUCT, PUSHED
from appliance.gateway.problems import problems
from appliance.gateway.runtime import Runtime
from appliance.storage import pull
from appliance.storage.pull import PullChangePage, PullEvent, PullLink, PullPage, PullStatus
from appliance.storage.store import Store
from appliance.sync import setup

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.typing import FieldDefinition

LINK_KINDS = tuple(kind.name for kind in PUSHED)
MAX_LIMIT = 1000
#: The schema's name for the API key that ``require_api_key`` checks (a bearer token).
API_KEY = "apiKey"


def require_api_key(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    header = connection.headers.get("authorization", "")
    scheme, _sep, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise NotAuthorizedException("Send the appliance's API key as `Authorization: Bearer`.")
    store: Store = connection.app.state.store
    if not pull.api_key_valid(store, key.strip()):
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


def _connected(store: Store) -> bool:
    info = store.connection_info()
    return info is not None and info.state == "connected"


class PullController(Controller):
    path = "/api/v1"
    guards = [require_api_key]  # noqa: RUF012 - Litestar reads it from the class
    security = [{API_KEY: []}]  # noqa: RUF012
    tags = ["pull"]  # noqa: RUF012

    @get(
        "/status",
        summary="Connection, books, default accounts, onboarding, queue, last imports",
        responses=problems(401),
    )
    async def status(self, store: NamedDependency[Store]) -> PullStatus:
        info = store.connection_info()
        queue = pull.PullQueue.of(store.queue_info())
        if info is None:
            return PullStatus(connection=None, queue=queue)
        return PullStatus(
            connection=pull.PullConnection.of(info),
            queue=queue,
            default_accounts=pull.PullDefaultAccounts.of(setup.settings(store)),
            onboarding=pull.PullOnboarding.of(setup.onboarding(store)),
            last_imports=pull.last_imports(store, info.realm_id),
            books=pull.books(store, info.realm_id),
        )

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
    ) -> PullPage:
        return _page(store, CUSTOMER.plural, cursor, limit)

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
    ) -> PullPage:
        return _page(store, PRODUCT.plural, cursor, limit)

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
    ) -> PullPage:
        if kind is not None and kind not in ACCOUNT_KINDS:
            raise HTTPException(status_code=400, detail="kind must be income or expense.")
        return _page(store, ACCOUNT.plural, cursor, limit, account_kind=kind)

    @get(
        "/links/{kind:str}/{jobroutr_id:str}",
        summary="The QBO id a JobRoutr record is linked to; for an invoice also QBO's doc_number, "
        "total, tax, balance and state, read live (else as of when last read)",
        responses=problems(400, 401, 404, 409),
    )
    async def link(
        self,
        store: NamedDependency[Store],
        runtime: NamedDependency[Runtime],
        kind: FromPath[str],
        jobroutr_id: FromPath[str],
    ) -> PullLink:
        if kind not in LINK_KINDS:
            raise HTTPException(
                status_code=400, detail=f"kind must be one of {', '.join(LINK_KINDS)}."
            )
        realm = _realm(store)
        found = pull.link(store, realm, kind, jobroutr_id)
        if found is None:
            raise NotFoundException(f"No {kind} {jobroutr_id!r} is linked to QuickBooks.")
        if kind == INVOICE.name and _connected(store):
            live = await runtime.figures.invoice(realm, jobroutr_id, found.qbo_id)
            if live is not None:
                return pull.with_figures(found, live)
        return found

    @get(
        "/changes",
        summary="What changed in QuickBooks to records JobRoutr wrote or imported, since the "
        "cursor: invoices voided, deleted, changed or paid there, payments undone, customers "
        "renamed or made inactive",
        responses=problems(400, 401, 409),
    )
    async def changes(
        self,
        store: NamedDependency[Store],
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = 100,
    ) -> PullChangePage:
        realm = _realm(store)
        after = _cursor(cursor, realm)
        items, last = pull.qbo_changes(store, realm, after=after, limit=_limit(limit))
        return PullChangePage(items=items, next_cursor=_encode(last, realm))

    @get(
        "/events/{event_id:str}",
        summary="What became of an event JobRoutr sent",
        responses=problems(400, 401, 404),
    )
    async def event(
        self,
        store: NamedDependency[Store],
        event_id: FromPath[str],
    ) -> PullEvent:
        found = pull.event(store, event_id)
        if found is None:
            raise NotFoundException(f"No event {event_id!r} was received.")
        return found


def _page(
    store: Store, kind: str, cursor: str | None, limit: int, account_kind: str | None = None
) -> PullPage:
    realm = _realm(store)
    after = _cursor(cursor, realm)
    size = _limit(limit)
    changed = pull.changes(store, realm, kind, after=after, limit=size, account_kind=account_kind)
    return PullPage(items=changed.items, next_cursor=_encode(changed.last_seq, realm))


class _FreeFormAnswers(OpenAPISchemaPlugin):
    """Documents the pull API's answers as free-form JSON objects, as they were documented before
    they were typed (issue 18 changed no contract)."""

    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        return value in (PullStatus, PullPage, PullLink, PullEvent)

    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        return Schema(type=OpenAPIType.OBJECT, additional_properties=Schema())


#: The app's plugins that keep the pull API's documented answers what they were.
PULL_SCHEMAS = [_FreeFormAnswers()]
