"""Queries behind the operator's choices: fitting accounts and the company's settings row."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from appliance.storage.models import CompanySettings, QboAccount


def fit_accounts(session: Session, realm_id: str, types: Sequence[str]) -> list[QboAccount]:
    return list(
        session.exec(
            select(QboAccount)
            .where(
                col(QboAccount.realm_id) == realm_id,
                col(QboAccount.active).is_(True),
                col(QboAccount.account_type).in_(types),
            )
            .order_by(col(QboAccount.fully_qualified_name))
        ).all()
    )


def account_types(session: Session, realm_id: str) -> dict[str, str]:
    """The imported chart of accounts, inactive accounts too: id -> AccountType."""
    rows = session.exec(
        select(QboAccount.qbo_id, QboAccount.account_type).where(
            col(QboAccount.realm_id) == realm_id
        )
    ).all()
    return dict(rows)


def account(session: Session, realm_id: str, qbo_id: str) -> QboAccount | None:
    return session.get(QboAccount, (realm_id, qbo_id))


def settings_row(session: Session, realm_id: str) -> CompanySettings:
    row = session.get(CompanySettings, realm_id)
    return row if row is not None else CompanySettings(realm_id=realm_id)
