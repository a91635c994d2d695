"""What the pull API reads: mirror rows after a change number, links, events, import summaries."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from appliance.core.accounts import ACCOUNT_KINDS
from appliance.core.kinds import ACCOUNT
from appliance.storage.mirror import changed_since
from appliance.storage.models import Event, Link, QboAccount


def jobroutr_ids(session: Session, realm_id: str, kind: str, qbo_ids: list[str]) -> dict[str, str]:
    if not qbo_ids:
        return {}
    rows = session.exec(
        select(Link.qbo_id, Link.jobroutr_id).where(
            col(Link.realm_id) == realm_id, col(Link.kind) == kind, col(Link.qbo_id).in_(qbo_ids)
        )
    ).all()
    return dict(rows)


def page(
    session: Session,
    realm_id: str,
    kind: str,
    *,
    after: int,
    limit: int,
    account_kind: str | None,
) -> list[Any]:
    filters = []
    if kind == ACCOUNT.plural and account_kind is not None:
        filters.append(col(QboAccount.account_type).in_(ACCOUNT_KINDS[account_kind]))
    return changed_since(session, realm_id, kind, after, limit, filters=filters)


def link(session: Session, realm_id: str, kind: str, jobroutr_id: str) -> Link | None:
    return session.get(Link, (realm_id, kind, jobroutr_id))


def event(session: Session, event_id: str) -> Event | None:
    return session.get(Event, event_id)
