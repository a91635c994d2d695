"""Secrets at rest: AES-256-GCM, each ciphertext bound to the row and field it belongs to.

A sealed value is ``b"JRV1" | key version (4 bytes) | nonce (12 bytes) | ciphertext+tag``, and its
associated data names the table, scope and name it was sealed for. A ciphertext copied to another
row, or with one bit flipped, fails to open; so does one sealed under a key that was retired.

``rotate_key`` re-seals every secret under a new key and then retires the old one. It is
restartable: killed at any point, running it again finishes the same rotation.

Several instances on one database read the same key file (docs/install.md, "Several
instances"). Each vault looks at the file before it seals or opens (a ``stat``, no read) and
loads it again when it changed, so a rotation by another instance is picked up before anything
is sealed under a retired key; ``key_problem`` tells /readyz when this instance's key file cannot
open the store's secrets (a copy not updated after a rotation elsewhere).
"""

from __future__ import annotations

import json
import os
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from appliance.errors import VaultError
from appliance.logging import get_logger, register_secret
from appliance.storage.db import session_scope
from appliance.storage.keyring import Keyring, load_keyring, save_keyring
from appliance.storage.models import Secret
from appliance.storage.types import utcnow

MAGIC = b"JRV1"
_HEADER = struct.Struct(">4sI12s")
RESEAL_BATCH = 100

log = get_logger(__name__)


def _aad(scope: str, name: str) -> bytes:
    # JSON, not a joined string, so no scope/name pair can be shifted across a separator.
    return json.dumps(["jobroutr-appliance", "secret", scope, name]).encode()


class Vault:
    """Seals and opens secrets with the keyring from ``key_path``; safe to share across threads."""

    def __init__(self, key_path: Path, keyring: Keyring | None = None) -> None:
        self.key_path = key_path
        self._stamp = _stamp(key_path)
        self._keyring = keyring if keyring is not None else load_keyring(key_path)
        self.lock = threading.RLock()

    @property
    def keyring(self) -> Keyring:
        return self._keyring

    def reload(self) -> None:
        with self.lock:
            stamp = _stamp(self.key_path)
            self._keyring = load_keyring(self.key_path)
            self._stamp = stamp

    def adopt(self, keyring: Keyring) -> None:
        """This process wrote ``keyring`` to the key file itself."""
        with self.lock:
            self._keyring, self._stamp = keyring, _stamp(self.key_path)

    def _fresh(self) -> None:
        """Load the key file again if it changed since (another instance rotated the key)."""
        stamp = _stamp(self.key_path)
        if stamp is not None and stamp != self._stamp:
            with self.lock:
                if stamp != self._stamp:
                    self.reload()

    def seal(self, scope: str, name: str, plaintext: str) -> tuple[int, bytes]:
        register_secret(plaintext)
        self._fresh()
        with self.lock:
            version = self._keyring.active
            key = self._keyring.keys[version]
        nonce = os.urandom(12)
        body = AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), _aad(scope, name))
        return version, _HEADER.pack(MAGIC, version, nonce) + body

    def open(self, scope: str, name: str, blob: bytes) -> str:
        if len(blob) < _HEADER.size + 16:
            raise VaultError(f"The stored secret {scope}/{name} is damaged.")
        magic, version, nonce = _HEADER.unpack_from(blob)
        if magic != MAGIC:
            raise VaultError(f"The stored secret {scope}/{name} is damaged.")
        self._fresh()
        key = self._keyring.key(version)
        if key is None:
            # Another process may have rotated the key since we loaded it.
            self.reload()
            key = self._keyring.key(version)
        if key is None:
            raise VaultError(
                f"The stored secret {scope}/{name} is sealed with key version {version}, "
                "which is not in the data key file.",
                hint="Restore the data key file that belongs to this database from your backup.",
            )
        try:
            plaintext = AESGCM(key).decrypt(nonce, blob[_HEADER.size :], _aad(scope, name)).decode()
        except InvalidTag:
            raise VaultError(
                f"The stored secret {scope}/{name} does not open: it was altered or belongs to "
                "another record."
            ) from None
        register_secret(plaintext)
        return plaintext

    # Rows ------------------------------------------------------------------------------------

    def put(self, session: Session, scope: str, name: str, plaintext: str) -> None:
        version, blob = self.seal(scope, name, plaintext)
        row = session.get(Secret, (scope, name))
        if row is None:
            row = Secret(scope=scope, name=name, key_version=version, ciphertext=blob)
        else:
            row.key_version, row.ciphertext, row.updated_at = version, blob, utcnow()
        session.add(row)

    def get(self, session: Session, scope: str, name: str) -> str | None:
        row = session.get(Secret, (scope, name))
        return None if row is None else self.open(scope, name, row.ciphertext)

    def delete(self, session: Session, scope: str, name: str) -> None:
        row = session.get(Secret, (scope, name))
        if row is not None:
            session.delete(row)


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """What tells a changed key file (it is replaced whole: a new inode); None if unreadable."""
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_ino, info.st_mtime_ns, info.st_size


def key_problem(engine: Engine, vault: Vault) -> str | None:
    """Why this key file cannot open the store's secrets (one of each key version is opened), or
    None when it can: for /readyz, so an instance with a stale key file takes no traffic."""
    with Session(engine) as session:
        versions = session.exec(select(Secret.key_version).distinct()).all()
        for version in versions:
            row = session.exec(select(Secret).where(col(Secret.key_version) == version)).first()
            if row is None:
                continue
            try:
                vault.open(row.scope, row.name, row.ciphertext)
            except VaultError as exc:
                return f"{exc.message} {exc.hint}" if exc.hint else exc.message
    return None


@dataclass(frozen=True)
class RotationResult:
    old_versions: tuple[int, ...]
    new_version: int
    resealed: int
    resumed: bool


def sealed_versions(engine: Engine) -> dict[int, int]:
    """How many secrets are sealed under each key version."""
    with Session(engine) as session:
        rows = session.exec(
            select(Secret.key_version, func.count()).group_by(col(Secret.key_version))
        ).all()
    return {int(version): int(count) for version, count in rows}


def rotate_key(
    engine: Engine, vault: Vault, *, on_batch: Callable[[int], None] | None = None
) -> RotationResult:
    """Re-seal every secret under a new key, then retire the old keys. Restartable."""
    with vault.lock:
        current = load_keyring(vault.key_path)
        resumed = current.rotating
        if not resumed:
            current = current.with_new_active_key()
            # The new key is on disk before anything is sealed with it.
            save_keyring(vault.key_path, current)
        vault.adopt(current)
        old = tuple(sorted(v for v in current.keys if v != current.active))
        log.info(
            "key.rotation_started",
            new_key_version=current.active,
            old_key_versions=old,
            resumed=resumed,
        )
        resealed = 0
        while True:
            with session_scope(engine) as session:
                batch = session.exec(
                    select(Secret)
                    .where(col(Secret.key_version) != current.active)
                    .limit(RESEAL_BATCH)
                ).all()
                for row in batch:
                    plaintext = vault.open(row.scope, row.name, row.ciphertext)
                    row.key_version, row.ciphertext = vault.seal(row.scope, row.name, plaintext)
                    session.add(row)
            resealed += len(batch)
            if on_batch is not None and batch:
                on_batch(resealed)
            if len(batch) < RESEAL_BATCH:
                break
        remaining = {v: n for v, n in sealed_versions(engine).items() if v != current.active}
        if remaining:
            raise VaultError(f"Secrets still sealed under old keys: {remaining}; run it again.")
        retired = current.only_active()
        save_keyring(vault.key_path, retired)
        vault.adopt(retired)
        log.info("key.rotation_finished", new_key_version=current.active, resealed=resealed)
        return RotationResult(old, current.active, resealed, resumed)
