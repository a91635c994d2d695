"""The staged key file and the coordinated rotation: a new key is written ahead, opens but seals
nothing, and becomes the store's key only when every live instance holds it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from appliance.errors import KeyNotHeldError, KeyringError, VaultError
from appliance.logging import forget_secrets
from appliance.storage import instances, migrate
from appliance.storage.db import create_store_engine, session_scope
from appliance.storage.keyring import FORMAT, Keyring, fingerprint, load_keyring, save_keyring
from appliance.storage.types import utcnow
from appliance.storage.vault import Cluster, Vault, rotate_key, sealed_versions

PLAINTEXT = "refresh-token-plaintext-AB11700000000"
SCOPE, NAME = "realm:9130124", "refresh_token"
HERE = Cluster("gateway-a", lease_seconds=60, wait_seconds=0.3)


@pytest.fixture(autouse=True)
def _forget_registered_secrets() -> Iterator[None]:
    forget_secrets()
    yield
    forget_secrets()


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    path = tmp_path / "a" / "keyring.json"
    save_keyring(path, Keyring.generate(), create_only=True)
    return path


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'appliance.db'}")
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


def _plant(engine: Engine, vault: Vault, count: int = 3) -> None:
    with session_scope(engine) as session:
        for index in range(count):
            vault.put(session, f"realm:{index}", NAME, f"{PLAINTEXT}-{index}")


def _copy(source: Path, target: Path) -> Path:
    save_keyring(target, load_keyring(source))
    return target


def _report(engine: Engine, name: str, key_file: Path) -> None:
    """What another live instance's heartbeat writes."""
    instances.heartbeat(engine, name, utcnow(), load_keyring(key_file).fingerprints())


# The file ---------------------------------------------------------------------------------------


def test_a_staged_key_is_saved_and_loads_back_staged(tmp_path: Path) -> None:
    staged = Keyring.generate().with_staged_key()
    path = tmp_path / "keyring.json"
    save_keyring(path, staged)

    doc = json.loads(path.read_text())
    assert (doc["active"], doc["staged"]) == (1, 2)
    assert load_keyring(path) == staged
    assert load_keyring(path).staged == 2


def test_a_key_file_written_before_staging_existed_loads_with_nothing_staged(
    tmp_path: Path,
) -> None:
    key = Keyring.generate()
    path = tmp_path / "keyring.json"
    old = {"format": FORMAT, "active": 1, "keys": json.loads(key.to_json())["keys"]}
    path.write_text(json.dumps(old))
    path.chmod(0o600)

    assert load_keyring(path) == key
    assert "staged" not in key.to_json()


@pytest.mark.parametrize(
    "staged", [3, 2, "two"], ids=["not-in-file", "the-active-one", "no-number"]
)
def test_a_staged_version_not_in_the_file_or_the_active_one_is_damage(
    tmp_path: Path, staged: object
) -> None:
    doc = json.loads(Keyring.generate().with_new_active_key().to_json())  # keys 1 and 2, 2 active
    doc["staged"] = staged
    path = tmp_path / "keyring.json"
    path.write_text(json.dumps(doc))
    path.chmod(0o600)

    with pytest.raises(KeyringError, match="damaged"):
        load_keyring(path)


def test_a_staged_key_opens_but_the_active_one_seals(key_path: Path) -> None:
    staged = load_keyring(key_path).with_staged_key()
    save_keyring(key_path, staged)
    vault = Vault(key_path)
    version, _ = vault.seal(SCOPE, NAME, PLAINTEXT)
    assert version == 1
    _, blob = Vault(key_path, keyring=staged.promoted()).seal(SCOPE, NAME, PLAINTEXT)
    assert vault.open(SCOPE, NAME, blob) == PLAINTEXT


def test_fingerprints_tell_keys_apart_and_do_not_contain_them() -> None:
    one, two = Keyring.generate(), Keyring.generate()
    assert one.fingerprints()[1] != two.fingerprints()[1]
    assert one.fingerprints() == Keyring(active=1, keys=dict(one.keys)).fingerprints()
    assert one.keys[1].hex() not in fingerprint(one.keys[1])


# The rotation -----------------------------------------------------------------------------------


def test_rotation_refuses_and_reseals_nothing_while_a_live_instance_lacks_the_new_key(
    engine: Engine, key_path: Path, tmp_path: Path
) -> None:
    vault = Vault(key_path)
    _plant(engine, vault)
    copy = _copy(key_path, tmp_path / "b" / "keyring.json")
    _report(engine, "gateway-b", copy)

    with pytest.raises(KeyNotHeldError) as info:
        rotate_key(engine, vault, HERE)

    assert "gateway-b" in info.value.message
    assert "rotate-key" in info.value.hint
    assert sealed_versions(engine) == {1: 3}
    on_disk = load_keyring(key_path)
    assert (on_disk.active, on_disk.staged) == (1, 2)
    # Run again before the copy: the same staged key, not a third one.
    with pytest.raises(KeyNotHeldError):
        rotate_key(engine, vault, HERE)
    assert load_keyring(key_path).keys == on_disk.keys

    _copy(key_path, copy)  # the operator copies the file; b's heartbeat reports it
    _report(engine, "gateway-b", copy)
    result = rotate_key(engine, vault, HERE)

    assert (result.new_version, result.resealed, result.resumed) == (2, 3, True)
    assert sealed_versions(engine) == {2: 3}


def test_an_instance_gone_longer_than_the_lease_is_not_waited_for(
    engine: Engine, key_path: Path, tmp_path: Path
) -> None:
    vault = Vault(key_path)
    _plant(engine, vault)
    _report(engine, "gateway-b", _copy(key_path, tmp_path / "b" / "keyring.json"))

    result = rotate_key(engine, vault, Cluster("gateway-a", lease_seconds=0.001))

    assert result.new_version == 2


def test_an_instance_with_an_older_copy_seals_with_the_stores_key_after_the_rotation(
    engine: Engine, key_path: Path, tmp_path: Path
) -> None:
    vault = Vault(key_path)
    _plant(engine, vault)
    copy = tmp_path / "b" / "keyring.json"
    _report(engine, "gateway-b", _copy(key_path, copy))
    with pytest.raises(KeyNotHeldError):
        rotate_key(engine, vault, HERE)
    _report(engine, "gateway-b", _copy(key_path, copy))  # b: key 1 active, key 2 staged
    rotate_key(engine, vault, HERE)
    other = Vault(copy)

    assert other.keyring.active == 1
    with session_scope(engine) as session:
        other.put(session, SCOPE, NAME, PLAINTEXT)  # b seals under 2, which a still has
    with session_scope(engine) as session:
        assert vault.get(session, SCOPE, NAME) == PLAINTEXT
    assert sealed_versions(engine) == {2: 4}


def test_an_instance_without_the_stores_key_refuses_to_seal(
    engine: Engine, key_path: Path, tmp_path: Path
) -> None:
    vault = Vault(key_path)
    _plant(engine, vault)
    stale = Vault(_copy(key_path, tmp_path / "b" / "keyring.json"))  # not live: not waited for
    rotate_key(engine, vault, HERE)

    with (
        pytest.raises(VaultError, match="does not hold the store's current key"),
        session_scope(engine) as session,
    ):
        stale.put(session, SCOPE, NAME, PLAINTEXT)
    assert sealed_versions(engine) == {2: 3}


def test_rotate_key_on_an_instance_whose_copy_is_behind_takes_the_stores_key(
    engine: Engine, key_path: Path, tmp_path: Path
) -> None:
    vault = Vault(key_path)
    _plant(engine, vault)
    copy = tmp_path / "b" / "keyring.json"
    _report(engine, "gateway-b", _copy(key_path, copy))
    with pytest.raises(KeyNotHeldError):
        rotate_key(engine, vault, HERE)
    _report(engine, "gateway-b", _copy(key_path, copy))
    rotate_key(engine, vault, HERE)  # a: only key 2; b's copy: 1 active, 2 staged

    result = rotate_key(engine, Vault(copy), Cluster("gateway-b", 60, 0.3))

    assert result.new_version == 2  # it finished b's file, it did not go back to key 1
    assert load_keyring(copy).keys == load_keyring(key_path).keys
    assert sealed_versions(engine) == {2: 3}
