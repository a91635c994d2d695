"""Which instances serve the store, and which data keys each holds; and the store's current key.

Every `appliance serve` on PostgreSQL keeps a row of ``appliance_instance``: its name, when it
started, when it was last seen, and the fingerprints of the keys in its key file (hashes, never
the keys: storage/keyring.py). It writes the row at start, whenever its key file changes (looked
at every second) and at least every ``heartbeat_seconds``; it deletes it when it stops. An
instance not seen for a lease (``push_lease_seconds``) is gone: killed, or cut off.

``appliance rotate-key`` reads these rows to re-seal only when every live instance holds the new
key (storage/vault.py), and ``data_key`` says which key version the store's secrets are sealed
with now: every instance seals with that one, whatever its own file calls active, so a copy of
the key file that still names the old key seals nothing under it after a rotation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from appliance.storage.db import session_scope
from appliance.storage.models import ApplianceInstance, DataKey
from appliance.storage.types import utcnow

#: How long a rotation waits for the live instances to report the new key (they look at their
#: key file every second) before it names the ones that do not hold it.
REPORT_SECONDS = 5.0


@dataclass(frozen=True)
class LiveInstance:
    name: str
    started_at: datetime
    last_seen: datetime
    key_fingerprints: dict[int, str]


def heartbeat(
    engine: Engine, name: str, started_at: datetime, fingerprints: dict[int, str]
) -> None:
    """This instance is alive and holds these keys (one short transaction)."""
    held = {str(version): value for version, value in fingerprints.items()}
    try:
        with session_scope(engine) as session:
            row = session.get(ApplianceInstance, name)
            if row is None:
                row = ApplianceInstance(name=name, started_at=started_at)
            row.last_seen, row.key_fingerprints = utcnow(), held
            session.add(row)
    except IntegrityError:  # the same name started at the same moment elsewhere: next time
        return


def forget(engine: Engine, name: str) -> None:
    """This instance stops: a rotation need not wait for it."""
    with session_scope(engine) as session:
        row = session.get(ApplianceInstance, name)
        if row is not None:
            session.delete(row)


def live(engine: Engine, lease_seconds: float) -> list[LiveInstance]:
    """The instances seen within the lease, by name."""
    since = utcnow() - timedelta(seconds=lease_seconds)
    with Session(engine) as session:
        rows = session.exec(
            select(ApplianceInstance)
            .where(col(ApplianceInstance.last_seen) > since)
            .order_by(col(ApplianceInstance.name))
        ).all()
    return [
        LiveInstance(
            row.name,
            row.started_at,
            row.last_seen,
            {int(version): value for version, value in row.key_fingerprints.items()},
        )
        for row in rows
    ]


def lacking(engine: Engine, fingerprint: str, *, lease_seconds: float, but: str) -> list[str]:
    """The live instances (other than ``but``, the one asking) that do not hold this key."""
    return [
        instance.name
        for instance in live(engine, lease_seconds)
        if instance.name != but and fingerprint not in instance.key_fingerprints.values()
    ]


def current_key(session: Session, *, for_sealing: bool = False) -> tuple[int, str] | None:
    """The store's current key version and its fingerprint; None before any rotation.

    ``for_sealing`` holds the row (FOR SHARE on PostgreSQL) until the sealing transaction ends,
    so a rotation that changes it waits for that secret to be written, and re-seals it."""
    query = select(DataKey).where(col(DataKey.id) == 1)
    if for_sealing:
        query = query.with_for_update(read=True)
    row = session.exec(query).first()
    return None if row is None else (row.version, row.fingerprint)


def set_current_key(session: Session, version: int, fingerprint: str) -> None:
    row = session.exec(select(DataKey).where(col(DataKey.id) == 1).with_for_update()).first()
    if row is None:
        row = DataKey(id=1, version=version, fingerprint=fingerprint)
    row.version, row.fingerprint, row.changed_at = version, fingerprint, utcnow()
    session.add(row)
