"""Pushing JobRoutr's events to QuickBooks: the workers on the store's job queue.

What makes a write happen once in QuickBooks:

* every write carries a ``requestid`` derived from the event (and the operator-retry generation),
  stored on the job before it is sent and the same on every retry: QuickBooks answers a repeat
  with the first answer instead of writing again (``steps``: the frozen step codes);
* records with a natural key are looked up before they are created (customer DisplayName, item
  Name: a same-named record, inactive ones included, is linked, not duplicated; an item only of
  the product's type, see ``item_match``), and an invoice
  whose write may have happened is read back by its DocNumber before it is sent again. With a
  backlog, one lookup asks for the next queued records' names too (``lookahead``);
* the link (JobRoutr id -> QBO id) remembers the JobRoutr version it carries: an older event for a
  record changes nothing.

The modules:

* ``worker``: ``Pusher``, the workers' loop, claim, lease and heartbeat;
* ``outcome``: what an attempt means for the job (``Done | Waiting | RetryLater | Failed``, the
  types ``storage.push.complete`` records), decided in one place, with QBO's codes' hints;
* ``job``: the job at hand (``PushJob``) and the steps the kinds share; ``PushConfig``;
* ``lookahead``: the lookup by name, shared with the backlog (``Absent``);
* ``customer``, ``product``, ``invoice``: one module per record kind, each with both mappings
  (JobRoutr -> QBO body, QBO record -> our row) and its push, found by event type in ``registry``.
* ``item_match``: which same-named item a new product is, the question for the operator when it
  may not be, and the numbered name of a product whose name other products hold.

A failing event never blocks the others.
"""

from __future__ import annotations

from appliance.sync.push.customer import customer_body, customer_row, display_name
from appliance.sync.push.invoice import invoice_body, invoice_marker, line_amount
from appliance.sync.push.job import PushConfig, PushJob
from appliance.sync.push.lookahead import DELETED, LOOKAHEAD, Absent
from appliance.sync.push.outcome import HINTS, NEVER_CONNECTED_WAIT, NOT_CONNECTED
from appliance.sync.push.product import item_body, item_row
from appliance.sync.push.steps import request_id, step_id
from appliance.sync.push.worker import Pusher

__all__ = [
    "DELETED",
    "HINTS",
    "LOOKAHEAD",
    "NEVER_CONNECTED_WAIT",
    "NOT_CONNECTED",
    "Absent",
    "PushConfig",
    "PushJob",
    "Pusher",
    "customer_body",
    "customer_row",
    "display_name",
    "invoice_body",
    "invoice_marker",
    "item_body",
    "item_row",
    "line_amount",
    "request_id",
    "step_id",
]
