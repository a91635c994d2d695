"""Who asked, for the audit log: the admin controllers' ``operator`` dependency."""

from __future__ import annotations

import pwd
from typing import Any

from litestar import Request
from litestar.di import Provide

from appliance.gateway.peer import peer_of
from appliance.storage import audit


def operator(request: Request[Any, Any, Any]) -> str:
    """The peer's uid from the socket (SO_PEERCRED), and its name; the header is only claimed."""
    peer = peer_of(request.scope)
    uid = peer["uid"] if peer else None
    return audit.operator(uid, _user_name(uid), request.headers.get("x-appliance-operator", ""))


def _user_name(uid: int | None) -> str | None:
    if uid is None:
        return None
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


#: Set on every admin controller: a handler that names ``operator`` is given who asked.
OPERATOR = {"operator": Provide(operator, sync_to_thread=False)}
