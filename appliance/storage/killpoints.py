"""Named points where the fault suite kills this process with SIGKILL, to prove a kill there
loses nothing (tests/integration/test_store_lock.py).

With ``APPLIANCE_TEST_KILL_AT=restore.before_swap`` in its environment, a process that reaches
``reached("restore.before_swap")`` sends itself SIGKILL: the same as a ``kill -9`` from outside
at exactly that moment, without a race. It is not a setting (no operator has a reason to set it)
and, unset, a point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "APPLIANCE_TEST_KILL_AT"


def reached(point: str) -> None:
    if os.environ.get(ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)
