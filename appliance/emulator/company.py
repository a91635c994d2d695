"""One QBO company (realm) in memory: its records, and how a write goes through QBO's rules.

Records are stored exactly as the API returns them (dicts of JSON values, amounts as ``Decimal``),
per entity in Id order, so a query is a filter over a list and a read is a dict lookup.

``Company`` holds what every record kind shares (../shared/qbo/FACTS.md §4, with the recordings it
cites): Ids per entity sequence, strings; ``SyncToken`` an optimistic lock (5010 when stale) that a
no-op sparse update does not bump; full updates clear omitted writable fields, sparse ones don't;
unknown top-level property 2010, required fields 2020; references checked (``REFERENCES``):
unknown id 2500, inactive record 610 (not for a value the record already carried, nor a server
default); the name indexes that keep names unique; balances that follow the transactions; the
changes CDC reports, and the listeners (webhooks, the state file) told of each.

What QBO checks and fills for each kind is in the kind's own module, which ``RULES`` maps the
writable entities to: ``people`` (Customer, Vendor, Employee), ``items``, ``accounts``,
``invoices`` (figured by ``books`` and ``currency``) and ``payments``. The entity tables
(``KNOWN``, ``REFERENCES``, ``QBO_ENTITIES``...) are in ``entities``, and are importable from here
too.

Only invoices and payments can be deleted or voided; a customer's ``operation=delete`` makes it
inactive, refused while it owes money (``people.check_settled``). ``QBO_ENTITIES`` lists every
entity real QBO has; the API answers one the emulator does not model with "Unsupported Operation"
(query, read, write, batch, CDC) rather than the misspelt-entity fault (4001) or, in CDC, 2170.

Preferences, TaxCode, TaxRate and TaxAgency are seeded per company kind and read-only, as
through QBO's API (tax codes are made through its TaxService, which is not modelled); so are
Term. A client may add a PaymentMethod (as in QBO; ``payments.prepare_method``), not change the
seeded seven's rules.

Not modelled: custom fields beyond an empty list,
and the batch rule that items cannot see each other's writes (here they run one after another).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from appliance.emulator import accounts, currency, faults, fields, invoices, items, payments, people
from appliance.emulator.accounts import ACCOUNT_TYPES
from appliance.emulator.clock import Clock
from appliance.emulator.entities import (
    COMMON,
    CONTACT,
    FILTERABLE,
    KNOWN,
    LIST_ENTITIES,
    LIST_ORDER,
    NAME_PARTS,
    NOT_IN_CDC,
    PEOPLE,
    QBO_ENTITIES,
    QUERYABLE,
    REFERENCES,
    SERVER_FIELDS,
    UNMODELLED,
    URL_NAMES,
    WRITABLE,
    Record,
)
from appliance.emulator.fields import CENT, DELETED_SUFFIX, money, voided_note
from appliance.emulator.invoices import CUSTOMER_MEMO_MAX
from appliance.emulator.items import ITEM_TYPES

__all__ = [  # the names other code imported from here before the entity tables moved out
    "ACCOUNT_TYPES", "CENT", "COMMON", "CONTACT", "CUSTOMER_MEMO_MAX", "DELETED_SUFFIX",
    "FILTERABLE", "ITEM_TYPES", "KNOWN", "LIST_ENTITIES", "LIST_ORDER", "NAME_PARTS",
    "NOT_IN_CDC", "PEOPLE", "QBO_ENTITIES", "QUERYABLE", "REFERENCES", "RULES", "SERVER_FIELDS",
    "UNMODELLED", "URL_NAMES", "WRITABLE", "ChangeListener", "Company", "Record", "Rules",
    "money", "voided_note",
]  # fmt: skip

ChangeListener = Callable[[str, str, str, str], None]  # realm, entity, id, operation
#: A kind's check-and-fill: the company, the record, the stored one or None, and whether a
#: duplicate DocNumber is allowed (``include=allowduplicatedocnum``).
Prepare = Callable[["Company", Record, Record | None, bool], Record]


@dataclass(frozen=True)
class Rules:
    """What one writable record kind's module tells ``Company``: how to check and fill a record
    before it is stored (``prepare``), what else changes once it is (``after_write``:
    indexes, balances), and for transactions how a void looks (``voided``), what may refuse a
    delete (``check_delete``) and what a sparse update keeps (``sparse_merged``)."""

    prepare: Prepare
    after_write: Callable[[Company, Record | None, Record | None], None]
    voided: Callable[[Company, Record], Record] | None = None
    check_delete: Callable[[Company, Record], None] | None = None
    sparse_merged: Callable[[Record, Record, Record], None] | None = None


def _no_doc_number(prepare: Callable[[Company, Record, Record | None], Record]) -> Prepare:
    """The ``prepare`` of a kind without a DocNumber: the duplicate permission means nothing."""
    return lambda company, record, old, _allow_dup: prepare(company, record, old)


def _person(entity: str) -> Rules:
    """Customers, vendors and employees share one module, told which they are."""
    return Rules(
        prepare=lambda company, record, old, _allow_dup: people.prepare(
            company, entity, record, old
        ),
        after_write=lambda company, old, new: people.after_write(company, entity, old, new),
    )


#: The writable record kinds (``WRITABLE``), each to its module's rules.
RULES: dict[str, Rules] = {
    **{entity: _person(entity) for entity in PEOPLE},
    "Item": Rules(_no_doc_number(items.prepare), items.after_write),
    "Account": Rules(_no_doc_number(accounts.prepare), accounts.after_write),
    "Invoice": Rules(
        invoices.prepare,
        invoices.after_write,
        voided=invoices.voided,
        check_delete=invoices.check_delete,
        sparse_merged=invoices.keep_tax_code,
    ),
    "Payment": Rules(
        _no_doc_number(payments.prepare),
        payments.after_write,
        voided=payments.voided,
        check_delete=payments.check_changeable,
    ),
    "PaymentMethod": Rules(_no_doc_number(payments.prepare_method), payments.after_method_write),
}


class Company:
    def __init__(
        self,
        realm_id: str,
        clock: Clock,
        data: dict[str, list[Record]] | None = None,
        *,
        seq: dict[str, int] | None = None,
    ) -> None:
        self.realm_id = realm_id
        self.clock = clock
        self.records: dict[str, dict[str, Record]] = {entity: {} for entity in KNOWN}
        self.seq: dict[str, int] = dict.fromkeys(KNOWN, 0)
        self.addr_seq = 0
        self.changed_at: dict[tuple[str, str], float] = {}
        self.tombstones: dict[tuple[str, str], Record] = {}
        self.listeners: list[ChangeListener] = []
        self.status = "active"  # or "subscription_ended", "user_not_admin" (control API)
        self.deposited: set[str] = set()  # payment ids marked deposited (control API)
        self.version = 0  # bumped by every write: invalidates the name-ordered lists
        self._listed: dict[str, tuple[int, list[Record]]] = {}
        for entity, rows in (data or {}).items():
            for row in rows:
                if entity == "Invoice":
                    row.setdefault("CustomField", [])
                    row.setdefault("LinkedTxn", [])
                self.records[entity][row["Id"]] = row
                if row["Id"].isdigit():  # not the US pseudo tax codes "TAX" and "NON"
                    self.seq[entity] = max(self.seq[entity], int(row["Id"]))
                for key in ("BillAddr", "ShipAddr"):
                    if isinstance(row.get(key), dict) and str(row[key].get("Id", "")).isdigit():
                        self.addr_seq = max(self.addr_seq, int(row[key]["Id"]))
        if seq:
            self.seq.update(seq)
        self._reindex()

    # Indexes ---------------------------------------------------------------------------------

    def _reindex(self) -> None:
        self.people: dict[str, tuple[str, str]] = {}
        for entity in PEOPLE:
            for rid, row in self.records[entity].items():
                self.people[fields.fold(row["DisplayName"])] = (entity, rid)
        self.item_names = {fields.fold(r["Name"]): rid for rid, r in self.records["Item"].items()}
        self.account_names = {
            fields.fold(r["FullyQualifiedName"]): rid for rid, r in self.records["Account"].items()
        }
        self.doc_numbers = {
            r["DocNumber"]: rid for rid, r in self.records["Invoice"].items() if "DocNumber" in r
        }

    @property
    def name(self) -> str:
        info = self.records["CompanyInfo"].get("1")
        return str(info["CompanyName"]) if info else f"Company {self.realm_id}"

    @property
    def preferences(self) -> Record:
        """The company's Preferences ({} in a state saved before they were seeded)."""
        return self.records["Preferences"].get("1") or {}

    def turn_on_multicurrency(self) -> None:
        """Multi-currency on, for good (FACTS §11): Preferences say so, and the transactions,
        all in the home currency until now, get their rate 1 and home amounts."""
        prefs = self.records["Preferences"].get("1")
        if prefs is None:
            raise ValueError(
                "This company has no Preferences (it was saved by an older emulator): reset it "
                "with PUT /_emulator/companies/{realm} first."
            )
        if currency.multicurrency(prefs):
            return
        currency.turn_on(prefs, {e: self.rows(e) for e in currency.HOME_AMOUNTS})
        prefs["SyncToken"] = str(int(prefs.get("SyncToken", "0")) + 1)
        prefs["MetaData"] = {**prefs.get("MetaData", {}), "LastUpdatedTime": self.clock.stamp()}
        self.changed("Preferences", "1", "Update")

    def rows(self, entity: str) -> list[Record]:
        return list(self.records[entity].values())

    def listed(self, entity: str) -> list[Record]:
        """Rows in the order a query without ORDERBY returns them: lists by name, as QBO does
        (the recordings show Customers by FullyQualifiedName, Items and Accounts by Name), and
        transactions by Id. Kept sorted between writes, so paging a large list stays cheap."""
        key = LIST_ORDER.get(entity)
        if key is None:
            return self.rows(entity)
        cached = self._listed.get(entity)
        if cached is not None and cached[0] == self.version:
            return cached[1]
        ordered = sorted(
            self.records[entity].values(), key=lambda r: str(r.get(key, "")).casefold()
        )
        self._listed[entity] = (self.version, ordered)
        return ordered

    def count(self, entity: str) -> int:
        return len(self.records[entity])

    # Reading ---------------------------------------------------------------------------------

    def get(self, entity: str, rid: str) -> Record:
        row = self.records[entity].get(rid)
        if row is None:
            raise faults.not_found()
        return row

    def ref(self, entity: str, ref: Any, field: str, *, active: bool = True) -> Record:
        """The record a reference names: 2020 without a value, 2500 unknown, 610 inactive."""
        value = ref.get("value") if isinstance(ref, dict) else None
        if not isinstance(value, str) or not value:
            raise faults.required(f"{field}.value", entity)
        row = self.records.get(entity, {}).get(value)  # an unmodelled entity has no records
        if row is None:
            raise faults.invalid_reference(field, value)
        if active and row.get("Active") is False:
            raise faults.inactive_reference(field, value)
        return row

    def checked(self, entity: str, ref: Any, field: str, carried: Iterable[Any] = ()) -> None:
        """Check a reference the request makes: unknown 2500, inactive 610. A value the record
        already carried before this write (``carried``) is not checked again, so re-sending a
        record as read (a seeded one, or one whose server-set default the company lacks) still
        saves; only references the client adds or changes are checked."""
        if ref is None:
            return
        if isinstance(ref, dict) and ref.get("value") in {c for c in carried if c}:
            return
        self.ref(entity, ref, field)

    def check_references(self, entity: str, record: Record, old: Record | None) -> None:
        """Check the top-level references ``REFERENCES`` lists for the entity."""
        for field, target in REFERENCES[entity].items():
            before = (old or {}).get(field)
            self.checked(target, record.get(field), field, [fields.value(before)])

    # Writing ---------------------------------------------------------------------------------

    def create(self, entity: str, body: Any, *, allow_duplicate_docnumber: bool = False) -> Record:
        self._check_body(entity, body)
        record = fields.clean({k: v for k, v in body.items() if k not in SERVER_FIELDS})
        record = self._prepare(entity, record, None, allow_duplicate_docnumber)
        self.seq[entity] += 1
        rid = str(self.seq[entity])
        stamp = self.clock.stamp()
        record = {
            **record,
            "domain": "QBO",
            "sparse": False,
            "Id": rid,
            "SyncToken": "0",
            "MetaData": {"CreateTime": stamp, "LastUpdatedTime": stamp},
        }
        self.records[entity][rid] = record
        self.after_write(entity, None, record)
        self.changed(entity, rid, "Create")
        return record

    def update(self, entity: str, body: Any, *, allow_duplicate_docnumber: bool = False) -> Record:
        self._check_body(entity, body)
        old = self._locked(entity, body)
        changes = fields.clean({k: v for k, v in body.items() if k not in SERVER_FIELDS})
        if body.get("sparse") is True:
            merged = copy.deepcopy({k: v for k, v in old.items() if k not in SERVER_FIELDS})
            merged.update(changes)
            rules = RULES.get(entity)
            if rules is not None and rules.sparse_merged is not None:
                rules.sparse_merged(old, changes, merged)
        else:
            # A full update replaces every writable field; what is left out is cleared.
            merged = changes
        merged = self._prepare(entity, merged, old, allow_duplicate_docnumber)
        before = {k: v for k, v in old.items() if k not in SERVER_FIELDS}
        if merged == before:
            return old  # nothing changed: QBO keeps the SyncToken (NANGO update-item)
        record = {
            **merged,
            "domain": "QBO",
            "sparse": False,
            "Id": old["Id"],
            "SyncToken": str(int(old["SyncToken"]) + 1),
            "MetaData": {**old["MetaData"], "LastUpdatedTime": self.clock.stamp()},
        }
        self.records[entity][old["Id"]] = record
        self.after_write(entity, old, record)
        self.changed(entity, old["Id"], "Update")
        return record

    def delete(self, entity: str, body: Any) -> Record:
        if entity == "Customer" and isinstance(body, dict):
            # QBO takes a customer's delete as making it inactive, and refuses it for the same
            # reason (ruckus/quickbooks-ruby issue #390).
            row = self.records["Customer"].get(str(body.get("Id")))
            if row is not None:
                people.check_settled(row)
        rules = RULES.get(entity)
        if rules is None or rules.check_delete is None:
            raise faults.business(
                f"{entity} is a list entity: make it inactive instead of deleting it"
            )
        self._check_body(entity, body)
        old = self._locked(entity, body)
        rules.check_delete(self, old)
        del self.records[entity][old["Id"]]
        self.after_write(entity, old, None)
        tombstone = {"domain": "QBO", "status": "Deleted", "Id": old["Id"]}
        self.tombstones[(entity, old["Id"])] = {
            **tombstone,
            "MetaData": {"LastUpdatedTime": self.clock.stamp()},
        }
        self.changed(entity, old["Id"], "Delete")
        return tombstone

    def void(self, entity: str, body: Any) -> Record:
        rules = RULES.get(entity)
        if rules is None or rules.voided is None:
            raise faults.business(f"Only transactions can be voided, not {entity}")
        self._check_body(entity, body)
        old = self._locked(entity, body)
        record = rules.voided(self, old)
        for home_amount in currency.HOME_AMOUNTS.get(entity, {}).values():
            if home_amount in record:
                record[home_amount] = Decimal(0)
        record["SyncToken"] = str(int(old["SyncToken"]) + 1)
        record["MetaData"] = {**old["MetaData"], "LastUpdatedTime": self.clock.stamp()}
        self.records[entity][old["Id"]] = record
        self.after_write(entity, old, record)
        self.changed(entity, old["Id"], "Void")
        return record

    def edited_elsewhere(self, entity: str, rid: str) -> None:
        """Another user saved the record with no change we model: its SyncToken goes up, as
        every save does, so a write still holding the old one is stale (5010)."""
        old = self.records.get(entity, {}).get(rid)
        if old is None:
            return
        self.records[entity][rid] = {
            **old,
            "SyncToken": str(int(old["SyncToken"]) + 1),
            "MetaData": {**old["MetaData"], "LastUpdatedTime": self.clock.stamp()},
        }
        self.changed(entity, rid, "Update")

    def _locked(self, entity: str, body: Record) -> Record:
        rid, token = body.get("Id"), body.get("SyncToken")
        if rid is None:
            raise faults.required("Id", entity)
        if not isinstance(rid, str) or not rid.isdigit():
            raise faults.invalid_id(str(rid))
        if token is None:
            raise faults.required("SyncToken", entity)
        old = self.get(entity, rid)
        if str(token) != old["SyncToken"]:
            raise faults.stale()
        return old

    def _check_body(self, entity: str, body: Any) -> None:
        if not isinstance(body, dict):
            raise faults.validation(
                "2010",
                "Request has invalid or unsupported property",
                f"Request body is not a {entity} object",
            )
        known = KNOWN[entity]
        for key in body:
            if key not in known:
                raise faults.unsupported_property(key, entity, sorted(known))

    def changed(self, entity: str, rid: str, operation: str) -> None:
        """A record changed: the name-ordered lists are stale, CDC and the listeners learn it."""
        self.version += 1
        self.changed_at[(entity, rid)] = self.clock.time()
        for listener in self.listeners:
            listener(self.realm_id, entity, rid, operation)

    def _prepare(self, entity: str, record: Record, old: Record | None, allow_dup: bool) -> Record:
        rules = RULES.get(entity)
        if rules is None:
            raise faults.business(f"{entity} cannot be changed through the API")
        return rules.prepare(self, record, old, allow_dup)

    # Indexes and balances after a write --------------------------------------------------------

    def after_write(self, entity: str, old: Record | None, new: Record | None) -> None:
        """Keep the indexes and balances in step with a record just created (``old`` None),
        changed, or deleted (``new`` None)."""
        rules = RULES.get(entity)
        if rules is not None:
            rules.after_write(self, old, new)

    def add_balance(self, customer_id: str, amount: Decimal, home: Decimal | None = None) -> None:
        """What a customer owes changes (``amount``, in the customer's currency), and Accounts
        Receivable with it (``home``, in the home currency; the same amount when not given)."""
        if not amount:
            return
        receivable = next(
            (a for a in self.records["Account"].values()
             if a.get("AccountType") == "Accounts Receivable"),
            None,
        )  # fmt: skip
        if receivable is not None:
            self.add_account_balance(receivable["Id"], amount if home is None else home)
        row = self.records["Customer"].get(customer_id)
        if row is None:
            return
        row["Balance"] = Decimal(row.get("Balance", 0)) + amount
        while row is not None:
            row["BalanceWithJobs"] = Decimal(row.get("BalanceWithJobs", 0)) + amount
            parent = row.get("ParentRef", {}).get("value")
            row = self.records["Customer"].get(parent) if parent else None

    def add_account_balance(self, account_id: str, amount: Decimal) -> None:
        row = self.records["Account"].get(account_id)
        if row is None or not amount:
            return
        row["CurrentBalance"] = Decimal(row.get("CurrentBalance", 0)) + amount
        while row is not None:
            total = Decimal(row.get("CurrentBalanceWithSubAccounts", 0)) + amount
            row["CurrentBalanceWithSubAccounts"] = total
            parent = row.get("ParentRef", {}).get("value")
            row = self.records["Account"].get(parent) if parent else None

    # Change data capture -----------------------------------------------------------------------

    def changes_since(self, entities: Iterable[str], since: float) -> dict[str, list[Record]]:
        wanted = set(entities)
        found: dict[str, list[Record]] = {entity: [] for entity in wanted}
        for (entity, rid), when in self.changed_at.items():
            if entity not in wanted or when < since:
                continue
            row = self.records[entity].get(rid) or self.tombstones.get((entity, rid))
            if row is not None:
                found[entity].append(row)
        return found
