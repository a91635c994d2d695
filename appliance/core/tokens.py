"""OAuth tokens and connection states: plain types shared by the QBO client and the store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

CONNECTED = "connected"
NEEDS_RECONNECT = "needs_reconnect"
DISCONNECTED = "disconnected"
#: The states as the operator reads them (the CLI, the console, readiness): never the raw names.
STATE_WORDS = {
    CONNECTED: "connected",
    NEEDS_RECONNECT: "needs reconnecting",
    DISCONNECTED: "disconnected",
}


def state_words(state: str) -> str:
    return STATE_WORDS.get(state, state.replace("_", " "))


@dataclass(frozen=True)
class TokenSet:
    """Tokens from Intuit with absolute expiry times (the rolling and the 5-year hard one)."""

    access_token: str
    refresh_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime
    hard_expires_at: datetime | None = None

    def __repr__(self) -> str:  # never print a token, even in a traceback
        return f"TokenSet(access_expires_at={self.access_expires_at.isoformat()}, ...)"


@dataclass(frozen=True)
class StoredTokens:
    state: str
    tokens: TokenSet | None
