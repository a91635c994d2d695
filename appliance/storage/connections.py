"""The QuickBooks connection in the store: started connections (single-use states), tokens
sealed in the vault, the cross-process refresh lease, and the connection's state.

Tokens live in the vault under scope ``realm:<id>`` (``access_token``, ``refresh_token``); the
``company`` row holds their expiry times and the state (connected, needs_reconnect,
disconnected). Nothing here talks to Intuit.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from appliance.core.tokens import CONNECTED, DISCONNECTED, NEEDS_RECONNECT, StoredTokens, TokenSet
from appliance.storage.db import session_scope
from appliance.storage.models import Company, Link, OAuthStart, QboCustomer, QboItem
from appliance.storage.types import utcnow
from appliance.storage.vault import Vault

ACCESS = "access_token"
REFRESH = "refresh_token"


def token_scope(realm_id: str) -> str:
    return f"realm:{realm_id}"


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


class CallbackStateError(Exception):
    """A callback whose state is unknown, used or expired (its attribute says which)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def create_start(
    session: Session,
    state: str,
    *,
    environment: str,
    redirect_uri: str,
    actor: str,
    allow_other_company: bool,
    ttl: timedelta,
) -> OAuthStart:
    now = utcnow()
    start = OAuthStart(
        state_hash=state_hash(state),
        environment=environment,
        redirect_uri=redirect_uri,
        actor=actor[:64],
        allow_other_company=allow_other_company,
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(start)
    return start


def consume_start(engine: Engine, state: str) -> OAuthStart:
    """Use a state once: the first caller gets it, every later one CallbackStateError('used')."""
    digest = state_hash(state)
    now = utcnow()
    with session_scope(engine) as session:
        start = session.get(OAuthStart, digest)
        if start is None:
            raise CallbackStateError("unknown")
        if start.used_at is not None:
            raise CallbackStateError("used")
        if start.expires_at < now:
            raise CallbackStateError("expired")
        claimed = session.exec(
            update(OAuthStart)
            .where(col(OAuthStart.state_hash) == digest, col(OAuthStart.used_at).is_(None))
            .values(used_at=now)
        )
        if claimed.rowcount != 1:
            raise CallbackStateError("used")
        start.used_at = now
        return start


#: ``OAuthStart.result`` of a started connection that connected; otherwise the failure's
#: sentence, then its hint after a line break (both as the browser's page showed them).
CONNECTED_RESULT = "ok"


def finish_start(engine: Engine, state: str, result: str, hint: str = "") -> None:
    with session_scope(engine) as session:
        start = session.get(OAuthStart, state_hash(state))
        if start is not None:
            message = " ".join(result.split())[:500]
            start.result = f"{message}\n{hint}"[:500] if hint else message
            session.add(start)


def started(session: Session, digest: str) -> OAuthStart | None:
    """A started connection by its state's hash (``ConnectStartReport.attempt``)."""
    return session.get(OAuthStart, digest)


def companies_with_data(session: Session) -> list[str]:
    """Realms whose imported records or links are kept here."""
    realms: set[str] = set()
    for model in (QboCustomer, QboItem, Link):
        realms.update(session.exec(select(model.realm_id).distinct()).all())
    return sorted(realms)


def company_name(session: Session, realm_id: str) -> str | None:
    """The name a company had when it was last connected here, if it ever was."""
    company = session.get(Company, realm_id)
    return company.company_name if company is not None else None


def save_connection(
    engine: Engine,
    vault: Vault,
    *,
    realm_id: str,
    environment: str,
    company_name: str | None,
    tokens: TokenSet,
) -> Company:
    now = utcnow()
    with session_scope(engine) as session:
        company = session.get(Company, realm_id) or Company(
            realm_id=realm_id, environment=environment
        )
        company.environment = environment
        company.company_name = company_name
        company.state = CONNECTED
        company.connected_at = now
        company.disconnected_at = None
        company.last_error = None
        company.refresh_lock_owner = None
        company.refresh_lock_until = None
        _set_tokens(session, vault, company, tokens)
        company.updated_at = now
        session.add(company)
    return company


def _set_tokens(session: Session, vault: Vault, company: Company, tokens: TokenSet) -> None:
    scope = token_scope(company.realm_id)
    vault.put(session, scope, REFRESH, tokens.refresh_token)
    vault.put(session, scope, ACCESS, tokens.access_token)
    company.access_token_expires_at = tokens.access_expires_at
    company.refresh_token_expires_at = tokens.refresh_expires_at
    if tokens.hard_expires_at is not None:
        company.refresh_token_hard_expires_at = tokens.hard_expires_at


def current_company(session: Session) -> Company | None:
    return session.exec(select(Company).order_by(col(Company.updated_at).desc()).limit(1)).first()


def disconnect(engine: Engine, vault: Vault, realm_id: str) -> str | None:
    """Delete the tokens and mark the company disconnected; returns the refresh token (to revoke).
    Imported records, links and settings stay, so a reconnect to the same company carries on."""
    now = utcnow()
    with session_scope(engine) as session:
        company = session.get(Company, realm_id)
        if company is None:
            return None
        scope = token_scope(realm_id)
        refresh = vault.get(session, scope, REFRESH)
        vault.delete(session, scope, REFRESH)
        vault.delete(session, scope, ACCESS)
        company.state = DISCONNECTED
        company.disconnected_at = now
        company.access_token_expires_at = None
        company.refresh_token_expires_at = None
        company.refresh_token_hard_expires_at = None
        company.updated_at = now
        session.add(company)
    return refresh


class StoreTokens:
    """The store's side of the token refresh protocol (``appliance.qbo.tokens.TokenStore``)."""

    def __init__(self, engine: Engine, vault: Vault) -> None:
        self.engine = engine
        self.vault = vault

    def load(self, realm_id: str) -> StoredTokens | None:
        with Session(self.engine) as session:
            company = session.get(Company, realm_id)
            if company is None:
                return None
            scope = token_scope(realm_id)
            access = self.vault.get(session, scope, ACCESS)
            refresh = self.vault.get(session, scope, REFRESH)
        if access is None or refresh is None or company.access_token_expires_at is None:
            return StoredTokens(company.state, None)
        return StoredTokens(
            company.state,
            TokenSet(
                access_token=access,
                refresh_token=refresh,
                access_expires_at=company.access_token_expires_at,
                refresh_expires_at=company.refresh_token_expires_at
                or company.access_token_expires_at,
                hard_expires_at=company.refresh_token_hard_expires_at,
            ),
        )

    def try_lease(self, realm_id: str, owner: str, seconds: float) -> bool:
        now = utcnow()
        with session_scope(self.engine) as session:
            taken = session.exec(
                update(Company)
                .where(
                    col(Company.realm_id) == realm_id,
                    or_(
                        col(Company.refresh_lock_owner).is_(None),
                        col(Company.refresh_lock_owner) == owner,
                        col(Company.refresh_lock_until) < now,
                    ),
                )
                .values(
                    refresh_lock_owner=owner, refresh_lock_until=now + timedelta(seconds=seconds)
                )
            )
            return bool(taken.rowcount == 1)

    def release(self, realm_id: str, owner: str) -> None:
        with session_scope(self.engine) as session:
            session.exec(
                update(Company)
                .where(col(Company.realm_id) == realm_id, col(Company.refresh_lock_owner) == owner)
                .values(refresh_lock_owner=None, refresh_lock_until=None)
            )

    def save_refreshed(self, realm_id: str, owner: str, tokens: TokenSet) -> None:
        now = utcnow()
        with session_scope(self.engine) as session:
            company = session.get(Company, realm_id)
            if company is None:
                return
            _set_tokens(session, self.vault, company, tokens)
            company.last_refresh_at = now
            company.updated_at = now
            if company.refresh_lock_owner == owner:
                company.refresh_lock_owner = None
                company.refresh_lock_until = None
            session.add(company)

    def mark_needs_reconnect(self, realm_id: str, owner: str, reason: str) -> None:
        now = utcnow()
        with session_scope(self.engine) as session:
            company = session.get(Company, realm_id)
            if company is None:
                return
            company.state = NEEDS_RECONNECT
            company.last_error = reason[:500]
            company.updated_at = now
            if company.refresh_lock_owner == owner:
                company.refresh_lock_owner = None
                company.refresh_lock_until = None
            session.add(company)
