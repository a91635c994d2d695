"""Connecting the appliance to a QuickBooks company, and disconnecting it.

``start`` makes a single-use, expiring ``state`` and the authorization URL. ``finish`` takes what
Intuit put on the redirect (from the browser hitting /oauth/callback, or a pasted URL), checks the
state once, refuses a different company than the one whose data is here unless the operator
said so, exchanges the code exactly once, stores the tokens sealed, and reads the company's name
and how it keeps its books (``sync.books``: a failure there is logged and shown, not fatal).
``disconnect`` revokes at Intuit and deletes the tokens, keeping imported data and links.

Every failure is an ApplianceError whose message says what happened and whose hint says what to
do next, in the words of JobRoutr's help page.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime, timedelta
from typing import Any

from appliance.core.admin import (
    ATTEMPT_CONNECTED,
    ATTEMPT_EXPIRED,
    ATTEMPT_FAILED,
    ATTEMPT_FINISHING,
    ATTEMPT_OPEN,
    ConnectAttempt,
    ConnectionInfo,
    ConnectStartReport,
    DisconnectReport,
)
from appliance.core.tokens import TokenSet
from appliance.errors import ApplianceError
from appliance.logging import get_logger
from appliance.qbo.client import QboClient
from appliance.qbo.errors import (
    AuthorizationError,
    CompanyStatusError,
    OAuthError,
    QboError,
    ReconnectNeededError,
    TransientError,
)
from appliance.qbo.oauth import HINTS, Callback, OAuthClient
from appliance.qbo.tokens import TokenManager
from appliance.storage import audit, connections
from appliance.storage.db import session_scope
from appliance.storage.models import OAuthStart
from appliance.storage.store import Store
from appliance.storage.types import utcnow
from appliance.sync.books import BooksReader

log = get_logger(__name__)
START_TTL = timedelta(minutes=15)
#: A started connection whose code is still being exchanged this long after the browser came
#: back did not finish (the service stopped meanwhile): it is told as failed.
FINISH_TTL = timedelta(minutes=2)
#: What the browser's page and the console say once connected.
CONNECTED_SENTENCE = "Your QuickBooks Online account is connected."


class ConnectError(ApplianceError):
    """Connecting or disconnecting did not happen: the message says why, the hint what next.
    ``page_hint``, where given, is what the browser page says instead of the hint: the page is
    read by whoever signed in to QuickBooks (on a phone, perhaps), not by the appliance's admin."""

    def __init__(self, message: str, hint: str = "", *, page_hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.page_hint = page_hint or hint


#: The browser page's hint for a QuickBooks user who is not a company administrator.
NOT_ADMIN_PAGE_HINT = (
    "In QuickBooks, Settings > Manage users shows who the company's administrators are. Ask "
    "one of them to open a new connect link and choose Connect, or ask whoever sent you this "
    "link to give you the administrator role."
)


STATE_PROBLEMS = {
    "unknown": (
        "This redirect URL was not started by this appliance (or its data was reset). "
        "Nothing was changed.",
        "Run `appliance connect` and use the new link.",
    ),
    "used": (
        "This redirect URL was already used. Nothing was changed.",
        "If the connection did not complete, run `appliance connect` again.",
    ),
    "expired": (
        "This connection link has expired (links last 15 minutes). Nothing was changed.",
        "Run `appliance connect` again and approve the new link promptly.",
    ),
}


def _company(realm: str, name: str | None) -> str:
    """A company as the operator knows it: its name, with the realm to tell it apart."""
    return f"{name} (realm {realm})" if name else f"the QuickBooks company with realm {realm}"


def _code_and_realm(callback: Callback) -> tuple[str, str]:
    """The authorization code and company of a redirect that carries them, or the reason
    Intuit gave for not connecting, as a ConnectError."""
    if callback.error:
        if callback.error == "access_denied":
            raise ConnectError(
                "The connection was cancelled in QuickBooks. Nothing was changed.",
                hint=HINTS["access_denied"],
                page_hint="To connect after all, open a new connect link and choose Connect; "
                "only a QuickBooks company administrator can connect apps.",
            )
        raise ConnectError(
            f"QuickBooks did not connect: {callback.error_description or callback.error}.",
            hint=HINTS.get(callback.error, "Run `appliance connect` again."),
        )
    if not callback.code or not callback.realm_id:
        raise ConnectError(
            "The redirect has no authorization code or company. Nothing was changed.",
            hint="Paste the whole address the browser shows after you choose Connect.",
        )
    return callback.code, callback.realm_id


def attempt_view(
    start: OAuthStart, now: datetime, current: ConnectionInfo | None
) -> ConnectAttempt:
    """A started connection as the operator is told it; ``current``: the connection now."""
    view = ConnectAttempt(
        attempt=start.state_hash,
        state=ATTEMPT_OPEN,
        started_at=start.created_at,
        expires_at=start.expires_at,
        finished_at=start.used_at,
    )
    if start.result == connections.CONNECTED_RESULT:
        view.state, view.connection = ATTEMPT_CONNECTED, current
        name = current.company_name or current.realm_id if current else ""
        view.message = CONNECTED_SENTENCE
        view.hint = f"Company: {name} ({start.environment})." if name else ""
    elif start.result is not None:
        view.state = ATTEMPT_FAILED
        view.message, _, view.hint = start.result.partition("\n")
    elif start.used_at is not None:
        if now - start.used_at > FINISH_TTL:
            view.state = ATTEMPT_FAILED
            view.message = "Connecting did not finish (the service stopped while it was)."
            view.hint = "Make a new link and approve it again."
        else:
            view.state = ATTEMPT_FINISHING
    elif start.expires_at < now:
        view.state = ATTEMPT_EXPIRED
        view.message = STATE_PROBLEMS["expired"][0].removesuffix(" Nothing was changed.")
        view.hint = "Make a new link and approve it promptly."
    return view


class Connector:
    def __init__(
        self,
        store: Store,
        oauth: OAuthClient,
        qbo: QboClient,
        tokens: TokenManager,
        *,
        environment: str,
        books: BooksReader,
    ) -> None:
        self.store = store
        self.oauth = oauth
        self.qbo = qbo
        self.tokens = tokens
        self.environment = environment
        self.books = books

    def start(self, *, actor: str, allow_other_company: bool = False) -> ConnectStartReport:
        state = secrets.token_urlsafe(32)
        with session_scope(self.store.engine) as session:
            start = connections.create_start(
                session,
                state,
                environment=self.environment,
                redirect_uri=self.oauth.redirect_uri,
                actor=actor,
                allow_other_company=allow_other_company,
                ttl=START_TTL,
            )
            audit.record(session, actor=actor, action="qbo.connect_started")
        log.info("qbo.connect_started", environment=self.environment)
        return ConnectStartReport(
            authorization_url=self.oauth.authorization_url(state),
            redirect_uri=self.oauth.redirect_uri,
            environment=self.environment,
            expires_at=start.expires_at,
            attempt=start.state_hash,
        )

    def attempt(self, attempt: str) -> ConnectAttempt | None:
        """How a started connection stands (None: no such attempt here)."""
        with self.store.session() as session:
            start = connections.started(session, attempt)
        if start is None:
            return None
        return attempt_view(start, utcnow(), self.store.connection_info())

    async def finish(self, callback: Callback, *, actor: str) -> ConnectionInfo:
        if not callback.state:
            raise ConnectError(
                "This is not the address QuickBooks redirects to after connecting: it has no "
                "state. Nothing was changed.",
                hint="Paste the whole address the browser shows after you choose Connect.",
            )
        try:
            start = await asyncio.to_thread(
                connections.consume_start, self.store.engine, callback.state
            )
        except connections.CallbackStateError as problem:
            message, hint = STATE_PROBLEMS[problem.reason]
            raise ConnectError(message, hint=hint) from None
        try:
            info = await self._finish(callback, start.allow_other_company, actor)
        except ApplianceError as exc:
            await asyncio.to_thread(
                connections.finish_start, self.store.engine, callback.state, exc.message, exc.hint
            )
            log.warning("qbo.connect_failed", reason=exc.message)
            raise
        await asyncio.to_thread(
            connections.finish_start,
            self.store.engine,
            callback.state,
            connections.CONNECTED_RESULT,
        )
        return info

    async def _finish(self, callback: Callback, allow_other: bool, actor: str) -> ConnectionInfo:
        """Once the state is checked: refuse another company, exchange the code, read the
        company with the new tokens, and only then store them, its name and its books: a company
        QuickBooks refuses (not an administrator, subscription ended) leaves nothing here."""
        code, realm = _code_and_realm(callback)
        self._refuse_other_company(realm, allow_other)
        tokens = await self._exchange(code)
        company = await self._company(realm, tokens.access_token)
        name = str(company.get("CompanyName") or company.get("LegalName") or "") or None
        await self._save(realm, name, tokens)
        self.tokens.forget(realm)
        await self.books.read(realm, "connect", company)
        with session_scope(self.store.engine) as session:
            audit.record(session, actor=actor, action="qbo.connected", realm_id=realm)
        log.info("qbo.connected", realm_id=realm, environment=self.environment)
        info = self.store.connection_info()
        assert info is not None
        return info

    def _refuse_other_company(self, realm: str, allow_other: bool) -> None:
        """Refuse a company other than the one whose data is here, unless the operator said so."""
        with self.store.session() as session:
            others = [r for r in connections.companies_with_data(session) if r != realm]
            if not others or allow_other:
                return
            chosen = _company(realm, connections.company_name(session, realm))
            held = [_company(r, connections.company_name(session, r)) for r in others]
        raise ConnectError(
            f"You chose {chosen}, but this appliance holds the data of another company, "
            f"{' and '.join(held)}. "
            "Nothing was changed.",
            hint=f"Connect to {held[0]} again, or, to switch companies on purpose, "
            "run `appliance connect --allow-other-company`.",
        )

    async def _exchange(self, code: str) -> TokenSet:
        """The tokens for the authorization code (exchanged once: a code is single-use)."""
        try:
            return await self.oauth.exchange(code, utcnow())
        except ReconnectNeededError:
            raise ConnectError(
                "QuickBooks refused the authorization code: it was already used or has "
                "expired. Nothing was changed.",
                hint="Run `appliance connect` again.",
            ) from None
        except OAuthError as exc:
            raise ConnectError(
                f"QuickBooks refused to connect ({exc.error}).", hint=exc.hint
            ) from None
        except TransientError as exc:
            raise ConnectError(
                f"Intuit could not be reached to finish connecting ({exc.message}).",
                hint="Check this machine's internet access, then run `appliance connect` again.",
            ) from None

    async def _save(self, realm: str, company_name: str | None, tokens: TokenSet) -> None:
        await asyncio.to_thread(
            connections.save_connection,
            self.store.engine,
            self.store.vault,
            realm_id=realm,
            environment=self.environment,
            company_name=company_name,
            tokens=tokens,
        )

    async def _company(self, realm: str, access_token: str) -> dict[str, Any]:
        """The company's ``CompanyInfo``, read with the new access token before anything is
        stored; if that fails, the company cannot be used: nothing is kept (the connection, if
        any, stays as it was)."""
        try:
            return await self.qbo.company_info(realm, access_token=access_token)
        except QboError as exc:
            raise self._company_problem(exc) from None

    @staticmethod
    def _company_problem(exc: QboError) -> ConnectError:
        if isinstance(exc, AuthorizationError):
            return ConnectError(
                "The QuickBooks user who connected is not allowed to use this company's data "
                "(only company administrators can connect apps). Nothing was kept.",
                hint="Ask a company administrator of this QuickBooks company to open a new "
                "connect link and approve it (`appliance connect` makes one).",
                page_hint=NOT_ADMIN_PAGE_HINT,
            )
        if isinstance(exc, CompanyStatusError):
            return ConnectError(
                "This QuickBooks company's subscription has ended, so apps cannot use it. "
                "Nothing was kept.",
                hint=exc.hint,
            )
        return ConnectError(
            f"Connected, but reading the company from QuickBooks failed: {exc}. Nothing was kept.",
            hint="Run `appliance connect` again; if it keeps failing, note the intuit_tid "
            f"{exc.intuit_tid or '(none)'} for Intuit support.",
        )

    async def disconnect(self, *, actor: str) -> DisconnectReport:
        with self.store.session() as session:
            company = connections.current_company(session)
        if company is None or company.state == "disconnected":
            raise ConnectError(
                "The appliance is not connected to QuickBooks.",
                hint="Nothing to disconnect. Run `appliance connect` to connect.",
            )
        realm = company.realm_id
        refresh = await asyncio.to_thread(
            connections.disconnect, self.store.engine, self.store.vault, realm
        )
        self.tokens.forget(realm)
        revoked, note = False, ""
        if refresh:
            try:
                await self.oauth.revoke(refresh)
                revoked = True
            except OAuthError:
                note = "Intuit no longer knew the token: it was already revoked."
            except QboError as exc:
                note = (
                    f"Intuit could not be reached to revoke ({exc.message}); the tokens were "
                    "deleted here. To be sure, remove the app in QuickBooks (Settings > Apps)."
                )
        with session_scope(self.store.engine) as session:
            audit.record(
                session, actor=actor, action="qbo.disconnected", realm_id=realm, revoked=revoked
            )
        log.info("qbo.disconnected", realm_id=realm, revoked=revoked)
        return DisconnectReport(
            realm_id=realm, company_name=company.company_name, revoked_at_intuit=revoked, note=note
        )
