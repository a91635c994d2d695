"""JobRoutr's tax rates and the QBO tax codes they are mapped to; the imported tax codes; the
invoice settings (discount account, the code for untaxed lines outside the US).

A JobRoutr rate is learned from the first invoice that uses it (``learn``), with the code the
appliance suggests for it (``core.taxes.suggest_code``, again after every tax-code import:
``resuggest``); the operator maps it (``set_mapping``); an invoice waiting for a mapping waits on
``taxrate:<jobroutr rate id>``, one waiting for the discount account or the untaxed code on
``settings:invoices`` (``INVOICE_SETTINGS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import col, select

from appliance.core.books import TaxModel
from appliance.core.taxes import suggest_code
from appliance.storage import audit, choices
from appliance.storage.books import get_books
from appliance.storage.db import session_scope
from appliance.storage.models import QboTaxCode, TaxMapping
from appliance.storage.types import utcnow

#: What an invoice waiting for the discount account or the code for untaxed lines waits on.
INVOICE_SETTINGS = "settings:invoices"


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
    codes = tax_codes(engine, realm_id)
    one_code = _one_code_per_invoice(engine, realm_id)
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
            if row.suggested_qbo_id is None:
                row.suggested_qbo_id = suggest_code(
                    row.name, row.percent, codes, one_code_per_invoice=one_code
                )
            row.updated_at = now
            session.add(row)
    return new


def resuggest(engine: Engine, realm_id: str) -> int:
    """Suggest anew for every known rate from the codes imported now (after a tax-code import:
    a code may be new, or inactive now); returns how many suggestions changed."""
    codes = tax_codes(engine, realm_id)
    one_code = _one_code_per_invoice(engine, realm_id)
    changed = 0
    with session_scope(engine) as session:
        rows = session.exec(select(TaxMapping).where(col(TaxMapping.realm_id) == realm_id)).all()
        for row in rows:
            suggested = suggest_code(row.name, row.percent, codes, one_code_per_invoice=one_code)
            if suggested != row.suggested_qbo_id:
                row.suggested_qbo_id = suggested
                row.updated_at = utcnow()
                session.add(row)
                changed += 1
    return changed


def _one_code_per_invoice(engine: Engine, realm_id: str) -> bool:
    books = get_books(engine, realm_id)
    return books is not None and books.tax_model == TaxModel.US_MANUAL


def set_mapping(
    engine: Engine,
    realm_id: str,
    rate_id: str,
    qbo_tax_code_id: str | None,
    actor: str,
    *,
    forced: bool = False,
) -> MappingInfo | None:
    """Map (or, with None, unmap) a known JobRoutr rate, in the audit log with who did it and
    whether a code of another percent was forced; None when the rate is not known. The caller
    checks the code and wakes the invoices waiting on ``waits_on(rate_id)``."""
    with session_scope(engine) as session:
        row = session.get(TaxMapping, (realm_id, rate_id))
        if row is None:
            return None
        before = row.qbo_tax_code_id
        row.qbo_tax_code_id = qbo_tax_code_id
        row.mapped_by = actor[:64] if qbo_tax_code_id else None
        row.mapped_at = utcnow() if qbo_tax_code_id else None
        row.updated_at = utcnow()
        session.add(row)
        audit.record(
            session,
            actor=actor,
            action="tax.mapped" if qbo_tax_code_id else "tax.unmapped",
            realm_id=realm_id,
            jobroutr_rate_id=rate_id,
            qbo_tax_code_id=qbo_tax_code_id,
            previous_qbo_tax_code_id=before,
            **({"forced": True} if forced else {}),
        )
        return _mapping(row)


def set_invoice_settings(
    engine: Engine,
    realm_id: str,
    actor: str,
    *,
    discount_account_id: str | None = None,
    untaxed_tax_code_id: str | None = None,
) -> InvoiceSettings:
    """Choose the discount account and/or the code for untaxed lines (None: left as it is),
    audited. The caller checks them and wakes what waits on ``INVOICE_SETTINGS``."""
    with session_scope(engine) as session:
        row = choices.settings_row(session, realm_id)
        if discount_account_id is not None:
            row.default_discount_account_id = discount_account_id
        if untaxed_tax_code_id is not None:
            row.untaxed_tax_code_id = untaxed_tax_code_id
        row.updated_at = utcnow()
        session.add(row)
        audit.record(
            session,
            actor=actor,
            action="settings.invoice_settings_set",
            realm_id=realm_id,
            discount_account_id=discount_account_id,
            untaxed_tax_code_id=untaxed_tax_code_id,
        )
        return InvoiceSettings(row.default_discount_account_id, row.untaxed_tax_code_id)


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
