"""One process owns the store: an exclusive lock on ``store.lock`` in the state directory.

`appliance serve` holds it for its whole life; `restore`, `migrate` and an offline `rotate-key`
hold it while they work, and refuse to start while another process holds it. Asking the admin
socket whether the service runs is not enough: its path differs between the unit
(``$RUNTIME_DIRECTORY``) and an operator's shell, and a restore that found nothing there replaced
the store under a running service, which went on acknowledging events into the old, unlinked one.
Every process of one appliance shares the state directory, whatever its socket (with PostgreSQL
as the store too: the lock is for one appliance on one machine).

It is flock(2): the kernel lets go of it when its holder ends, however it ends (kill -9
included), so there is never a stale lock to remove by hand. The file stays; it names the pid and
command of the last holder, for the refusal's sentence. A new holder removes what a killed one
left behind (backup copies no one is writing any more).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from appliance.config import Settings
from appliance.errors import StateDirError, StoreBusyError
from appliance.storage.backup import remove_leftovers
from appliance.storage.db import secure_state_dir

LOCK_FILE = "store.lock"
UNIT = "jobroutr-gateway"


@contextmanager
def store_lock(settings: Settings, command: str) -> Iterator[None]:
    """Hold the store lock for ``command`` (its name, for another process's refusal), or raise
    StoreBusyError with a sentence naming the holder."""
    path = secure_state_dir(settings.state_dir) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StateDirError(
            f"The store lock {path} cannot be opened ({exc.strerror}).",
            hint="Check that the appliance's user owns the state directory and what is in it.",
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _busy(path, fd, command) from None
        # Who holds it, for another process's refusal: best effort, as on a full disk the lock
        # is taken all the same, and the store says what is wrong with a sentence of its own.
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {command}\n".encode(), 0)
        remove_leftovers(settings.state_dir, settings.database_url)
        yield
    finally:
        os.close(fd)  # releases the lock


def _busy(path: Path, fd: int, command: str) -> StoreBusyError:
    try:
        pid, _, holder = os.pread(fd, 200, 0).decode("ascii").strip().partition(" ")
        int(pid)
    except (OSError, UnicodeDecodeError, ValueError):
        pid, holder = "", ""  # the holder is between taking the lock and saying who it is
    held = f"{'pid ' + pid + '; ' if pid else ''}it holds the store lock {path}"
    if holder and holder != "serve":
        return StoreBusyError(
            f"`appliance {holder}` is already running on this store ({held}).",
            hint="Wait for it to finish, then run this command again.",
        )
    stop = f"`sudo systemctl stop {UNIT}`" + (f", or SIGTERM to pid {pid}" if pid else "")
    if command == "serve":
        hint = (
            f"One service per state directory: stop that one first ({stop}), or give this one "
            "another APPLIANCE_STATE_DIR."
        )
    elif command == "rotate-key":
        hint = (
            "The service rotates the key itself when this command reaches its admin socket: set "
            f"APPLIANCE_ADMIN_SOCKET to the socket it answers on (under systemd /run/{UNIT}/"
            f"admin.sock), or stop it first ({stop})."
        )
    else:
        hint = f"Stop it first ({stop}), then run this command again."
    return StoreBusyError(f"The appliance service is already running ({held}).", hint=hint)
