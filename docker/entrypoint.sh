#!/bin/sh
# Entrypoint of the JobRoutr QuickBooks Gateway image (see docs/docker.md): `appliance "$@"`.
#
# `docker run IMAGE` serves; `docker run IMAGE appliance init` (or just `init`) runs that command.
# Before serving it checks that the state volume was initialised: `appliance init` shows the
# JobRoutr API key and webhook secret once, and that must happen on an operator's terminal, never
# in `docker logs`. So an empty volume is refused with the command to run, and nothing is created.
set -eu

if [ "${1:-}" = appliance ]; then
    shift
fi

if [ "${1:-}" = serve ]; then
    python - <<'PYTHON'
import sys

from appliance.config import load_settings
from appliance.errors import ApplianceError

try:
    settings = load_settings()
except ApplianceError:
    sys.exit(0)  # a wrong setting: `appliance serve` names it, in its own words
try:
    settings.key_path.stat()
except FileNotFoundError:
    state = settings.state_dir
    print(
        f"Error: The state directory {state} is not initialised: it has no data key "
        f"({settings.key_path}).\n"
        "Hint: Run `appliance init` once, on a terminal, with the same volume and settings, e.g. "
        f"`docker run --rm -it -v VOLUME:{state} IMAGE appliance init`. It shows the JobRoutr "
        "API key and webhook secret there, once, instead of in the logs.",
        file=sys.stderr,
    )
    sys.exit(78)  # EX_CONFIG, as `appliance` exits for a wrong setting
except OSError:
    pass  # e.g. a directory this user may not read: `appliance serve` says so
PYTHON
fi

exec appliance "$@"
