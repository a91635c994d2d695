"""Who is on the other end of the admin socket: the kernel's answer (``SO_PEERCRED``), not a header.

uvicorn puts neither the transport nor the peer's credentials in the ASGI scope, so the admin
listener runs :class:`PeerCredentialsProtocol`, uvicorn's h11 protocol that, when a connection is
made, reads the connecting process's pid, uid and gid from its socket and adds them to the scope
of every request on that connection, as ``scope["extensions"]["appliance.peer"]``. Anyone who
may open the socket may set ``X-Appliance-Operator``; nobody can choose what the kernel reports.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

PEER = "appliance.peer"
_UCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


def peer_credentials(sock: Any) -> dict[str, int] | None:
    """The peer's ``{"pid", "uid", "gid"}`` on a Unix socket, or None where there is none."""
    if sock is None or sock.family != socket.AF_UNIX or not hasattr(socket, "SO_PEERCRED"):
        return None
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    except OSError:
        return None
    pid, uid, gid = _UCRED.unpack(raw)
    return {"pid": pid, "uid": uid, "gid": gid}


def peer_of(scope: Any) -> dict[str, int] | None:
    """The credentials :class:`PeerCredentialsProtocol` put in a request's scope, if any."""
    peer = (scope.get("extensions") or {}).get(PEER)
    return peer if isinstance(peer, dict) else None


class PeerCredentialsProtocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        peer = peer_credentials(transport.get_extra_info("socket"))
        inner = self.app

        async def app(scope: Any, receive: Any, send: Any) -> None:
            if peer is not None:
                scope.setdefault("extensions", {})[PEER] = dict(peer)
            await inner(scope, receive, send)

        self.app = app
