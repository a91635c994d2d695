"""The imported QBO records (customers, items, accounts, tax codes) and the change sequence
behind the pull API's cursors.

Each kind has a counter per company; a row gets the next number whenever its content changes
(import or push), so "everything after number N" is exactly what changed since a cursor was issued.
Writes are upserts in batches, one transaction per batch; a row an import saw carries the run's id,
so the end of a run can mark the rows it did not see as inactive.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from appliance.core.kinds import ACCOUNT, CUSTOMER, PRODUCT, TAX_CODE
from appliance.storage.db import session_scope
from appliance.storage.models import ChangeCounter, QboAccount, QboCustomer, QboItem, QboTaxCode
from appliance.storage.types import utcnow

#: The mirror's table of each mirrored record kind, by its plural (``RecordKind.plural``).
MODELS: dict[str, Any] = {
    CUSTOMER.plural: QboCustomer,
    PRODUCT.plural: QboItem,
    ACCOUNT.plural: QboAccount,
    TAX_CODE.plural: QboTaxCode,
}


@dataclass(frozen=True)
class MirrorRow:
    """One QBO record as the store keeps it: its key, columns and the contract-shaped data."""

    qbo_id: str
    columns: dict[str, Any]
    data: dict[str, Any]


def _counter_name(realm_id: str, kind: str) -> str:
    return f"{realm_id}:{kind}"


def next_seqs(session: Session, realm_id: str, kind: str, count: int) -> int:
    """Reserve ``count`` numbers atomically (one upsert statement); returns the first."""
    name = _counter_name(realm_id, kind)
    dialect = session.get_bind().dialect.name
    insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
    table = ChangeCounter.__table__  # type: ignore[attr-defined]
    statement = (
        insert(table)
        .values(name=name, value=count)
        .on_conflict_do_update(index_elements=["name"], set_={"value": table.c.value + count})
        .returning(table.c.value)
    )
    last = int(session.execute(statement).scalar_one())
    return last - count + 1


#: Mirror writes from this process's threads go one at a time: SQLite has one writer anyway, and
#: a read-then-write transaction racing another would fail instead of waiting.
WRITES = threading.Lock()


def upsert(
    engine: Engine, realm_id: str, kind: str, rows: Sequence[MirrorRow], run_id: int | None
) -> int:
    """Write a batch; returns how many rows were new or changed (and got a new change number)."""
    with WRITES, session_scope(engine) as session:
        return upsert_rows(session, realm_id, kind, rows, run_id)


def upsert_rows(
    session: Session, realm_id: str, kind: str, rows: Sequence[MirrorRow], run_id: int | None
) -> int:
    """``upsert`` inside the caller's transaction.

    Plain SQL statements, a few per batch (read what is there, insert the new rows, update the
    changed ones, mark the unchanged ones as seen by this run), not one ORM object per record:
    an import of 20,000 customers spent most of its time building and flushing those.
    """
    if not rows:
        return 0
    table = MODELS[kind].__table__
    existing = _existing(session, table, realm_id, rows)
    new = [row for row in rows if row.qbo_id not in existing]
    changed = [
        row for row in rows if row.qbo_id in existing and _differs(existing[row.qbo_id], row)
    ]
    seq = next_seqs(session, realm_id, kind, len(new) + len(changed)) if new or changed else 0
    seen = {"import_run_id": run_id} if run_id is not None else {}
    now = utcnow()
    if new:
        session.execute(
            _insert(session, table, list(rows[0].columns)),
            [
                {**_values(row, seq + n, now), "realm_id": realm_id, "import_run_id": run_id}
                for n, row in enumerate(new)
            ],
        )
        seq += len(new)
    if changed:
        _update_changed(
            session, table, realm_id=realm_id, changed=changed, seq=seq, now=now, seen=seen
        )
    changed_ids = {row.qbo_id for row in changed}
    unchanged = [
        row.qbo_id for row in rows if row.qbo_id in existing and row.qbo_id not in changed_ids
    ]
    if unchanged and seen:
        session.execute(
            sa.update(table)
            .where(table.c.realm_id == realm_id, table.c.qbo_id.in_(unchanged))
            .values(seen)
        )
    return len(new) + len(changed)


def _insert(session: Session, table: Any, names: list[str]) -> Any:
    """The new rows' insert. On a server, another transaction may insert the same record
    between this one's read and its insert (the push's outcomes are not taken one at a time
    there, and other instances write too): the later one then updates it, keeping the import
    run that saw it, instead of failing on the key."""
    if session.get_bind().dialect.name != "postgresql":
        return sa.insert(table)
    statement = postgresql_insert(table)
    fresh = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=["realm_id", "qbo_id"],
        set_={n: fresh[n] for n in [*names, "data", "change_seq", "updated_at"]}
        | {"import_run_id": sa.func.coalesce(fresh.import_run_id, table.c.import_run_id)},
    )


def _existing(
    session: Session, table: Any, realm_id: str, rows: Sequence[MirrorRow]
) -> dict[str, Any]:
    """What the store holds of these rows now (their data and columns), by QBO id."""
    names = list(rows[0].columns)
    found = session.execute(
        sa.select(table.c.qbo_id, table.c.data, *(table.c[n] for n in names)).where(
            table.c.realm_id == realm_id, table.c.qbo_id.in_([row.qbo_id for row in rows])
        )
    )
    return {row.qbo_id: row for row in found}


def _differs(stored: Any, row: MirrorRow) -> bool:
    return bool(
        stored.data != row.data or any(stored._mapping[k] != v for k, v in row.columns.items())
    )


def _values(row: MirrorRow, seq: int, now: Any) -> dict[str, Any]:
    return {
        "qbo_id": row.qbo_id,
        **row.columns,
        "data": row.data,
        "change_seq": seq,
        "updated_at": now,
    }


def _update_changed(
    session: Session,
    table: Any,
    *,
    realm_id: str,
    changed: list[MirrorRow],
    seq: int,
    now: Any,
    seen: dict[str, Any],
) -> None:
    """The changed rows, with their new change numbers, in one executemany."""
    names = list(changed[0].columns)
    session.execute(
        sa.update(table)
        .where(
            table.c.realm_id == sa.bindparam("key_realm"),
            table.c.qbo_id == sa.bindparam("key_qbo_id"),
        )
        .values(
            {n: sa.bindparam(n) for n in [*names, "data", "change_seq", "updated_at"]}
            | {k: sa.bindparam(k) for k in seen}
        ),
        [
            {
                "key_realm": realm_id,
                "key_qbo_id": row.qbo_id,
                **row.columns,
                "data": row.data,
                "change_seq": seq + n,
                "updated_at": now,
                **seen,
            }
            for n, row in enumerate(changed)
        ],
    )


def deactivate_unseen(engine: Engine, realm_id: str, kind: str, run_id: int) -> int:
    """After a complete run: rows it did not see were made inactive (or deleted) in QBO."""
    model = MODELS[kind]
    with WRITES, session_scope(engine) as session:
        stale = session.exec(
            select(model).where(
                col(model.realm_id) == realm_id,
                col(model.active).is_(True),
                col(model.import_run_id).is_(None) | (col(model.import_run_id) != run_id),
            )
        ).all()
        if not stale:
            return 0
        seq = next_seqs(session, realm_id, kind, len(stale))
        now = utcnow()
        for record in stale:
            record.active = False
            record.data = {**record.data, "active": False}
            record.change_seq = seq
            record.updated_at = now
            seq += 1
            session.add(record)
        return len(stale)


def changed_since(
    session: Session,
    realm_id: str,
    kind: str,
    after_seq: int,
    limit: int,
    *,
    filters: Sequence[Any] = (),
) -> list[Any]:
    model = MODELS[kind]
    return list(
        session.exec(
            select(model)
            .where(col(model.realm_id) == realm_id, col(model.change_seq) > after_seq, *filters)
            .order_by(col(model.change_seq))
            .limit(limit)
        ).all()
    )
