"""Moved to ``tests.harness`` (processes, emulator): this module only keeps the old import path
working for code written before the move. New code imports from ``tests.harness``."""

from tests.harness.emulator import RunningEmulator, approve
from tests.harness.processes import (
    APPLIANCE,
    ROOT,
    answers,
    appliance_env,
    free_port,
    run_appliance,
    shared_dir,
    wait_until,
)

__all__ = [
    "APPLIANCE",
    "ROOT",
    "RunningEmulator",
    "answers",
    "appliance_env",
    "approve",
    "free_port",
    "run_appliance",
    "shared_dir",
    "wait_until",
]
