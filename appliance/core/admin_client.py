"""The admin API's client on the service's Unix socket: the one list of its endpoints.

The CLI and the console both call the typed methods of :class:`AdminClient` (``status()``,
``events()``, ``import_start()``...), so an endpoint's path, method and body are written here
once. The console calls them in a worker thread (``appliance.tui.api``), since they block.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import pwd
import stat
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from appliance.core.admin import (
    AccountInfo,
    ConnectAttempt,
    ConnectionInfo,
    ConnectStartReport,
    DisconnectReport,
    EventActionReport,
    EventInfo,
    EventList,
    ImportReport,
    KeyRotationReport,
    OnboardingInfo,
    SettingsInfo,
    StatusReport,
    TaxCodeView,
    TaxesInfo,
    TaxRateView,
)
from appliance.errors import (
    AdminError,
    AdminSocketDeniedError,
    ApplianceError,
    ServiceNotAnsweringError,
    ServiceNotRunningError,
    UntrustedSocketError,
)

T = TypeVar("T")


class AdminClient:
    """Talks to the running service; every call raises ServiceNotRunningError when nobody answers,
    and UntrustedSocketError, sending nothing, when the socket is not the service's (see
    :func:`trusted_owners`). ``service_dir`` is the state directory, when the caller knows it."""

    def __init__(
        self, socket_path: Path, *, timeout: float = 30.0, service_dir: Path | None = None
    ) -> None:
        self.socket_path = socket_path
        self.service_dir = service_dir
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
        check_socket_owner(self.socket_path, self.service_dir)
        try:
            response = self._client.request(method, path, **kwargs)
        except (httpx.ConnectError, httpx.RemoteProtocolError, FileNotFoundError):
            raise self._unreachable() from None
        except httpx.TimeoutException:
            raise self._silent() from None
        if response.is_error:
            raise _problem(response)
        return msgspec.json.decode(response.content, type=type_)

    def download(self, path: str, target: Path) -> dict[str, str]:
        """Stream a GET to ``target``, created owner-only (0600) and complete or not at all
        (written beside it, synced, then renamed). Returns the answer's headers."""
        check_socket_owner(self.socket_path, self.service_dir)
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
            raise self._unreachable() from None
        except httpx.TimeoutException:
            partial.unlink(missing_ok=True)
            raise self._silent() from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, target)
        return headers

    def _unreachable(self) -> ApplianceError:
        """Why connecting failed: the socket is closed to this user, or nothing answers there."""
        path = self.socket_path
        try:
            os.stat(path)
        except PermissionError:
            return _denied(path, f"its directory {path.parent}")
        except OSError:
            pass
        else:
            if not os.access(path, os.R_OK | os.W_OK):
                return _denied(path, "it")
        return ServiceNotRunningError(
            f"The appliance service is not running (nothing answers on {path})."
        )

    def _silent(self) -> ServiceNotAnsweringError:
        seconds = self._client.timeout.read
        return ServiceNotAnsweringError(
            f"The appliance service did not answer on {self.socket_path} within {seconds:g} s."
        )

    def get(self, path: str, type_: type[T]) -> T:
        return self.request("GET", path, type_)

    def post(self, path: str, type_: type[T], json: Any = None) -> T:
        return self.request("POST", path, type_, json=json)

    # The endpoints, one method each; ``kind`` is what the path takes (customers, income...).

    def status(self) -> StatusReport:
        return self.get("/v1/status", StatusReport)

    def rotate_key(self) -> KeyRotationReport:
        return self.post("/v1/keys/rotate", KeyRotationReport)

    def backup(self, target: Path) -> dict[str, str]:
        """Write a copy of the store to ``target`` (see :meth:`download`); its headers."""
        return self.download("/v1/backup", target)

    def events(
        self, status: str | None = None, limit: int = 50, before: str | None = None
    ) -> EventList:
        params: dict[str, Any] = {"limit": limit}
        if status:
            params["status"] = status
        if before:
            params["before"] = before
        return self.request("GET", "/v1/events", EventList, params=params)

    def event(self, event_id: str) -> EventInfo:
        return self.get(f"/v1/events/{quote(event_id, safe='')}", EventInfo)

    def retry_events(self, event_ids: list[str] | None) -> EventActionReport:
        """Queue these events again; ``None``: every failed one."""
        return self.post("/v1/events/retry", EventActionReport, json=_which(event_ids))

    def skip_events(self, event_ids: list[str] | None) -> EventActionReport:
        """Give up on these events; ``None``: every failed one."""
        return self.post("/v1/events/skip", EventActionReport, json=_which(event_ids))

    def accept_events(self, event_ids: list[str]) -> EventActionReport:
        """Let these mismatches' QuickBooks figures stand."""
        return self.post("/v1/events/accept", EventActionReport, json={"event_ids": event_ids})

    def decide_event(self, event_id: str, action: str, qbo_id: str | None = None) -> EventInfo:
        """Answer an event in review (link, create, skip); the event as it is now."""
        body: dict[str, Any] = {"action": action}
        if qbo_id is not None:
            body["qbo_id"] = qbo_id
        return self.post(f"/v1/events/{quote(event_id, safe='')}/decide", EventInfo, json=body)

    def connect_start(self, *, allow_other_company: bool = False) -> ConnectStartReport:
        body = {"allow_other_company": allow_other_company}
        return self.post("/v1/connect/start", ConnectStartReport, json=body)

    def connect_attempt(self, attempt: str) -> ConnectAttempt:
        """How a started connection stands (``ConnectStartReport.attempt``)."""
        return self.get(f"/v1/connect/attempts/{quote(attempt, safe='')}", ConnectAttempt)

    def connect_finish(self, redirect_url: str) -> ConnectionInfo:
        body = {"redirect_url": redirect_url}
        return self.post("/v1/connect/finish", ConnectionInfo, json=body)

    def disconnect(self) -> DisconnectReport:
        return self.post("/v1/disconnect", DisconnectReport)

    def import_start(self, kind: str) -> ImportReport:
        return self.post(f"/v1/imports/{kind}", ImportReport)

    def import_latest(self, kind: str) -> ImportReport:
        return self.get(f"/v1/imports/{kind}", ImportReport)

    def import_cancel(self, kind: str) -> ImportReport:
        return self.post(f"/v1/imports/{kind}/cancel", ImportReport)

    def accounts(self, kind: str) -> list[AccountInfo]:
        return self.request("GET", "/v1/accounts", list[AccountInfo], params={"kind": kind})

    def settings(self) -> SettingsInfo:
        return self.get("/v1/settings", SettingsInfo)

    def save_settings(
        self, income: str | None, expense: str | None, deposit: str | None = None
    ) -> SettingsInfo:
        body = {"income_account_id": income, "expense_account_id": expense}
        if deposit is not None:  # "" goes back to Undeposited Funds
            body["deposit_account_id"] = deposit
        return self.request("PUT", "/v1/settings", SettingsInfo, json=body)

    def onboarding(self) -> OnboardingInfo:
        return self.get("/v1/onboarding", OnboardingInfo)

    def complete_onboarding(self) -> OnboardingInfo:
        return self.post("/v1/onboarding/complete", OnboardingInfo)

    def taxes(self) -> TaxesInfo:
        return self.get("/v1/taxes", TaxesInfo)

    def tax_codes(self) -> list[TaxCodeView]:
        return self.get("/v1/taxes/codes", list[TaxCodeView])

    def discount_accounts(self) -> list[AccountInfo]:
        return self.get("/v1/taxes/discount-accounts", list[AccountInfo])

    def map_tax_rate(
        self, rate_id: str, qbo_tax_code_id: str, *, force: bool = False
    ) -> TaxRateView:
        body = {"qbo_tax_code_id": qbo_tax_code_id, "force": force}
        path = f"/v1/taxes/rates/{quote(rate_id, safe='')}"
        return self.request("PUT", path, TaxRateView, json=body)

    def unmap_tax_rate(self, rate_id: str) -> TaxRateView:
        return self.request("DELETE", f"/v1/taxes/rates/{quote(rate_id, safe='')}", TaxRateView)

    def accept_tax_suggestions(self, rate_ids: list[str] | None = None) -> TaxesInfo:
        """Map rates to their suggested codes; ``None``: every unmapped rate with one."""
        return self.post("/v1/taxes/suggested", TaxesInfo, json={"rate_ids": rate_ids or []})

    def save_invoice_settings(
        self, *, discount_account_id: str | None = None, untaxed_tax_code_id: str | None = None
    ) -> TaxesInfo:
        body = {
            "discount_account_id": discount_account_id,
            "untaxed_tax_code_id": untaxed_tax_code_id,
        }
        return self.request("PUT", "/v1/taxes/invoice-settings", TaxesInfo, json=body)


def _denied(path: Path, closed: str) -> AdminSocketDeniedError:
    return AdminSocketDeniedError(
        f"Permission denied: you ({_operator()}) may not use the admin socket {path}; {closed} "
        "is open only to root, the service and the operators' group."
    )


def _which(event_ids: list[str] | None) -> dict[str, Any]:
    return {"all_failed": True} if event_ids is None else {"event_ids": event_ids}


def check_socket_owner(socket_path: Path, service_dir: Path | None = None) -> None:
    """Raise UntrustedSocketError unless the socket's owner is one :func:`trusted_owners` allows.
    A missing socket passes: connecting then says the service is not running."""
    try:
        owner = os.stat(socket_path).st_uid
    except OSError:
        return
    if owner in trusted_owners(socket_path, service_dir):
        return
    raise UntrustedSocketError(
        f"The admin socket {socket_path} belongs to {_user(owner)}, not to root, you or the "
        "service's user, so nothing was sent to it."
    )


def trusted_owners(socket_path: Path, service_dir: Path | None) -> set[int]:
    """Who may own the service's socket: root; the user running this command; the owner of the
    state directory (the service's user), when this user may look at it; and the owner of the
    socket's directory when root made it for them, as systemd makes the RuntimeDirectory
    (``/run/jobroutr-gateway``, the service's, in ``/run``, root's): the way an operator who may
    not open the state directory still recognises the service."""
    owners = {0, os.geteuid()}
    if service_dir is not None:
        with contextlib.suppress(OSError):
            owners.add(os.stat(service_dir).st_uid)
    directory = Path(os.path.realpath(socket_path)).parent
    try:
        owner = os.stat(directory).st_uid
        if all(_only_root_writes(above) for above in directory.parents):
            owners.add(owner)
    except OSError:
        pass
    return owners


def _only_root_writes(directory: Path) -> bool:
    info = os.stat(directory)
    return info.st_uid == 0 and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _user(uid: int) -> str:
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


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
