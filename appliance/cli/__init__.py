"""The ``appliance`` command line, by command group (as Litestar's ``cli/main.py`` and
``cli/commands/``): ``root`` holds the click group, ``commands/`` the commands (service,
emulator, company, events), ``rendering`` how they print and ``base`` what they share (the
settings, exit codes, errors as a sentence and a hint).

Operator commands talk to the running service over its admin socket, through the admin client
the console uses too (``appliance.core.admin_client``); when it is not running they say so and
how to start it. Heavy parts (the store, the gateway, the emulator, the console) are imported
by the command that needs them, so ``appliance --help`` and ``appliance status`` stay quick
(tests/unit/test_import_hygiene.py).
"""

from appliance.cli.base import EXIT_CONFIG, EXIT_ERROR, EXIT_NOT_RUNNING, EXIT_USAGE, CliContext
from appliance.cli.commands.emulator import emulator
from appliance.cli.root import main

__all__ = [
    "EXIT_CONFIG",
    "EXIT_ERROR",
    "EXIT_NOT_RUNNING",
    "EXIT_USAGE",
    "CliContext",
    "emulator",
    "main",
]
