"""Customers and items this process's workers are creating or just created, and for which
JobRoutr record.

A create's link is written only when its job ends, so for a moment the new QuickBooks record is
linked to nothing: another worker that looks up the same name then (a second "John Smith", a
second product "Hedge") would take it for a stranger and ask the operator, or link it too. It asks
``Created`` first: a name being created waits for that create's answer, and a record created a
moment ago is held by its JobRoutr record, as its link will say. Each method takes the QBO
``entity`` ("Customer" by default, "Item"): the two have their own names and ids.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

#: Customers remembered as created (their links are written within seconds; this only has to
#: outlast that).
REMEMBERED = 2000
CUSTOMER = "Customer"


class Created:
    """Per realm: names whose create is in flight, and the JobRoutr id of each customer created."""

    def __init__(self, remembered: int = REMEMBERED) -> None:
        self.remembered = remembered
        self._by_id: OrderedDict[tuple[str, str, str], str] = OrderedDict()
        self._creating: dict[tuple[str, str, str], asyncio.Future[None]] = {}

    @asynccontextmanager
    async def creating(
        self, realm: str, folded: str, entity: str = CUSTOMER
    ) -> AsyncIterator[None]:
        """Around one create of a record of that (folded) name."""
        key = (realm, entity, folded)
        while (other := self._creating.get(key)) is not None:
            await asyncio.shield(other)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._creating[key] = done
        try:
            yield
        finally:
            del self._creating[key]
            done.set_result(None)

    async def settled(self, realm: str, folded: str, entity: str = CUSTOMER) -> None:
        """Wait for a create of that name in flight, if there is one."""
        other = self._creating.get((realm, entity, folded))
        if other is not None:
            await asyncio.shield(other)

    def add(self, realm: str, qbo_id: str, jobroutr_id: str, entity: str = CUSTOMER) -> None:
        self._by_id[(realm, entity, qbo_id)] = jobroutr_id
        self._by_id.move_to_end((realm, entity, qbo_id))
        while len(self._by_id) > self.remembered:
            self._by_id.popitem(last=False)

    def holder(self, realm: str, qbo_id: str, entity: str = CUSTOMER) -> str | None:
        """The JobRoutr id a record was just created for by this process, if it was."""
        return self._by_id.get((realm, entity, qbo_id))
