"""The keyring file and the vault: secrets sealed to their row, under a key kept owner-only."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from appliance.errors import KeyringError, VaultError
from appliance.logging import forget_secrets, scrub
from appliance.storage import migrate
from appliance.storage.db import create_store_engine, session_scope
from appliance.storage.keyring import FORMAT, KEY_BYTES, Keyring, load_keyring, save_keyring
from appliance.storage.models import Secret
from appliance.storage.vault import (
    MAGIC,
    Cluster,
    Vault,
    key_problem,
    rotate_key,
    sealed_versions,
)

PLAINTEXT = "refresh-token-plaintext-AB11700000000"
SCOPE, NAME = "realm:9130124", "refresh_token"
ALONE = Cluster("test", lease_seconds=60)  # no other instance in the registry


@pytest.fixture(autouse=True)
def _forget_registered_secrets() -> Iterator[None]:
    # The vault registers every value it handles with the log redactor; keep tests independent.
    forget_secrets()
    yield
    forget_secrets()


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    path = tmp_path / "state" / "keyring.json"
    save_keyring(path, Keyring.generate(), create_only=True)
    return path


@pytest.fixture
def vault(key_path: Path) -> Vault:
    return Vault(key_path)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'state' / 'appliance.db'}")
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


def flip_bit(blob: bytes, index: int) -> bytes:
    return blob[:index] + bytes([blob[index] ^ 0x01]) + blob[index + 1 :]


# Seal and open ------------------------------------------------------------------------------------


def test_a_sealed_secret_opens_to_the_same_plaintext(vault: Vault) -> None:
    version, blob = vault.seal(SCOPE, NAME, PLAINTEXT)

    assert version == vault.keyring.active == 1
    assert vault.open(SCOPE, NAME, blob) == PLAINTEXT


def test_non_ascii_and_empty_plaintexts_round_trip(vault: Vault) -> None:
    for plaintext in ("", "pässwörd-✓-秘密"):
        _, blob = vault.seal(SCOPE, NAME, plaintext)
        assert vault.open(SCOPE, NAME, blob) == plaintext


def test_a_second_vault_on_the_same_key_file_opens_the_secret(vault: Vault, key_path: Path) -> None:
    _, blob = vault.seal(SCOPE, NAME, PLAINTEXT)

    assert Vault(key_path).open(SCOPE, NAME, blob) == PLAINTEXT


def test_the_ciphertext_does_not_contain_the_plaintext(vault: Vault) -> None:
    _, blob = vault.seal(SCOPE, NAME, PLAINTEXT)

    assert PLAINTEXT.encode() not in blob
    assert b"refresh-token" not in blob
    assert blob.startswith(MAGIC)


def test_sealing_the_same_value_twice_gives_different_ciphertexts(vault: Vault) -> None:
    _, first = vault.seal(SCOPE, NAME, PLAINTEXT)
    _, second = vault.seal(SCOPE, NAME, PLAINTEXT)

    assert first != second


def test_sealing_registers_the_plaintext_with_the_log_redactor(vault: Vault) -> None:
    vault.seal(SCOPE, NAME, PLAINTEXT)

    assert PLAINTEXT not in scrub(f"oops: {PLAINTEXT}")


def test_opening_registers_the_plaintext_with_the_log_redactor(
    vault: Vault, key_path: Path
) -> None:
    _, blob = vault.seal(SCOPE, NAME, PLAINTEXT)
    forget_secrets()

    Vault(key_path).open(SCOPE, NAME, blob)

    assert PLAINTEXT not in scrub(f"oops: {PLAINTEXT}")


@pytest.mark.parametrize(
    ("scope", "name"),
    [("realm:9130999", NAME), (SCOPE, "access_token"), ("jobroutr", "webhook_secret")],
)
def test_a_ciphertext_opened_for_another_row_fails(vault: Vault, scope: str, name: str) -> None:
    _, blob = vault.seal(SCOPE, NAME, PLAINTEXT)

    with pytest.raises(VaultError) as info:
        vault.open(scope, name, blob)

    assert f"{scope}/{name}" in str(info.value)
    assert "another record" in str(info.value)
    assert PLAINTEXT not in str(info.value)


def test_scope_and_name_cannot_be_shifted_across_the_separator(vault: Vault) -> None:
    _, blob = vault.seal("realm:1", "x|y", PLAINTEXT)

    with pytest.raises(VaultError):
        vault.open("realm:1|x", "y", blob)


@pytest.mark.parametrize("where", ["nonce", "body", "tag"])
def test_a_flipped_bit_makes_the_secret_fail_to_open(vault: Vault, where: str) -> None:
    _, blob = vault.seal(SCOPE, NAME, PLAINTEXT)
    index = {"nonce": 8, "body": 20, "tag": len(blob) - 1}[where]

    with pytest.raises(VaultError, match="does not open"):
        vault.open(SCOPE, NAME, flip_bit(blob, index))


def test_a_damaged_magic_header_is_refused_as_damaged(vault: Vault) -> None:
    _, blob = vault.seal(SCOPE, NAME, PLAINTEXT)

    with pytest.raises(VaultError, match="damaged"):
        vault.open(SCOPE, NAME, flip_bit(blob, 0))


def test_a_truncated_blob_is_refused_as_damaged(vault: Vault) -> None:
    _, blob = vault.seal(SCOPE, NAME, PLAINTEXT)

    with pytest.raises(VaultError, match="damaged"):
        vault.open(SCOPE, NAME, blob[:25])


def test_a_blob_sealed_under_a_key_version_not_in_the_file_fails_clearly(
    tmp_path: Path,
) -> None:
    old = Keyring.generate()
    rotated = old.with_new_active_key()
    version, blob = Vault(tmp_path / "unused", keyring=rotated).seal(SCOPE, NAME, PLAINTEXT)
    assert version == 2
    # The key file on disk only knows version 1: version 2 was lost (or never restored).
    key_path = tmp_path / "keyring.json"
    save_keyring(key_path, old)

    with pytest.raises(VaultError) as info:
        Vault(key_path).open(SCOPE, NAME, blob)

    message = str(info.value)
    assert "key version 2" in message
    assert f"{SCOPE}/{NAME}" in message
    assert "\n" not in message
    assert "backup" in info.value.hint


def test_a_blob_sealed_under_a_retired_key_fails_to_open(tmp_path: Path) -> None:
    key_path = tmp_path / "keyring.json"
    original = Keyring.generate()
    save_keyring(key_path, original)
    _, blob = Vault(key_path).seal(SCOPE, NAME, PLAINTEXT)
    retired = original.with_new_active_key().only_active()
    save_keyring(key_path, retired)

    with pytest.raises(VaultError, match="key version 1"):
        Vault(key_path).open(SCOPE, NAME, blob)


def test_a_vault_reloads_the_key_file_when_another_process_added_a_key(
    vault: Vault, key_path: Path
) -> None:
    rotated = load_keyring(key_path).with_new_active_key()
    save_keyring(key_path, rotated)
    version, blob = Vault(key_path).seal(SCOPE, NAME, PLAINTEXT)
    assert version == 2
    assert vault.keyring.key(2) is None

    assert vault.open(SCOPE, NAME, blob) == PLAINTEXT
    assert vault.keyring.active == 2


def test_every_key_in_a_rotating_keyring_opens_and_the_active_one_seals(tmp_path: Path) -> None:
    first = Keyring.generate()
    _, old_blob = Vault(tmp_path / "k", keyring=first).seal(SCOPE, NAME, PLAINTEXT)
    rotating = first.with_new_active_key()
    vault = Vault(tmp_path / "k", keyring=rotating)

    version, _ = vault.seal(SCOPE, NAME, "new")

    assert rotating.rotating
    assert version == 2
    assert vault.open(SCOPE, NAME, old_blob) == PLAINTEXT


# Rows in the store --------------------------------------------------------------------------------


def test_put_and_get_store_only_ciphertext_in_the_database(vault: Vault, engine: Engine) -> None:
    with session_scope(engine) as session:
        vault.put(session, SCOPE, NAME, PLAINTEXT)

    with session_scope(engine) as session:
        row = session.get(Secret, (SCOPE, NAME))
        assert row is not None
        assert PLAINTEXT.encode() not in row.ciphertext
        assert row.key_version == 1
        assert vault.get(session, SCOPE, NAME) == PLAINTEXT
        assert vault.get(session, SCOPE, "absent") is None


def test_a_ciphertext_copied_to_another_row_does_not_open(vault: Vault, engine: Engine) -> None:
    with session_scope(engine) as session:
        vault.put(session, "realm:1", NAME, PLAINTEXT)
        vault.put(session, "realm:2", NAME, "the other company's token")
    with session_scope(engine) as session:
        source = session.get(Secret, ("realm:1", NAME))
        target = session.get(Secret, ("realm:2", NAME))
        assert source is not None
        assert target is not None
        target.ciphertext = source.ciphertext
        session.add(target)

    with session_scope(engine) as session, pytest.raises(VaultError, match="realm:2"):
        vault.get(session, "realm:2", NAME)


def test_rotate_key_reseals_every_secret_and_retires_the_old_key(
    vault: Vault, engine: Engine, key_path: Path
) -> None:
    with session_scope(engine) as session:
        for index in range(3):
            vault.put(session, f"realm:{index}", NAME, f"{PLAINTEXT}-{index}")

    result = rotate_key(engine, vault, ALONE)

    assert (result.old_versions, result.new_version, result.resealed) == ((1,), 2, 3)
    assert sealed_versions(engine) == {2: 3}
    on_disk = load_keyring(key_path)
    assert set(on_disk.keys) == {2}
    with session_scope(engine) as session:
        for index in range(3):
            assert Vault(key_path).get(session, f"realm:{index}", NAME) == f"{PLAINTEXT}-{index}"


# The keyring file ---------------------------------------------------------------------------------


def test_a_saved_keyring_loads_back_identical(tmp_path: Path) -> None:
    keyring = Keyring.generate().with_new_active_key()
    path = tmp_path / "keyring.json"

    save_keyring(path, keyring)

    loaded = load_keyring(path)
    assert loaded == keyring
    assert loaded.active == 2
    assert all(len(key) == KEY_BYTES for key in loaded.keys.values())
    assert json.loads(path.read_text())["format"] == FORMAT


def test_keys_are_not_shown_in_the_keyring_repr() -> None:
    keyring = Keyring.generate()

    assert keyring.keys[1].hex() not in repr(keyring)
    assert repr(keyring.keys[1]) not in repr(keyring)


def test_the_keyring_file_is_created_owner_only_even_under_a_permissive_umask(
    tmp_path: Path,
) -> None:
    path = tmp_path / "new-state" / "keyring.json"
    previous = os.umask(0)
    try:
        save_keyring(path, Keyring.generate(), create_only=True)
    finally:
        os.umask(previous)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_replacing_the_keyring_file_keeps_it_owner_only(key_path: Path) -> None:
    keyring = load_keyring(key_path)
    key_path.chmod(0o644)

    save_keyring(key_path, keyring.with_new_active_key())

    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert load_keyring(key_path).active == 2


def test_create_only_refuses_to_overwrite_an_existing_keyring_file(key_path: Path) -> None:
    before = key_path.read_bytes()

    with pytest.raises(KeyringError) as info:
        save_keyring(key_path, Keyring.generate(), create_only=True)

    assert key_path.read_bytes() == before
    assert str(key_path) in str(info.value)
    assert "already exists" in str(info.value)


def test_saving_leaves_no_temporary_file_behind(key_path: Path) -> None:
    with pytest.raises(KeyringError):
        save_keyring(key_path, Keyring.generate(), create_only=True)
    save_keyring(key_path, Keyring.generate())

    assert sorted(p.name for p in key_path.parent.iterdir()) == ["keyring.json"]


def test_a_missing_keyring_file_is_a_sentence_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "absent.json"

    with pytest.raises(KeyringError) as info:
        Vault(path)

    assert str(info.value) == f"The data key file {path} does not exist."
    assert "appliance init" in info.value.hint


@pytest.mark.parametrize(
    "content",
    [
        "not json at all",
        "",
        "[]",
        json.dumps({"format": "something-else/1", "active": 1, "keys": {}}),
        json.dumps({"format": FORMAT, "active": 2, "keys": {"1": "AAAA" * 11}}),
        json.dumps({"format": FORMAT, "active": 1, "keys": {"1": "c2hvcnQ="}}),
        json.dumps({"format": FORMAT, "active": 1, "keys": {"1": "not base64!"}}),
        json.dumps({"format": FORMAT, "active": 1, "keys": {"one": "AAAA"}}),
        json.dumps({"format": FORMAT, "keys": {}}),
    ],
    ids=[
        "text",
        "empty",
        "list",
        "format",
        "active-missing",
        "short-key",
        "bad-base64",
        "bad-version",
        "no-active",
    ],
)
def test_a_damaged_keyring_file_is_a_sentence_naming_it(tmp_path: Path, content: str) -> None:
    path = tmp_path / "keyring.json"
    path.write_text(content)

    with pytest.raises(KeyringError) as info:
        load_keyring(path)

    message = str(info.value)
    assert message == f"The data key file {path} is damaged or not a key file."
    assert "backup" in info.value.hint
    assert info.value.__suppress_context__


def test_a_truncated_real_keyring_file_is_reported_as_damaged(key_path: Path) -> None:
    key_path.write_bytes(key_path.read_bytes()[:40])

    with pytest.raises(KeyringError, match="damaged"):
        load_keyring(key_path)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_a_keyring_file_other_users_can_read_or_change_is_refused_and_left_alone(
    key_path: Path, mode: int
) -> None:
    key_path.chmod(mode)

    with pytest.raises(KeyringError) as info:
        Vault(key_path)

    assert str(info.value) == (
        f"The data key file {key_path} can be read or changed by other users (mode {mode:04o})."
    )
    assert info.value.hint == f"Run `chmod 600 {key_path}`: only the appliance's user may have it."
    assert stat.S_IMODE(key_path.stat().st_mode) == mode


def test_a_keyring_link_to_a_file_others_can_read_names_both(
    key_path: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere.json"
    key_path.rename(elsewhere)
    elsewhere.chmod(0o644)
    key_path.symlink_to(elsewhere)

    with pytest.raises(KeyringError) as info:
        load_keyring(key_path)

    assert f"(mode 0644, a link to {elsewhere})" in str(info.value)
    elsewhere.chmod(0o600)
    assert load_keyring(key_path).active == 1


def test_an_unreadable_keyring_path_is_a_sentence_naming_it(tmp_path: Path) -> None:
    with pytest.raises(KeyringError) as info:
        load_keyring(tmp_path)

    assert str(tmp_path) in str(info.value)
    assert "cannot be read" in str(info.value)


def test_another_instance_picks_up_a_rotation_before_it_seals(
    engine: Engine, vault: Vault, key_path: Path
) -> None:
    """Two instances on one key file: the other one's rotation retires key 1, so this one must
    not seal anything under key 1 any more (nobody could open it)."""
    other = Vault(key_path)  # loaded at its start, key 1 active
    with session_scope(engine) as session:
        vault.put(session, SCOPE, NAME, PLAINTEXT)
    rotate_key(engine, vault, ALONE)
    version, blob = other.seal(SCOPE, NAME, PLAINTEXT)
    assert version == 2
    assert vault.open(SCOPE, NAME, blob) == PLAINTEXT


def test_key_problem_says_when_the_key_file_cannot_open_the_stored_secrets(
    engine: Engine, vault: Vault, key_path: Path, tmp_path: Path
) -> None:
    with session_scope(engine) as session:
        vault.put(session, SCOPE, NAME, PLAINTEXT)
    assert key_problem(engine, vault) is None
    stale_path = tmp_path / "copy" / "keyring.json"
    save_keyring(stale_path, load_keyring(key_path), create_only=True)
    stale = Vault(stale_path)  # another instance's copy of the key file, not updated
    rotate_key(engine, vault, ALONE)
    problem = key_problem(engine, stale)
    assert problem is not None
    assert "sealed with key version 2, which is not in the data key file" in problem
    save_keyring(stale_path, load_keyring(key_path))  # the operator copies the new file
    assert key_problem(engine, stale) is None
