"""Which record kind's push handles an event, by its type (as procrastinate finds a task by its
name). A new kind (payments) is a new module beside ``customer.py`` and one entry here."""

from __future__ import annotations

from appliance.sync.push import customer, invoice, payment, product
from appliance.sync.push.job import KindPush

KIND_PUSHES: tuple[KindPush, ...] = (customer.PUSH, product.PUSH, invoice.PUSH, payment.PUSH)
#: Event type -> the kind that writes it.
BY_EVENT: dict[str, KindPush] = {event: spec for spec in KIND_PUSHES for event in spec.events}
