"""Looking up records by name before a create, and sharing that lookup with the backlog.

One lookup asks QuickBooks about this job's name and the next queued creates' of its kind
(``LOOKAHEAD``); those it has no record of are remembered (``Absent``) and their jobs go straight
to their create, so a backlog costs about one call a record, not two. A name created meanwhile
makes that create fail with 6240, which links it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from appliance.core.kinds import RecordKind
from appliance.logging import get_logger
from appliance.qbo.client import QboClient
from appliance.qbo.query import Select
from appliance.storage import push as jobs
from appliance.storage.store import Store
from appliance.sync.push.created import Created

if TYPE_CHECKING:
    from appliance.sync.push.job import PushJob

log = get_logger(__name__)
#: Names one lookup asks QuickBooks about: this job's and the next queued creates' of its kind
#: (twice each, with and without " (deleted)": a few kilobytes of query string at most).
LOOKAHEAD = 20
#: How long QuickBooks' "no record of that name" is taken as still true for a queued create.
ABSENT_FOR = 60.0
#: What QuickBooks appends to the name of a record made inactive.
DELETED = " (deleted)"

Key = tuple[str, str, str]


def fold(name: str) -> str:
    """A name as QuickBooks compares them: trimmed, any case, " (deleted)" aside."""
    return name.strip().removesuffix(DELETED).strip().casefold()


class Absent:
    """Names QuickBooks was just asked about and had no record of (active or inactive), per
    realm and entity: the create of a queued record of that name may skip its own lookup, once,
    within ``ABSENT_FOR`` seconds. Names in a lookup still in flight are pending: a job of that
    name waits for the answer rather than asking again. Choosing the names of a lookup holds
    the realm's and entity's ``lock``, so two workers never ask about the same names at once."""

    def __init__(self, ttl: float = ABSENT_FOR) -> None:
        self.ttl = ttl
        self._until: dict[Key, float] = {}
        self._pending: dict[Key, asyncio.Future[None]] = {}
        self._taken: dict[Key, float] = {}  # known absent, and now being created
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    def lock(self, realm: str, entity: str) -> asyncio.Lock:
        return self._locks.setdefault((realm, entity), asyncio.Lock())

    def add(self, realm: str, entity: str, names: list[str]) -> None:
        now = asyncio.get_running_loop().time()
        self._until = {k: t for k, t in self._until.items() if t > now}
        self._taken = {k: t for k, t in self._taken.items() if t > now}
        for name in names:
            self._until[(realm, entity, fold(name))] = now + self.ttl

    def known(self, realm: str, entity: str, name: str) -> bool:
        key = (realm, entity, fold(name))
        return key in self._until or key in self._pending or key in self._taken

    def pending(self, realm: str, entity: str, name: str) -> bool:
        return (realm, entity, fold(name)) in self._pending

    def stock(self, realm: str, entity: str) -> int:
        """How many names are known absent (and not yet taken) or being asked about."""
        now = asyncio.get_running_loop().time()
        known = sum(
            1 for (r, e, _), t in self._until.items() if r == realm and e == entity and t > now
        )
        return known + sum(1 for r, e, _ in self._pending if r == realm and e == entity)

    def take(self, realm: str, entity: str, name: str) -> bool:
        """Whether the name was absent a moment ago; forgotten once taken."""
        key = (realm, entity, fold(name))
        until = self._until.pop(key, None)
        if until is None or until <= asyncio.get_running_loop().time():
            return False
        self._taken[key] = until  # not asked about again while its create is under way
        return True

    async def settled(self, realm: str, entity: str, name: str) -> None:
        """Wait for a lookup in flight that asks about the name, if there is one."""
        pending = self._pending.get((realm, entity, fold(name)))
        if pending is not None:
            await asyncio.shield(pending)

    def ask(self, realm: str, entity: str, names: list[str]) -> Callable[[], None]:
        """Mark a lookup of these names in flight; call what it returns when it is over,
        whatever its outcome (those waiting on it then look up for themselves if they must)."""
        answered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        keys = [(realm, entity, fold(name)) for name in names]
        mine = [key for key in keys if self._pending.setdefault(key, answered) is answered]

        def over() -> None:
            for key in mine:
                del self._pending[key]
            answered.set_result(None)

        return over


def _named(kind: RecordKind, names: list[str], size: int) -> str:
    """The query for records of ``kind`` with any of these names, inactive ones included."""
    assert kind.name_field is not None
    return (
        Select(kind.entity)
        .filter(kind.name_field, "IN", [v for n in names for v in (n, n + DELETED)])
        .filter("Active", "IN", [True, False])
        .page(1, size)
    )


def _rows(body: dict[str, Any], kind: RecordKind) -> list[dict[str, Any]]:
    rows = body.get(kind.entity, [])
    return rows if isinstance(rows, list) else []


def _matching(rows: list[dict[str, Any]], field: str, name: str) -> list[dict[str, Any]]:
    """The rows of that name, active ones first."""
    found = [r for r in rows if fold(str(r.get(field, ""))) == fold(name)]
    return sorted(found, key=lambda r: r.get("Active") is False)


class Lookup:
    """Finding records by name for the push workers of one process (one ``Absent`` shared)."""

    def __init__(self, store: Store, qbo: QboClient) -> None:
        self.store = store
        self.qbo = qbo
        self.absent = Absent()
        #: Customers being created or just created, for whom (``created``).
        self.created = Created()

    async def find(self, realm: str, kind: RecordKind, name: str) -> list[dict[str, Any]]:
        """Records of ``kind`` whose name is ``name`` (trimmed, any case), inactive ones
        (named "... (deleted)") included; active ones first."""
        assert kind.name_field is not None
        body = await self.qbo.query(realm, _named(kind, [name], 10))
        return _matching(_rows(body, kind), kind.name_field, name)

    async def find_new(
        self, job: PushJob, kind: RecordKind, name: str, namer: Callable[[dict[str, Any]], str]
    ) -> list[dict[str, Any]]:
        """``find`` for a record about to be created, sharing the lookup with the backlog: the
        next queued creates' names (``namer`` reads one from an event's data) go in the same
        query, and those QuickBooks has no record of are remembered in ``absent``, so their jobs
        go straight to the create (a job whose name is in a lookup still in flight waits for its
        answer). When fewer than ``LOOKAHEAD`` names are known ahead, a job that needs no lookup
        of its own asks about the next ones before its create, so the other workers never run
        out and stand waiting."""
        assert kind.name_field is not None
        chosen = await self._choose(job, kind, name, namer)
        if chosen is None:
            return []
        own, asked, names, over = chosen
        try:
            body = await self.qbo.query(job.realm, _named(kind, names, 1000))
            rows = _rows(body, kind)
            present = {fold(str(r.get(kind.name_field, ""))) for r in rows}
            self.absent.add(job.realm, kind.entity, [n for n in asked if fold(n) not in present])
        except Exception as exc:
            if own:
                raise
            # Asking ahead for the others failed: this job's own create needs none of it (the
            # others look up for themselves).
            log.warning("push.lookahead_failed", error=type(exc).__name__)
            return []
        finally:
            over()
        return _matching(rows, kind.name_field, name) if own else []

    async def _choose(
        self, job: PushJob, kind: RecordKind, name: str, namer: Callable[[dict[str, Any]], str]
    ) -> tuple[bool, list[str], list[str], Callable[[], None]] | None:
        """The names of the lookup to make, marked in flight: (whether this job's own name is
        one, the names asked ahead, all of them, the callback that ends it); None: none to make."""
        absent, realm, entity = self.absent, job.realm, kind.entity
        while True:
            await absent.settled(realm, entity, name)
            async with absent.lock(realm, entity):
                if absent.take(realm, entity, name):
                    if absent.stock(realm, entity) >= LOOKAHEAD:
                        return None
                    asked = await self._upcoming(job, kind, name, namer, LOOKAHEAD)
                    if not asked:
                        return None
                    return False, asked, asked, absent.ask(realm, entity, asked)
                if absent.pending(realm, entity, name):  # asked about meanwhile: wait for it
                    continue
                asked = await self._upcoming(job, kind, name, namer, LOOKAHEAD - 1)
                names = [name, *asked]
                return True, asked, names, absent.ask(realm, entity, names)

    async def _upcoming(
        self,
        job: PushJob,
        kind: RecordKind,
        name: str,
        namer: Callable[[dict[str, Any]], str],
        most: int,
    ) -> list[str]:
        """Up to ``most`` names of the next queued creates of the job's kind that no lookup has
        asked about yet (nor is asking about), the job's own ``name`` aside."""
        upcoming = await asyncio.to_thread(
            jobs.upcoming,
            self.store.engine,
            job.realm,
            job.work.event_type,
            after_job=job.claim.job_id,
            limit=3 * LOOKAHEAD,
        )
        others: dict[str, str] = {}
        for data in upcoming:
            if data.get("qbo_id"):
                continue  # it names its QuickBooks record: it never looks a name up
            other = namer(data).strip()
            folded = fold(other)
            if (
                other
                and folded != fold(name)
                and not self.absent.known(job.realm, kind.entity, other)
            ):
                others.setdefault(folded, other)
        return list(others.values())[:most]
