"""JobRoutr credentials: API keys kept only as hashes, and the webhook signing secret."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from appliance.logging import forget_secrets, scrub
from appliance.storage import migrate
from appliance.storage.credentials import (
    API_KEY_PREFIX,
    active_api_keys,
    create_api_key,
    hash_api_key,
    new_webhook_secret,
    store_webhook_secret,
    verify_api_key,
    webhook_secret,
)
from appliance.storage.db import create_store_engine, session_scope
from appliance.storage.keyring import Keyring, save_keyring
from appliance.storage.models import ApiKey, Secret
from appliance.storage.types import utcnow
from appliance.storage.vault import Vault


@pytest.fixture(autouse=True)
def _forget_registered_secrets() -> Iterator[None]:
    forget_secrets()
    yield
    forget_secrets()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'appliance.db'}")
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    path = tmp_path / "keyring.json"
    save_keyring(path, Keyring.generate(), create_only=True)
    return Vault(path)


def new_key(engine: Engine, label: str = "jobroutr") -> tuple[str, str]:
    with session_scope(engine) as session:
        return create_api_key(session, label)


# Hashing ------------------------------------------------------------------------------------------


def test_hash_api_key_is_a_stable_sha256_hex_digest_that_is_not_the_key() -> None:
    key = "jra_example-key-for-hashing"

    digest = hash_api_key(key)

    assert digest == hash_api_key(key)
    assert len(digest) == 64
    assert int(digest, 16) >= 0
    assert key not in digest
    assert hash_api_key(key + "x") != digest


# Creating and verifying ---------------------------------------------------------------------------


def test_a_generated_api_key_starts_with_jra_and_is_long_and_random(engine: Engine) -> None:
    key_id, key = new_key(engine)
    _, other = new_key(engine)

    assert key.startswith(API_KEY_PREFIX)
    assert API_KEY_PREFIX == "jra_"
    assert len(key) >= len("jra_") + 43  # 32 random bytes in URL-safe base64
    assert key != other
    assert key_id.startswith("key_")


def test_only_the_hash_of_a_new_api_key_is_stored(engine: Engine) -> None:
    key_id, key = new_key(engine)

    with session_scope(engine) as session:
        row = session.get(ApiKey, key_id)
        assert row is not None
        assert row.key_hash == hash_api_key(key)
        assert row.key_hash != key
        assert key not in repr(row.model_dump())
        assert row.revoked_at is None


def test_the_right_key_is_accepted_and_its_use_is_recorded(engine: Engine) -> None:
    key_id, key = new_key(engine, "primary")

    with session_scope(engine) as session:
        row = verify_api_key(session, key)
        assert row is not None
        assert row.id == key_id
        assert row.label == "primary"
    with session_scope(engine) as session:
        stored = session.get(ApiKey, key_id)
        assert stored is not None
        assert stored.last_used_at is not None


@pytest.mark.parametrize(
    "mutate",
    [
        lambda key: key[:-1] + ("A" if key[-1] != "A" else "B"),
        lambda key: key + "x",
        lambda key: key[:-1],
        lambda key: key.upper(),
        lambda key: "",
        hash_api_key,
    ],
    ids=["last-char", "extra-char", "truncated", "case", "empty", "the-hash-itself"],
)
def test_a_wrong_key_is_rejected(engine: Engine, mutate: object) -> None:
    _, key = new_key(engine)
    wrong = mutate(key)  # type: ignore[operator]
    assert wrong != key

    with session_scope(engine) as session:
        assert verify_api_key(session, wrong) is None


def test_each_of_several_keys_verifies_as_itself(engine: Engine) -> None:
    first_id, first = new_key(engine, "a")
    second_id, second = new_key(engine, "b")

    with session_scope(engine) as session:
        first_row = verify_api_key(session, first)
        second_row = verify_api_key(session, second)
        assert first_row is not None
        assert second_row is not None
        assert (first_row.id, second_row.id) == (first_id, second_id)
        assert {row.id for row in active_api_keys(session)} == {first_id, second_id}


def test_a_revoked_key_is_rejected_and_no_longer_listed(engine: Engine) -> None:
    key_id, key = new_key(engine)
    with session_scope(engine) as session:
        row = session.get(ApiKey, key_id)
        assert row is not None
        row.revoked_at = utcnow()
        session.add(row)

    with session_scope(engine) as session:
        assert verify_api_key(session, key) is None
        assert active_api_keys(session) == []


def test_a_new_api_key_is_registered_with_the_log_redactor(engine: Engine) -> None:
    _, key = new_key(engine)

    # Not shaped like a key any more (no jra_ prefix, quoted), yet the exact value is known.
    assert key not in scrub(f"presented 'x{key}x'")


# The webhook secret -------------------------------------------------------------------------------


def test_a_webhook_secret_starts_with_whsec_and_holds_24_random_bytes() -> None:
    secret = new_webhook_secret()

    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 24
    assert new_webhook_secret() != secret


def test_the_webhook_secret_is_sealed_in_the_vault_not_stored_in_clear(
    engine: Engine, vault: Vault
) -> None:
    secret = new_webhook_secret()

    with session_scope(engine) as session:
        assert webhook_secret(session, vault) is None
        store_webhook_secret(session, vault, secret)

    with session_scope(engine) as session:
        rows = session.exec(select(Secret)).all()
        assert len(rows) == 1
        assert secret.encode() not in rows[0].ciphertext
        assert webhook_secret(session, vault) == secret
