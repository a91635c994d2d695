"""The operator's commands: in a shell as a real process, or in-process with click's CliRunner.

A real process is for what only a process shows (signals, a running service's exit code, the
modes of the files and sockets it makes); CliRunner (about a tenth of a second against two to five
for a process) is for what a command prints and the code it exits with.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

from click.testing import CliRunner, Result

from tests.harness.processes import run_appliance


def invoke(*args: str, env: Mapping[str, str] | None = None) -> Result:
    """``appliance ARGS`` in this process, its stdout and stderr apart, under ``env`` (APPLIANCE_*
    settings on top of the isolated host's environment).

    An exception the command does not handle is raised here (a process would print a traceback),
    so no check of a sentence can pass over one. The command sets the process's umask as
    `appliance` does; it is put back afterwards so the next test sees the one it started with.
    """
    from appliance.cli import main  # noqa: PLC0415 - the command line loads only when used

    umask = os.umask(0o077)
    os.umask(umask)
    try:
        runner = CliRunner()
        return runner.invoke(
            main, list(args), env=dict(env or {}), prog_name="appliance", catch_exceptions=False
        )
    finally:
        os.umask(umask)


def connect_link(env: dict[str, str]) -> str:
    result = run_appliance("connect", env=env)
    assert result.returncode == 0, result.stderr
    match = re.search(r"(http://\S+/connect/oauth2\?\S+)", result.stdout)
    assert match, result.stdout
    assert "--redirect-url" in result.stdout
    return match.group(1)


def status(env: dict[str, str]) -> dict[str, Any]:
    result = run_appliance("status", "--json", env=env)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))
