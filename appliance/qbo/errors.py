"""What can go wrong talking to QuickBooks Online, as typed errors that carry QBO's own words.

    QboError                          status, qbo_code, message, detail, element, intuit_tid, hint
      ├── TransientError              worth retrying with the same requestid
      │     ├── ThrottledError        429 ThrottleExceeded (retry_after, if QBO gave one)
      │     ├── ServerError           5xx, HTML from the edge, SystemFault
      │     └── ConnectionLostError   time-outs, refused or dropped connections
      ├── AuthenticationError         401 after a refresh: the token is not accepted
      ├── AuthorizationError          403 / code 120, 3100: the user or app may not do this
      ├── CompanyStatusError          6190: the company's subscription has ended
      ├── ValidationError             400 ValidationFault and every other permanent refusal
      └── OAuthError                  the token endpoint said no (error, error_description)
            └── ReconnectNeededError  invalid_grant, or no tokens: only the operator
                                      reconnecting helps

Errors are formatted once, at the edge (``str(error)`` is the operator's sentence); ``is_transient``
is the one predicate that retry policies use.
"""

from __future__ import annotations

from typing import Any


class QboError(Exception):
    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        qbo_code: str | None = None,
        detail: str | None = None,
        element: str | None = None,
        intuit_tid: str | None = None,
        hint: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.qbo_code = qbo_code
        self.detail = detail
        self.element = element
        self.intuit_tid = intuit_tid
        self.hint = hint

    def __str__(self) -> str:
        parts = [self.message]
        if self.detail and self.detail != self.message:
            parts.append(f": {self.detail}")
        if self.qbo_code:
            parts.append(f" (QBO code {self.qbo_code})")
        return "".join(parts)


class TransientError(QboError):
    """Retrying later, with the same requestid, may well succeed."""


class ThrottledError(TransientError):
    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ServerError(TransientError):
    pass


class ConnectionLostError(TransientError):
    pass


class AuthenticationError(QboError):
    pass


class AuthorizationError(QboError):
    pass


class CompanyStatusError(QboError):
    pass


class ValidationError(QboError):
    pass


class OAuthError(QboError):
    def __init__(self, error: str, description: str | None = None, **kw: Any) -> None:
        kw.setdefault("hint", "")
        super().__init__(description or error, **kw)
        self.error = error
        self.description = description


class ReconnectNeededError(OAuthError):
    pass


def is_transient(error: BaseException) -> bool:
    return isinstance(error, TransientError)
