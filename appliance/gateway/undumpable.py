"""Keep the service's memory to itself: no core dump, no reading by other processes of its user.

The service holds the data key and the QuickBooks tokens in memory; a core dump would write them
to disk in plain text. prctl(PR_SET_DUMPABLE, 0) tells Linux to write none, and also makes the
kernel refuse other processes of the same user (without CAP_SYS_PTRACE) that try to read the
service's memory or environment (ptrace, /proc/<pid>/mem, /proc/<pid>/environ). It is done first
thing at `appliance serve`, before any secret is read, and holds until the process ends.
"""

from __future__ import annotations

import ctypes
import os
import sys

PR_SET_DUMPABLE = 4


def forbid_core_dumps() -> str | None:
    """Make this process non-dumpable; None if done, else why not (to be logged as a warning)."""
    if not sys.platform.startswith("linux"):
        return f"prctl(PR_SET_DUMPABLE) is Linux's, and this is {sys.platform}"
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
            return f"prctl(PR_SET_DUMPABLE) failed: {os.strerror(ctypes.get_errno())}"
    except (OSError, AttributeError) as exc:
        return f"prctl() is not available ({exc})"
    return None
