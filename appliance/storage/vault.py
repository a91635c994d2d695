"""Secrets at rest: AES-256-GCM, each ciphertext bound to the row and field it belongs to.

A sealed value is ``b"JRV1" | key version (4 bytes) | nonce (12 bytes) | ciphertext+tag``, and its
associated data names the table, scope and name it was sealed for. A ciphertext copied to another
row, or with one bit flipped, fails to open; so does one sealed under a key that was retired.

``rotate_key`` stages a new key in the key file (it opens, seals nothing), waits until every live
instance reports holding it (storage/instances.py), then makes it the store's current key,
re-seals every secret under it and retires the old one. With a copy of the key file on each
instance, an instance without the new key is named and nothing is re-sealed. It is restartable:
killed or refused at any point, running it again finishes the same rotation. Every instance
seals with the store's current key (``data_key``), not just its file's active one.

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
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from appliance.errors import KeyNotHeldError, VaultError
from appliance.logging import get_logger, register_secret
from appliance.storage import instances
from appliance.storage.db import session_scope
from appliance.storage.keyring import Keyring, fingerprint, load_keyring, save_keyring
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

    def fresh(self) -> Keyring:
        """The keyring of the key file as it is now (loaded again if it changed)."""
        self._fresh()
        return self._keyring

    def _fresh(self) -> None:
        """Load the key file again if it changed since (another instance rotated the key)."""
        stamp = _stamp(self.key_path)
        if stamp is not None and stamp != self._stamp:
            with self.lock:
                if stamp != self._stamp:
                    self.reload()

    def seal(
        self, scope: str, name: str, plaintext: str, *, version: int | None = None
    ) -> tuple[int, bytes]:
        """Seal under ``version`` (the store's current key, from ``sealing_version``), or this
        file's active key."""
        register_secret(plaintext)
        self._fresh()
        with self.lock:
            version = self._keyring.active if version is None else version
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

    def sealing_version(self, session: Session) -> int | None:
        """The store's current key version when the store names one (after a rotation), which
        this key file must hold; the file's active key otherwise (None)."""
        stored = instances.current_key(session, for_sealing=True)
        if stored is None:
            return None
        self._fresh()
        version = _held_version(self._keyring, stored[1])
        if version is None:
            self.reload()  # copied here since we looked?
            version = _held_version(self._keyring, stored[1])
        if version is None:
            raise VaultError(
                f"The data key file {self.key_path} does not hold the store's current key "
                f"(version {stored[0]}), so no secret can be sealed with it here.",
                hint="Copy the key file from an instance whose /readyz answers 200: this one "
                "loads it by itself.",
            )
        return version

    def put(self, session: Session, scope: str, name: str, plaintext: str) -> None:
        version, blob = self.seal(scope, name, plaintext, version=self.sealing_version(session))
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


@dataclass(frozen=True)
class Cluster:
    """Who else must hold a new key before it seals: the live instances but this one."""

    instance: str
    lease_seconds: float
    wait_seconds: float = instances.REPORT_SECONDS


def rotate_key(
    engine: Engine,
    vault: Vault,
    cluster: Cluster,
    *,
    on_batch: Callable[[int], None] | None = None,
) -> RotationResult:
    """Stage a new key, and once every live instance holds it, re-seal every secret under it and
    retire the old keys. Restartable: killed or refused at any point, run it again."""
    with vault.lock:
        current, resumed = _staged(vault.key_path, engine)
        vault.adopt(current)
        target = current.staged if current.staged is not None else current.active
        _wait_until_held(engine, vault.key_path, current, target, cluster)
        if current.staged is not None:
            current = current.promoted()
            save_keyring(vault.key_path, current)
            vault.adopt(current)
        with session_scope(engine) as session:  # from now on every instance seals with it
            instances.set_current_key(
                session, current.active, fingerprint(current.keys[current.active])
            )
        old = tuple(sorted(v for v in current.keys if v != current.active))
        log.info(
            "key.rotation_started",
            new_key_version=current.active,
            old_key_versions=old,
            resumed=resumed,
        )
        resealed = _reseal(engine, vault, current.active, on_batch)
        remaining = {v: n for v, n in sealed_versions(engine).items() if v != current.active}
        if remaining:
            raise VaultError(f"Secrets still sealed under old keys: {remaining}; run it again.")
        retired = current.only_active()
        save_keyring(vault.key_path, retired)
        vault.adopt(retired)
        log.info("key.rotation_finished", new_key_version=current.active, resealed=resealed)
        return RotationResult(old, current.active, resealed, resumed)


def _staged(path: Path, engine: Engine) -> tuple[Keyring, bool]:
    """The key file with the rotation's new key in it: staged now, or already there (a rotation
    refused or interrupted before). A file behind the store (a copy that holds the store's
    current key but names an older one active) first takes the store's key as its own."""
    current = load_keyring(path)
    with Session(engine) as session:
        stored = instances.current_key(session)
    if stored is not None and fingerprint(current.keys[current.active]) != stored[1]:
        version = _held_version(current, stored[1])
        if version is None:
            raise VaultError(
                f"The data key file {path} does not hold the store's current key "
                f"(version {stored[0]}).",
                hint="Copy the key file from an instance whose /readyz answers 200, then run "
                "`appliance rotate-key` again.",
            )
        if version > current.active:  # behind (not ahead: a promotion cut short by a kill)
            staged = None if current.staged == version else current.staged
            current = Keyring(active=version, keys=current.keys, staged=staged)
            save_keyring(path, current)
    if current.rotating:
        return current, True
    if stored is None:  # the first rotation: from now on sealing waits for its switch of key
        with session_scope(engine) as session:
            instances.set_current_key(
                session, current.active, fingerprint(current.keys[current.active])
            )
    current = current.with_staged_key()
    save_keyring(path, current)  # on disk before any instance is asked about it
    return current, False


def _held_version(keyring: Keyring, wanted: str) -> int | None:
    return next((v for v, f in keyring.fingerprints().items() if f == wanted), None)


def _wait_until_held(
    engine: Engine, path: Path, keyring: Keyring, version: int, cluster: Cluster
) -> None:
    """Every live instance holds the new key (they report within a second or two), or
    KeyNotHeldError naming those that do not: nothing has been sealed with it."""
    wanted = fingerprint(keyring.keys[version])
    deadline = time.monotonic() + cluster.wait_seconds
    while True:
        missing = instances.lacking(
            engine, wanted, lease_seconds=cluster.lease_seconds, but=cluster.instance
        )
        if not missing:
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(0.25)
    names = ", ".join(missing)
    log.warning("key.rotation_waiting", staged_key_version=version, instances=missing)
    raise KeyNotHeldError(
        f"Nothing was re-sealed: the new data key (version {version}) is in {path} but not yet "
        f"in the key file of {names}.",
        hint=f"Copy {path} to {'each of them' if len(missing) > 1 else 'it'} (replace the file "
        "whole, mode 0600; each instance loads it by itself, no restart), then run "
        "`appliance rotate-key` again.",
    )


def _reseal(
    engine: Engine, vault: Vault, active: int, on_batch: Callable[[int], None] | None
) -> int:
    resealed = 0
    while True:
        with session_scope(engine) as session:
            batch = session.exec(
                select(Secret).where(col(Secret.key_version) != active).limit(RESEAL_BATCH)
            ).all()
            for row in batch:
                plaintext = vault.open(row.scope, row.name, row.ciphertext)
                row.key_version, row.ciphertext = vault.seal(
                    row.scope, row.name, plaintext, version=active
                )
                session.add(row)
        resealed += len(batch)
        if on_batch is not None and batch:
            on_batch(resealed)
        if len(batch) < RESEAL_BATCH:
            return resealed
