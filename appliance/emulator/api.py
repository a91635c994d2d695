"""The QBO v3 API over the companies: routing, queries, reads, writes, batch, CDC, requestid.

``Emulator.call`` takes what arrived (method, path under ``/v3/company/{realm}/``, query
parameters, body) and returns a ``Reply`` (status, JSON document or text, headers); the HTTP
layer in ``gateway.py`` only adds admission (faults, limits, latency) and the bearer-token check.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec

from appliance.emulator import currency, faults, query
from appliance.emulator.clock import Clock
from appliance.emulator.company import Company
from appliance.emulator.entities import (
    LIST_ENTITIES,
    NOT_IN_CDC,
    QUERYABLE,
    UNMODELLED,
    URL_NAMES,
    WRITABLE,
)

ENCODER = msgspec.json.Encoder(decimal_format="number")
DECODER = msgspec.json.Decoder(float_hook=Decimal)
JSON_OK = "application/json;charset=UTF-8"
JSON_FAULT = "application/json"
BATCH_LIMIT = 30
CDC_MAX_DAYS = 30
CDC_MAX_OBJECTS = 1000
REQUESTID_MAX = 50
REPLAY_MEMORY = 100_000  # per company: plenty for any test or benchmark run
MISSPELT_ENTITY = "QueryValidationError: invalid context declaration: "
_ID = re.compile(r"^\d+$")


@dataclass
class Reply:
    status: int
    body: Any  # a JSON document, or str for XML/HTML
    media_type: str = JSON_OK
    headers: dict[str, str] = field(default_factory=dict)
    write: bool = False

    def encode(self) -> bytes:
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        if isinstance(self.body, bytes):
            return self.body
        return ENCODER.encode(self.body)


def decode_json(raw: bytes) -> Any:
    return DECODER.decode(raw)


class Emulator:
    def __init__(self, clock: Clock, companies: dict[str, Company]) -> None:
        self.clock = clock
        self.companies = companies
        self.replays: dict[str, OrderedDict[str, tuple[int, bytes, str]]] = {}
        self.queryable = {name: set(props) for name, props in QUERYABLE.items()}

    # Entry point -------------------------------------------------------------------------------

    def call(
        self,
        realm: str,
        method: str,
        path: str,
        *,
        params: dict[str, str],
        body: bytes,
        content_type: str = "",
    ) -> Reply:
        company = self.companies.get(realm)
        if company is None:
            return self.forbidden(realm)
        if company.status == "subscription_ended":
            return self.refuse(
                faults.validation(
                    "6190",
                    "Invalid Company Status",
                    "Subscription period has ended or canceled or there was a billing problem : "
                    "You can't add data to QuickBooks Online because your trial or subscription "
                    "period ended, you canceled your subscription, or there was a billing problem.",
                )
            )
        if company.status == "user_not_admin":
            return self.refuse(
                faults.QboFault(
                    403,
                    [
                        faults.ErrorItem(
                            "120",
                            "Authorization Failure",
                            "AuthorizationFailure: "
                            "the user who connected is no longer an administrator",
                        )
                    ],
                    "AuthorizationFault",
                )
            )
        try:
            return self._route(company, method, path, params=params, body=body)
        except faults.QboFault as fault:
            return self.refuse(fault)

    def forbidden(self, realm: str) -> Reply:
        """A token for another company, or a company this app is not connected to."""
        return self.refuse(
            faults.QboFault(
                403,
                [
                    faults.ErrorItem(
                        "3100",
                        "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
                        f"This app is not authorized for company {realm}",
                    )
                ],
                "AUTHENTICATION",
            )
        )

    def refuse(self, fault: faults.QboFault) -> Reply:
        return Reply(
            fault.status, fault.body(self.clock.envelope_time()), JSON_FAULT, dict(fault.headers)
        )

    def _ok(self, doc: dict[str, Any], *, write: bool = False) -> Reply:
        doc["time"] = self.clock.envelope_time()
        return Reply(200, doc, write=write)

    def _route(
        self, company: Company, method: str, path: str, *, params: dict[str, str], body: bytes
    ) -> Reply:
        parts = [p for p in path.split("/") if p]
        full = f"/v3/company/{company.realm_id}/{path}"
        unsupported = faults.unsupported_operation(full, f"https://qbo.emulator{full}")
        if not parts:
            raise unsupported
        head = parts[0].lower() if parts[0].lower() in URL_NAMES else parts[0]
        if head == "query" and len(parts) == 1:
            if method == "GET":
                text = params.get("query", "")
            elif method == "POST":
                # The statement is the text body, or (as some clients send it) the URL's query.
                text = body.decode("utf-8", errors="replace") or params.get("query", "")
            else:
                raise unsupported
            return self._ok({"QueryResponse": self.query(company, text)})
        if head == "batch" and len(parts) == 1 and method == "POST":
            return self._batch(company, body, params)
        if head == "cdc" and len(parts) == 1 and method == "GET":
            return self._cdc(company, params)
        if head == "preferences" and len(parts) == 1 and method == "GET":
            return self._ok({"Preferences": self._preferences(company)})
        entity = URL_NAMES.get(head)
        if entity is None:
            real = UNMODELLED.get(parts[0].lower())
            if real is not None and len(parts) <= 2:
                raise faults.unmodelled_entity(real, "read" if method == "GET" else "write")
            raise unsupported
        if method == "GET" and len(parts) == 2:
            rid = parts[1]
            if entity == "CompanyInfo" and rid == company.realm_id:
                return self._ok({entity: company.get(entity, "1")})
            if not _ID.match(rid) and not (entity == "TaxCode" and rid in ("TAX", "NON")):
                raise faults.invalid_id(rid)
            return self._ok({entity: company.get(entity, rid)})
        if method == "POST" and len(parts) == 1 and entity in WRITABLE:
            document = self._json_body(body, entity)
            result = self.write(company, entity, document, params)
            return self._ok({entity: result}, write=True)
        raise unsupported

    # Operations --------------------------------------------------------------------------------

    def query(self, company: Company, text: str) -> dict[str, Any]:
        try:
            parsed = query.parse(text, self.queryable)
        except query.QueryError as exc:
            # The query engine knows only the modelled entities; a real QBO entity it refuses
            # is not misspelt, it is one the emulator does not model.
            if exc.detail.startswith(MISSPELT_ENTITY):
                real = UNMODELLED.get(exc.detail.removeprefix(MISSPELT_ENTITY).lower())
                if real is not None:
                    raise faults.unmodelled_entity(real, "query") from None
            raise faults.invalid_query(exc.detail) from None
        page, total = query.run(
            parsed, company.listed(parsed.entity), list_entity=parsed.entity in LIST_ENTITIES
        )
        return query.response_body(parsed, page, total)

    def write(
        self, company: Company, entity: str, document: Any, params: dict[str, str]
    ) -> dict[str, Any]:
        operation = params.get("operation", "").lower()
        include = params.get("include", "").lower()
        allow_dup = "allowduplicatedocnum" in include
        if operation == "delete":
            return company.delete(entity, document)
        # Invoices are voided with operation=void; payments (as sales receipts and bill payments)
        # with operation=update&include=void (FACTS §11; python-quickbooks' VoidMixin).
        if operation == "void" or (operation == "update" and "void" in include.split(",")):
            return company.void(entity, document)
        if operation not in ("", "update", "create"):
            raise faults.validation(
                "2170", "Invalid Enumeration", f"Invalid Enumeration : {operation}", "operation"
            )
        if isinstance(document, dict) and ("Id" in document or operation == "update"):
            return company.update(entity, document, allow_duplicate_docnumber=allow_dup)
        return company.create(entity, document, allow_duplicate_docnumber=allow_dup)

    def _json_body(self, body: bytes, entity: str) -> Any:
        try:
            return decode_json(body)
        except (msgspec.DecodeError, UnicodeDecodeError):
            raise faults.validation(
                "2010",
                "Request has invalid or unsupported property",
                f"Request body is not valid JSON for {entity}",
            ) from None

    def _batch(self, company: Company, body: bytes, params: dict[str, str]) -> Reply:
        document = self._json_body(body, "BatchItemRequest")
        items = document.get("BatchItemRequest") if isinstance(document, dict) else None
        if not isinstance(items, list) or not items:
            raise faults.required("BatchItemRequest", "Batch")
        if len(items) > BATCH_LIMIT:
            raise faults.business(
                f"The batch has {len(items)} items; at most {BATCH_LIMIT} are allowed"
            )
        responses = []
        for item in items:
            responses.append(self._batch_item(company, item))
        return self._ok({"BatchItemResponse": responses}, write=True)

    def _batch_item(self, company: Company, item: Any) -> dict[str, Any]:
        bid = item.get("bId") if isinstance(item, dict) else None
        reply: dict[str, Any] = {}
        try:
            if not isinstance(item, dict) or not isinstance(bid, str):
                raise faults.required("bId", "BatchItemRequest")
            if "Query" in item:
                reply["QueryResponse"] = self.query(company, str(item["Query"]))
            else:
                entities = [k for k in item if k in URL_NAMES.values()]
                real = next((UNMODELLED[k.lower()] for k in item if k.lower() in UNMODELLED), None)
                if not entities and real is not None:
                    raise faults.unmodelled_entity(real, "write")
                if len(entities) != 1:
                    raise faults.required("entity", "BatchItemRequest")
                entity = entities[0]
                if entity not in WRITABLE:
                    raise faults.business(f"{entity} cannot be changed through the API")
                operation = str(item.get("operation", "create")).lower()
                if operation == "update" and item.get("optionsData") == "void":
                    operation = "void"
                if operation not in ("create", "update", "delete", "void"):
                    raise faults.validation(
                        "2170", "Invalid Enumeration", f"Invalid Enumeration : {operation}"
                    )
                params = {} if operation in ("create", "update") else {"operation": operation}
                if operation == "create" and isinstance(item[entity], dict):
                    item[entity].pop("Id", None)
                reply[entity] = self.write(company, entity, item[entity], params)
        except faults.QboFault as fault:
            reply = {"Fault": fault.fault()}
        if bid is not None:
            reply["bId"] = bid
        return reply

    def _cdc(self, company: Company, params: dict[str, str]) -> Reply:
        names = [n.strip() for n in params.get("entities", "").split(",") if n.strip()]
        if not names:
            raise faults.required("entities", "CDC")
        entities = []
        for name in names:
            entity = URL_NAMES.get(name.lower())
            real = UNMODELLED.get(name.lower())
            if entity is None and real is not None:
                raise faults.unmodelled_entity(real, "CDC")
            if entity is None or entity in NOT_IN_CDC:
                raise faults.validation(
                    "2170", "Invalid Enumeration", f"Invalid Enumeration : {name}", "entities"
                )
            entities.append(entity)
        since_text = params.get("changedSince", "")
        try:
            since = datetime.fromisoformat(since_text.replace("Z", "+00:00"))
        except ValueError:
            raise faults.required("changedSince", "CDC") from None
        if since.tzinfo is None:
            since = since.replace(tzinfo=self.clock.now().tzinfo)
        # Changes are kept for 30 days: an older changedSince is answered (as the recordings
        # show) with what is left of the last 30 days.
        oldest = self.clock.now() - timedelta(days=CDC_MAX_DAYS)
        found = company.changes_since(entities, max(since, oldest).timestamp())
        budget = CDC_MAX_OBJECTS
        responses = []
        for entity in entities:
            rows = found[entity][:budget]
            budget -= len(rows)
            if rows:
                responses.append({entity: rows, "startPosition": 1, "maxResults": len(rows)})
            else:
                responses.append({})
        return self._ok({"CDCResponse": [{"QueryResponse": responses}]})

    def _preferences(self, company: Company) -> dict[str, Any]:
        seeded = company.records["Preferences"].get("1")
        if seeded is not None:
            return seeded
        return {  # a state file saved before Preferences were seeded
            "domain": "QBO",
            "sparse": False,
            "Id": "1",
            "SyncToken": "0",
            "SalesFormsPrefs": {"CustomTxnNumbers": False, "AllowDuplicateDocNum": False},
            "CurrencyPrefs": {"MultiCurrencyEnabled": False, "HomeCurrency": {"value": "USD"}},
            "ProductAndServicesPrefs": {"QuantityOnHand": True, "ForSales": True},
        }

    def edited_elsewhere(self, realm: str, path: str, body: bytes) -> None:
        """The ``edited`` fault: another user saves the record the write at ``path`` names
        (the body's ``Id``) just before the write arrives. Nothing else changes."""
        company = self.companies.get(realm)
        entity = URL_NAMES.get(path.strip("/").lower())
        try:
            document = decode_json(body)
        except (msgspec.DecodeError, UnicodeDecodeError):
            return
        rid = document.get("Id") if isinstance(document, dict) else None
        if company is not None and entity is not None and isinstance(rid, str):
            company.edited_elsewhere(entity, rid)

    # requestid -----------------------------------------------------------------------------------

    def replay(self, realm: str, requestid: str) -> tuple[int, bytes, str] | None:
        memory = self.replays.get(realm)
        return memory.get(requestid) if memory is not None else None

    def remember(self, realm: str, requestid: str, reply: Reply, raw: bytes) -> None:
        memory = self.replays.setdefault(realm, OrderedDict())
        memory[requestid] = (reply.status, raw, reply.media_type)
        while len(memory) > REPLAY_MEMORY:
            memory.popitem(last=False)


def company_summary(company: Company) -> dict[str, Any]:
    return {
        "realm_id": company.realm_id,
        "name": company.name,
        "counts": {entity: company.count(entity) for entity in sorted(company.records)},
        "multicurrency": currency.multicurrency(company.preferences),
    }
