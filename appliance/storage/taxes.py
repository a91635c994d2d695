"""JobRoutr's tax rates and the QBO tax codes they are mapped to; the imported tax codes; the
invoice settings (discount account, the code for untaxed lines outside the US).

A JobRoutr rate is learned from the first invoice that uses it (``learn``); the operator maps it
(``set_mapping``); an invoice waiting for a mapping waits on ``taxrate:<jobroutr rate id>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import col, select

from appliance.storage import choices
from appliance.storage.db import session_scope
from appliance.storage.models import QboTaxCode, TaxMapping
from appliance.storage.types import utcnow


def waits_on(rate_id: str) -> str:
    """The token an invoice waiting for this rate's mapping waits on."""
    return f"taxrate:{rate_id}"


@dataclass(frozen=True)
class MappingInfo:
    jobroutr_rate_id: str
    name: str
    percent: str
    qbo_tax_code_id: str | None
    suggested_qbo_id: str | None
    first_event_id: str | None
    mapped_by: str | None
    mapped_at: datetime | None


@dataclass(frozen=True)
class TaxCodeInfo:
    qbo_id: str
    name: str
    description: str | None
    active: bool
    taxable: bool | None
    tax_group: bool
    rates: list[dict[str, Any]]
    percent: str | None


@dataclass(frozen=True)
class InvoiceSettings:
    discount_account_id: str | None
    untaxed_tax_code_id: str | None


def _mapping(row: TaxMapping) -> MappingInfo:
    return MappingInfo(
        jobroutr_rate_id=row.jobroutr_rate_id,
        name=row.name,
        percent=row.percent,
        qbo_tax_code_id=row.qbo_tax_code_id,
        suggested_qbo_id=row.suggested_qbo_id,
        first_event_id=row.first_event_id,
        mapped_by=row.mapped_by,
        mapped_at=row.mapped_at,
    )


def _code(row: QboTaxCode) -> TaxCodeInfo:
    return TaxCodeInfo(
        qbo_id=row.qbo_id,
        name=row.name,
        description=row.description,
        active=row.active,
        taxable=row.taxable,
        tax_group=row.tax_group,
        rates=list(row.rates),
        percent=row.percent,
    )


def mappings(engine: Engine, realm_id: str) -> dict[str, MappingInfo]:
    """Every JobRoutr rate known for the company, mapped or not, by JobRoutr rate id."""
    with session_scope(engine) as session:
        rows = session.exec(
            select(TaxMapping)
            .where(col(TaxMapping.realm_id) == realm_id)
            .order_by(col(TaxMapping.name), col(TaxMapping.jobroutr_rate_id))
        ).all()
        return {row.jobroutr_rate_id: _mapping(row) for row in rows}


def learn(
    engine: Engine, realm_id: str, rates: list[dict[str, Any]], event_id: str | None
) -> list[str]:
    """Remember the JobRoutr rates (``{"id", "name", "percent"}``) not known yet; returns the ids
    of those that were new. A known rate keeps its mapping; its name follows JobRoutr's."""
    new: list[str] = []
    now = utcnow()
    with session_scope(engine) as session:
        for rate in rates:
            rate_id = str(rate["id"])
            row = session.get(TaxMapping, (realm_id, rate_id))
            if row is None:
                row = TaxMapping(
                    realm_id=realm_id,
                    jobroutr_rate_id=rate_id,
                    name=str(rate.get("name") or rate_id)[:100],
                    percent=str(rate.get("percent", "0")),
                    first_event_id=event_id,
                    created_at=now,
                )
                new.append(rate_id)
            else:
                row.name = str(rate.get("name") or row.name)[:100]
            row.updated_at = now
            session.add(row)
    return new


def set_mapping(
    engine: Engine, realm_id: str, rate_id: str, qbo_tax_code_id: str | None, actor: str
) -> MappingInfo | None:
    """Map (or, with None, unmap) a known JobRoutr rate; None when the rate is not known. The
    caller checks the code and wakes the invoices waiting on ``waits_on(rate_id)``."""
    with session_scope(engine) as session:
        row = session.get(TaxMapping, (realm_id, rate_id))
        if row is None:
            return None
        row.qbo_tax_code_id = qbo_tax_code_id
        row.mapped_by = actor if qbo_tax_code_id else None
        row.mapped_at = utcnow() if qbo_tax_code_id else None
        row.updated_at = utcnow()
        session.add(row)
        return _mapping(row)


def tax_codes(engine: Engine, realm_id: str, *, active_only: bool = True) -> list[TaxCodeInfo]:
    with session_scope(engine) as session:
        query = select(QboTaxCode).where(col(QboTaxCode.realm_id) == realm_id)
        if active_only:
            query = query.where(col(QboTaxCode.active).is_(True))
        rows = session.exec(query.order_by(col(QboTaxCode.name), col(QboTaxCode.qbo_id))).all()
        return [_code(row) for row in rows]


def tax_code(engine: Engine, realm_id: str, qbo_id: str) -> TaxCodeInfo | None:
    with session_scope(engine) as session:
        row = session.get(QboTaxCode, (realm_id, qbo_id))
        return _code(row) if row is not None else None


def invoice_settings(engine: Engine, realm_id: str) -> InvoiceSettings:
    with session_scope(engine) as session:
        row = choices.settings_row(session, realm_id)
        return InvoiceSettings(row.default_discount_account_id, row.untaxed_tax_code_id)
