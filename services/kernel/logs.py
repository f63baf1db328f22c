"""Structured logs: one JSON object a line, carrying the message, event and tracking number.

Code that knows what it is working on says so once with :func:`bind` (the inbox binds the queue
and message id of every delivery; handlers bind the tracking number); every log line written
in that greenthread carries those fields until :func:`clear`.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

_context: ContextVar[dict | None] = ContextVar("lianxin_log_context", default=None)


def bind(**fields) -> None:
    _context.set({**(_context.get() or {}), **{k: v for k, v in fields.items() if v}})


def clear() -> None:
    _context.set(None)


def bound() -> dict:
    return dict(_context.get() or {})


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "service": self.service,
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            **bound(),
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)
