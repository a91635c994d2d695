"""What an invoice's push asks about the items of its products before it writes the invoice."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from appliance.core.kinds import PRODUCT
from appliance.storage.models import Event, Link, QboItem


@dataclass(frozen=True)
class Archived:
    """A JobRoutr product archived in JobRoutr, whose QuickBooks item is inactive."""

    jobroutr_id: str
    qbo_id: str
    name: str


def archived_products(engine: Engine, realm_id: str, jobroutr_ids: list[str]) -> list[Archived]:
    """The products among ``jobroutr_ids`` whose version QuickBooks holds (the event their link
    was last written with) was archived in JobRoutr (``active`` false), and whose item is not
    active as last seen (the mirror; no row: as written, inactive). An item the bookkeeper made
    active again in QuickBooks since is not among them."""
    with Session(engine) as session:
        rows = session.exec(
            select(Link.jobroutr_id, Link.qbo_id, Event.payload, QboItem.active)
            .join(Event, col(Event.id) == col(Link.source_event_id))
            .join(
                QboItem,
                (col(QboItem.realm_id) == col(Link.realm_id))
                & (col(QboItem.qbo_id) == col(Link.qbo_id)),
                isouter=True,
            )
            .where(
                col(Link.realm_id) == realm_id,
                col(Link.kind) == PRODUCT.name,
                col(Link.jobroutr_id).in_(jobroutr_ids),
            )
            .order_by(col(Link.jobroutr_id))
        ).all()
    found = []
    for jobroutr_id, qbo_id, payload, item_active in rows:
        data = payload.get("data") if isinstance(payload, dict) else None
        if isinstance(data, dict) and data.get("active") is False and not item_active:
            found.append(Archived(jobroutr_id, qbo_id, str(data.get("name") or jobroutr_id)))
    return found
