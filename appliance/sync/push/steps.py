"""The requestid of each write: the job's stored base and a step code naming the write.

FROZEN. These codes are part of requestids already sent to QuickBooks, which answers a repeated
requestid with its first answer instead of writing again. A job that was in flight during an
upgrade retries with the new code: renaming one means a new requestid, so that write may happen
twice. Add new codes; never rename or reuse one. ``tests/unit/test_push_step_codes.py`` pins them.

A step names one distinct write of a job: QBO remembers each requestid's answer, refusals
included, so two different writes never share one. A sparse update of a step sends
``<step>1`` (``<step>2`` after a stale SyncToken, 5010), and a clear of fields after it sends
``<step>c1`` (``<step>c2``). A void or a delete, which name a SyncToken too, send ``vd1`` /
``del1`` (``vd2`` / ``del2`` after a 5010), through ``sparse``.
"""

from __future__ import annotations

from typing import Final

from appliance.storage import queue

#: The update of the record the JobRoutr record is linked to.
LINKED: Final = "lk"
#: The update of the record an event names by ``qbo_id`` (no link yet): the exact link.
EXACT: Final = "ex"
#: The update of a linked or named record QuickBooks has inactive, made active again on the
#: operator's word (``link``, a review's decision): a write of its own, after the question.
REVIVE: Final = "rv"
#: The linked customer renamed with the clash suffix (its new name is taken).
RENAME: Final = "ren"
#: The update of a same-named record the first lookup found (linked instead of created).
MATCH: Final = "mt"
#: The same after a create was refused because the name was taken meanwhile (6240).
MATCH_AGAIN: Final = "mt2"
#: The update of a same-named record found for the customer's suffixed name.
MATCH_SUFFIXED: Final = "sf"
#: The create.
CREATE: Final = "new"
#: The create under the suffixed name.
CREATE_SUFFIXED: Final = "new2"
#: The create of a customer under "<name> (n)" (the name is another customer's): ``numbered``.
CREATE_NUMBERED: Final = "nm"
#: The operator's decision carried out (any kind: a job writes one record): the update of the
#: record they linked (``dlk1``, ``dlk2``, ``dlkc1``), the create under the name they were shown.
DECIDED_LINK: Final = "dlk"
DECIDED_CREATE: Final = "dnew"
#: An invoice voided (``invoice.voided``).
VOID: Final = "vd"
#: An invoice deleted (``invoice.deleted``).
DELETE: Final = "del"
#: The create of a QBO PaymentMethod a payment names (JobRoutr's method had none by that name).
PAYMENT_METHOD: Final = "pm"
#: A payment's void (``operation=update&include=void``), and again after a stale SyncToken.
PAYMENT_VOID: Final = "pv"
PAYMENT_VOID_AGAIN: Final = "pv2"
#: A payment's delete (``operation=delete``), and again after a stale SyncToken.
PAYMENT_DELETE: Final = "pd"
PAYMENT_DELETE_AGAIN: Final = "pd2"


def sparse(step: str, attempt: int) -> str:
    """A sparse update's code: the step and the attempt (2: after a stale SyncToken)."""
    return f"{step}{attempt}"


def clear(step: str, attempt: int) -> str:
    """The full update that clears fields after a step's sparse update."""
    return f"{step}c{attempt}"


def numbered(n: int) -> str:
    """The create under "<name> (n)": each n its own write (``nm2``, ``nm3``, ...)."""
    return f"{CREATE_NUMBERED}{n}"


def step_id(base: str, step: str) -> str:
    return f"{base}-{step}"[:36]


def request_id(event_id: str, generation: int, step: str) -> str:
    """The requestid of one write of one event: the job's stored base (derived from the event
    and the operator-retry generation) and the step, the same on every retry (at most 36
    characters, which QBO also accepts on batch calls)."""
    return step_id(queue.request_base(event_id, generation), step)


# Items (issue 21: products matched by name) ------------------------------------------------------

#: The create of a product under its numbered name ("<name> (2)"), the other same-named items
#: being other JobRoutr products'; attempt k (a number taken meanwhile, 6240) sends
#: ``item_numbered(k)``: ``inn1``, ``inn2``, ...
ITEM_NUMBERED: Final = "inn"


def item_numbered(attempt: int) -> str:
    """The code of the ``attempt``-th create under a numbered item name (``ITEM_NUMBERED``)."""
    return f"{ITEM_NUMBERED}{attempt}"
