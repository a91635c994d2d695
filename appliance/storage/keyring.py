"""The data key file: versioned AES-256 keys, one active, written atomically and owner-only.

File format (JSON, mode 0600)::

    {"format": "jobroutr-appliance-keyring/1", "active": 1, "staged": 2,
     "keys": {"1": "<b64>", "2": "<b64>"}}

More than one key in the file means a rotation is under way (or was interrupted): the active key
seals, every listed key opens, and ``appliance rotate-key`` finishes the job. ``staged`` (absent
in files written before it, and when no rotation waits) is a key written ahead of its use: it
opens, but nothing is sealed with it until every live instance holds it (storage/vault.py).
Instances compare keys by ``fingerprint``, a hash that tells whether two files hold the same key
and cannot be turned back into it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from appliance.errors import KeyringError
from appliance.storage.db import fsync_path

FORMAT = "jobroutr-appliance-keyring/1"
KEY_BYTES = 32


def fingerprint(key: bytes) -> str:
    """What instances tell each other about a key: equal for the same key, useless without it."""
    return hashlib.sha256(b"jobroutr-appliance-key-fingerprint\0" + key).hexdigest()[:32]


@dataclass(frozen=True)
class Keyring:
    active: int
    keys: dict[int, bytes] = field(repr=False)
    staged: int | None = None  # written ahead, opens, seals nothing yet

    @property
    def rotating(self) -> bool:
        return len(self.keys) > 1

    def key(self, version: int) -> bytes | None:
        return self.keys.get(version)

    def fingerprints(self) -> dict[int, str]:
        return {version: fingerprint(key) for version, key in sorted(self.keys.items())}

    def with_new_active_key(self) -> Keyring:
        version = max(self.keys) + 1
        return Keyring(active=version, keys={**self.keys, version: secrets.token_bytes(KEY_BYTES)})

    def with_staged_key(self) -> Keyring:
        """A new key beside the active one, not used for sealing yet."""
        version = max(self.keys) + 1
        keys = {**self.keys, version: secrets.token_bytes(KEY_BYTES)}
        return Keyring(active=self.active, keys=keys, staged=version)

    def promoted(self) -> Keyring:
        """The staged key made the one that seals (the old ones still open)."""
        assert self.staged is not None
        return Keyring(active=self.staged, keys=self.keys)

    def only_active(self) -> Keyring:
        return Keyring(active=self.active, keys={self.active: self.keys[self.active]})

    def to_json(self) -> str:
        doc: dict[str, object] = {"format": FORMAT, "active": self.active}
        if self.staged is not None:
            doc["staged"] = self.staged
        doc["keys"] = {
            str(v): base64.b64encode(k).decode("ascii") for v, k in sorted(self.keys.items())
        }
        return json.dumps(doc, indent=2)

    @classmethod
    def generate(cls) -> Keyring:
        return cls(active=1, keys={1: secrets.token_bytes(KEY_BYTES)})


def load_keyring(path: Path) -> Keyring:
    """Read the key file; refuse one that other users could read or change.

    The appliance tightens the files in its state directory at every start, but a key file kept
    elsewhere (APPLIANCE_KEY_FILE, or ``keyring.json`` as a link to one) is not its to change:
    it is refused with a sentence, as the client-secret file is.
    """
    try:
        with path.open("rb") as handle:
            mode = stat.S_IMODE(os.fstat(handle.fileno()).st_mode)
            raw = handle.read().decode("utf-8")
    except FileNotFoundError:
        raise KeyringError(f"The data key file {path} does not exist.") from None
    except OSError as exc:
        raise KeyringError(f"The data key file {path} cannot be read ({exc.strerror}).") from None
    except UnicodeDecodeError:
        raw = ""  # damaged: said below
    try:
        doc = json.loads(raw)
        if doc.get("format") != FORMAT:
            raise ValueError("unknown format")
        keys = {int(v): base64.b64decode(k, validate=True) for v, k in doc["keys"].items()}
        active = int(doc["active"])
        staged = None if doc.get("staged") is None else int(doc["staged"])
        if active not in keys or any(len(k) != KEY_BYTES for k in keys.values()):
            raise ValueError("inconsistent")
        if staged is not None and (staged not in keys or staged == active):
            raise ValueError("inconsistent")
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
        raise KeyringError(
            f"The data key file {path} is damaged or not a key file.",
            hint="Restore it from your backup; without it the stored tokens cannot be opened.",
        ) from None
    if mode & 0o077:
        link = f", a link to {path.resolve()}" if path.is_symlink() else ""
        raise KeyringError(
            f"The data key file {path} can be read or changed by other users "
            f"(mode {mode:04o}{link}).",
            hint=f"Run `chmod 600 {path}`: only the appliance's user may have it.",
        )
    return Keyring(active=active, keys=keys, staged=staged)


def save_keyring(path: Path, keyring: Keyring, *, create_only: bool = False) -> None:
    """Write the key file atomically: a kill at any moment leaves the old file or the new one.

    ``create_only`` refuses to replace an existing file, so `appliance init` can never overwrite a
    key that secrets are sealed with.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(keyring.to_json())
            handle.flush()
            os.fsync(handle.fileno())
        if create_only:
            # link() fails if the target exists, unlike rename(): no race with a second `init`.
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise KeyringError(f"The data key file {path} already exists.") from None
        else:
            os.replace(tmp, path)
        fsync_path(path.parent)
    finally:
        tmp.unlink(missing_ok=True)
