"""Logging: structlog key/value events, JSON lines under systemd, colour on a terminal.

Every line, ours and the libraries' (uvicorn, litestar, httpx, alembic), goes through one processor
chain that ends in :func:`redact`, so a secret cannot reach the log by any route:

* values under sensitive keys (``token``, ``secret``, ``authorization``, ...) are replaced;
* strings are scrubbed of anything shaped like a secret (bearer and basic credentials, JWTs,
  ``whsec_`` webhook secrets, our ``jra_`` API keys, OAuth ``code=``/``*_token=`` parameters);
* strings are scrubbed of every exact secret value the vault has opened or sealed in this
  process (:func:`register_secret`), however it is shaped.

Context (``request_id``, ``realm_id``, ``job_id``) is bound with ``structlog.contextvars``.

Floods of one event that say nothing new after the first (asyncio's accept errors when descriptors
run out, slow clients let go by the public listener) go through :class:`RepeatedEvents`: the first
in full, then one line a minute with a count.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Literal

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

REDACTED = "[REDACTED]"

_SENSITIVE_KEY = re.compile(
    r"(token|secret|password|passwd|authorization|api[_-]?key|cookie|credential|private[_-]?key"
    r"|^key$|^code$|signature)",
    re.IGNORECASE,
)
_SECRET_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + REDACTED),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9._-]*"), REDACTED),
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=]+"), "whsec_" + REDACTED),
    (re.compile(r"\bjra_[A-Za-z0-9_-]{8,}"), "jra_" + REDACTED),
    (
        re.compile(
            r"(?i)\b((?:access_|refresh_|id_)?token|code|client_secret|secret|password)"
            r"=[^&\s\"']+"
        ),
        r"\1=" + REDACTED,
    ),
    # The OAuth state in a query string (the browser's GET /oauth/callback): only after ? or &,
    # so a message such as "state=running" is left alone.
    (re.compile(r"(?i)(?:^|(?<=[?&]))state=[^&\s\"']+"), "state=" + REDACTED),
)
_MIN_SECRET_LEN = 8


class _SecretRegistry:
    """Exact secret values seen by this process, so they can be scrubbed wherever they appear."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: frozenset[str] = frozenset()

    def add(self, value: str) -> None:
        if len(value) < _MIN_SECRET_LEN:
            return
        with self._lock:
            self._values = self._values | {value}

    def scrub(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, REDACTED)
        return text

    def clear(self) -> None:
        with self._lock:
            self._values = frozenset()


_registry = _SecretRegistry()


def register_secret(value: str) -> None:
    """Tell the redactor about a secret value (the vault calls this for everything it handles)."""
    _registry.add(value)


def forget_secrets() -> None:
    """Forget registered values (for tests that start many appliances in one process)."""
    _registry.clear()


def scrub(text: str) -> str:
    """Remove every known and every secret-shaped value from a string."""
    text = _registry.scrub(text)
    for pattern, replacement in _SECRET_SHAPES:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, bytes):
        return REDACTED if value else value
    if isinstance(value, MutableMapping):
        return {k: REDACTED if _is_sensitive(k, v) else _redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_redact_value(v) for v in value]
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return scrub(repr(value))


def _is_sensitive(key: Any, value: Any) -> bool:
    if not isinstance(key, str) or not _SENSITIVE_KEY.search(key):
        return False
    # Counts and timestamps about secrets (token_expires_at, secrets_resealed) are not secrets.
    return not (isinstance(value, (int, float, bool)) or value is None) and not key.endswith(
        ("_at", "_in", "_count", "_version", "_expires", "_id")
    )


def redact(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: the last line of defence before anything is rendered."""
    for key, value in list(event_dict.items()):
        if key == "event" and isinstance(value, str):
            event_dict[key] = scrub(value)
        elif _is_sensitive(key, value):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _redact_value(value)
    return event_dict


def _drop_color_message(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    # uvicorn duplicates its message with ANSI colour codes in this extra key.
    event_dict.pop("color_message", None)
    return event_dict


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        _drop_color_message,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        # Before the decoder: a bytes value is replaced whole, never decoded into the line.
        redact,
        structlog.processors.UnicodeDecoder(),
    ]


def _wants_json(fmt: Literal["auto", "json", "console"], stream: Any) -> bool:
    if fmt != "auto":
        return fmt == "json"
    # Under systemd stdout goes to the journal: JSON lines, no colour.
    if os.environ.get("JOURNAL_STREAM") or os.environ.get("INVOCATION_ID"):
        return True
    isatty = getattr(stream, "isatty", None)
    return not (callable(isatty) and isatty())


def configure_logging(
    level: str = "INFO",
    fmt: Literal["auto", "json", "console"] = "auto",
    stream: Any = None,
    quiet_libraries: Iterable[str] = (
        "httpx",
        "httpcore",
        "alembic.runtime.migration",
        # uvicorn's start and stop lines, once per listener (public, admin, emulator): three
        # times each. ``service.started`` and ``service.stopped`` say it once; errors still show.
        "uvicorn.error",
    ),
) -> None:
    """Route structlog and the standard library through one redacting chain to ``stream``."""
    stream = stream or sys.stdout
    renderer: Processor
    if _wants_json(fmt, stream):
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=bool(getattr(stream, "isatty", lambda: False)()),
            exception_formatter=structlog.dev.plain_traceback,
        )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    numeric = logging.getLevelName(level.upper())
    root.setLevel(numeric)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "litestar"):
        lib = logging.getLogger(name)
        lib.handlers[:] = []
        lib.propagate = True
    # uvicorn's access log repeats what our request middleware logs, minus the request id.
    logging.getLogger("uvicorn.access").disabled = True
    for name in quiet_libraries:
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def get_logger(name: str | None = None) -> Any:
    return structlog.stdlib.get_logger(name)


@dataclass
class _Repeat:
    level: str
    fields: dict[str, Any]
    count: int = 0


@dataclass
class RepeatedEvents:
    """An event logged the first time, then counted: one line per kind and period, not one each.

    ``note`` logs the first event of a kind at once and only counts those that follow; ``flush``,
    called once a period (the service calls it every minute), logs one line for each kind that
    came again, with ``repeated`` (how many more) and the first one's fields, and forgets kinds
    that did not, so that their next one is logged in full again.
    """

    logger: Any
    _kinds: dict[tuple[str, str], _Repeat] = field(default_factory=dict)

    def note(self, event: str, *, kind: str = "", level: str = "warning", **fields: Any) -> None:
        key = (event, kind)
        if (repeat := self._kinds.get(key)) is not None:
            repeat.count += 1
            return
        self._kinds[key] = _Repeat(level, fields)
        getattr(self.logger, level)(event, **fields)

    def flush(self, period_seconds: float | None = None) -> None:
        for (event, kind), repeat in list(self._kinds.items()):
            if not repeat.count:
                del self._kinds[(event, kind)]
                continue
            fields = {k: v for k, v in repeat.fields.items() if k != "exc_info"}
            if period_seconds is not None:
                fields["period_seconds"] = period_seconds
            getattr(self.logger, repeat.level)(event, repeated=repeat.count, **fields)
            repeat.count = 0


LoopExceptionHandler = Callable[[asyncio.AbstractEventLoop, dict[str, Any]], None]


def loop_exception_handler(repeats: RepeatedEvents) -> LoopExceptionHandler:
    """asyncio's exception handler, with identical errors counted rather than logged each time.

    When descriptors run out, asyncio reports ``socket.accept() out of system resource`` for
    every attempt to accept, with a traceback each: half a megabyte of log a second.
    """

    def handle(_loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message") or "Unhandled error in the event loop")
        exc = context.get("exception")
        error = f"{type(exc).__name__}: {exc}" if exc is not None else None
        # An OSError (descriptors, a socket) says all in one line; anything else is a bug, whose
        # first traceback is worth having.
        trace = exc if isinstance(exc, BaseException) and not isinstance(exc, OSError) else None
        repeats.note(
            "loop.error",
            kind=f"{message}|{error}",
            level="error",
            message=message,
            error=error,
            exc_info=trace,
        )

    return handle
