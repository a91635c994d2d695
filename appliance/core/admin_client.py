"""A small client for the admin API on the service's Unix socket (used by the CLI and console)."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Any, TypeVar

import httpx
import msgspec

from appliance.errors import AdminError, ApplianceError, ServiceNotRunning

T = TypeVar("T")


class AdminClient:
    """Talks to the running service; every call raises ServiceNotRunning when nobody answers."""

    def __init__(self, socket_path: Path, *, timeout: float = 30.0) -> None:
        self.socket_path = socket_path
        self._client = httpx.Client(
            transport=httpx.HTTPTransport(uds=str(socket_path)),
            base_url="http://appliance",
            timeout=timeout,
            headers={"X-Appliance-Operator": f"{_operator()}@cli"},
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, type_: type[T], **kwargs: Any) -> T:
        try:
            response = self._client.request(method, path, **kwargs)
        except (httpx.ConnectError, httpx.RemoteProtocolError, FileNotFoundError):
            raise ServiceNotRunning(
                f"The appliance service is not running (nothing answers on {self.socket_path})."
            ) from None
        if response.is_error:
            raise _problem(response)
        return msgspec.json.decode(response.content, type=type_)

    def download(self, path: str, target: Path) -> dict[str, str]:
        """Stream a GET to ``target``, created owner-only (0600) and complete or not at all
        (written beside it, synced, then renamed). Returns the answer's headers."""
        partial = target.with_name(f".{target.name}.partial")
        try:
            with self._client.stream("GET", path, timeout=None) as response:
                if response.is_error:
                    response.read()
                    raise _problem(response)
                _write(partial, response.iter_bytes(1 << 20))
                headers = dict(response.headers)
        except (httpx.ConnectError, httpx.RemoteProtocolError):
            partial.unlink(missing_ok=True)
            raise ServiceNotRunning(
                f"The appliance service is not running (nothing answers on {self.socket_path})."
            ) from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, target)
        return headers

    def get(self, path: str, type_: type[T]) -> T:
        return self.request("GET", path, type_)

    def post(self, path: str, type_: type[T], json: Any = None) -> T:
        return self.request("POST", path, type_, json=json)


def _write(path: Path, chunks: Any) -> None:
    try:
        fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    except OSError as exc:
        raise ApplianceError(
            f"Cannot write {path.parent / path.name.removeprefix('.').removesuffix('.partial')} "
            f"({exc.strerror}).",
            hint="Choose a file in a directory you may write to.",
        ) from None
    try:
        os.fchmod(fd, 0o600)  # an old partial file may have had another mode
        for chunk in chunks:
            os.write(fd, chunk)
        os.fsync(fd)
    finally:
        os.close(fd)


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _problem(response: httpx.Response) -> AdminError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    detail = body.get("detail") or body.get("title") or response.reason_phrase
    return AdminError(str(detail), status=response.status_code, hint=str(body.get("hint") or ""))
