"""The record kinds the appliance knows, each declared once: what JobRoutr calls it (the first
word of its event types, the kind of its links, the token a waiting job waits on), what the store
and the pull API call the list of them, QuickBooks' entity and the field that names one.

A new kind (payments) is one line here and one module in ``appliance.sync.push`` (and, if it is
imported, one line in ``appliance.sync.imports``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RecordKind:
    #: "customer": the event types' first word (``customer.created``), a link's kind, the token
    #: a waiting job waits on (``customer:<id>``).
    name: str
    #: "customers": the import kind, the mirror table's counter, the pull API's list.
    plural: str
    #: "Customer": QuickBooks' entity (the query's FROM, the answer's key, the write's path).
    entity: str
    #: "DisplayName": the QBO field that names a record (its natural key), if any.
    name_field: str | None = None
    #: Whether the store keeps a mirror of QuickBooks' records of this kind.
    mirrored: bool = False


CUSTOMER = RecordKind("customer", "customers", "Customer", "DisplayName", mirrored=True)
PRODUCT = RecordKind("product", "products", "Item", "Name", mirrored=True)
INVOICE = RecordKind("invoice", "invoices", "Invoice", "DocNumber")
ACCOUNT = RecordKind("account", "accounts", "Account", "Name", mirrored=True)
TAX_CODE = RecordKind("tax_code", "tax_codes", "TaxCode", "Name", mirrored=True)

PAYMENT = RecordKind("payment", "payments", "Payment")

KINDS = (CUSTOMER, PRODUCT, INVOICE, ACCOUNT, TAX_CODE, PAYMENT)
BY_NAME = {kind.name: kind for kind in KINDS}
BY_PLURAL = {kind.plural: kind for kind in KINDS}
#: The kinds of record JobRoutr sends and the appliance writes (and links).
PUSHED = (CUSTOMER, PRODUCT, INVOICE, PAYMENT)
#: The kinds an import brings in, in the order the operator is asked to run them.
IMPORTED = (CUSTOMER, PRODUCT, ACCOUNT, TAX_CODE)
