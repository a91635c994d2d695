"""What JobRoutr authenticates with: API keys (kept as hashes) and the webhook signing secret.

API keys are 256 random bits, so a plain SHA-256 is a sound hash: there is nothing to brute-force,
and lookups stay constant-time per request. The webhook secret must be used to verify HMACs, so it
cannot be hashed; it is sealed in the vault instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from sqlmodel import Session, col, select

from appliance.logging import register_secret
from appliance.storage.models import ApiKey
from appliance.storage.types import utcnow
from appliance.storage.vault import Vault

API_KEY_PREFIX = "jra_"
WEBHOOK_SCOPE = "jobroutr"
WEBHOOK_SECRET = "webhook_secret"  # noqa: S105 - the row name, not a secret


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_api_key(session: Session, label: str = "jobroutr") -> tuple[str, str]:
    """Create a key; returns (key id, the key). Only its hash is kept: it cannot be shown again."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    register_secret(key)
    key_id = "key_" + secrets.token_hex(6)
    session.add(ApiKey(id=key_id, key_hash=hash_api_key(key), label=label))
    return key_id, key


def verify_api_key(session: Session, presented: str) -> ApiKey | None:
    """The active key matching ``presented``, if any (and note when it was used)."""
    digest = hash_api_key(presented)
    row = session.exec(
        select(ApiKey).where(ApiKey.key_hash == digest, col(ApiKey.revoked_at).is_(None))
    ).first()
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        return None
    row.last_used_at = utcnow()
    session.add(row)
    return row


def active_api_keys(session: Session) -> list[ApiKey]:
    return list(session.exec(select(ApiKey).where(col(ApiKey.revoked_at).is_(None))).all())


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def store_webhook_secret(session: Session, vault: Vault, secret: str) -> None:
    vault.put(session, WEBHOOK_SCOPE, WEBHOOK_SECRET, secret)


def webhook_secret(session: Session, vault: Vault) -> str | None:
    return vault.get(session, WEBHOOK_SCOPE, WEBHOOK_SECRET)
