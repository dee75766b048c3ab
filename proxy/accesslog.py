"""Structured JSON logging: one object per line, and the access log.

Every log record is rendered as a single JSON object (``ts``, ``level``,
``logger``, ``msg`` plus the record's ``extra`` fields) so log shippers need
no parsing rules.  The access log carries the principal, method, normalised
path, status, outcome and duration — never the token, the ``Authorization``
or ``Cookie`` values, nor the query string (which may hold
``access_token``).

aiohttp's own loggers (``aiohttp.server``, ``aiohttp.access``,
``aiohttp.web``) may quote raw request lines — a rejected ``Authorization``
header included — in their arguments or exception text.
:class:`AiohttpRedactionFilter` reduces each of their records to the fixed
message template and the exception *type*, so no request value is printed.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

__all__ = [
    "ACCESS_LOGGER",
    "AiohttpRedactionFilter",
    "JsonFormatter",
    "install_aiohttp_redaction",
    "log_access",
    "setup_logging",
]

ACCESS_LOGGER = logging.getLogger("authgate.access")

# LogRecord attributes that are not user ``extra`` fields.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """``logging`` records as one-line JSON objects."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["exc"] = f"{record.exc_info[0].__name__}: {record.exc_info[1]}"
        return json.dumps(entry, default=str, separators=(",", ":"))


AIOHTTP_LOGGERS = ("aiohttp.server", "aiohttp.access", "aiohttp.web")


class AiohttpRedactionFilter(logging.Filter):
    """Strip everything request-derived from an aiohttp log record.

    Keeps the unformatted message template (aiohttp's own constant text);
    drops the ``%`` arguments and the traceback, whose text may quote the raw
    request, keeping only the exception type as ``exc_type``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_type = record.exc_info[0].__name__
        if not isinstance(record.msg, str):  # an object's str() may carry request text
            record.msg = type(record.msg).__name__
        record.args = None
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True


_REDACTION = AiohttpRedactionFilter()


def install_aiohttp_redaction() -> None:
    """Attach the redaction filter to aiohttp's loggers (idempotent)."""
    for name in AIOHTTP_LOGGERS:
        logger = logging.getLogger(name)
        if _REDACTION not in logger.filters:
            logger.addFilter(_REDACTION)


def setup_logging(level: str = "INFO") -> None:
    """Route every logger to stderr as JSON (idempotent)."""
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiohttp's own access logger is replaced by ours; keep its noise out.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    install_aiohttp_redaction()


def log_access(
    *,
    method: str,
    path: str,
    status: int,
    duration: float,
    outcome: str,
    principal: str | None,
    peer: str | None,
    reason: str | None = None,
) -> None:
    if not ACCESS_LOGGER.isEnabledFor(logging.INFO):
        return
    ACCESS_LOGGER.info(
        "request",
        extra={
            "principal": principal,
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round(duration * 1000, 3),
            "outcome": outcome,
            "reason": reason,
            "peer": peer,
        },
    )
