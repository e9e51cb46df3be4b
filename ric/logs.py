"""Structured logs of the RIC: an event name plus ``key=value`` fields (node, xapp, slot, ...).

``log(logger, level, "e2_setup", node="bs_3", slot=0)`` writes
``2024-... INFO ntnric.ric e2_setup node=bs_3 slot=0`` in text format, or one JSON object per
line in JSON format. The per-slot paths only log problems, never routine traffic.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

LOGGER_NAME = "ntnric.ric"


def log(logger: logging.Logger, level: int, event: str, **fields: Any) -> None:
    """Log ``event`` with structured ``fields`` (cheap when the level is disabled)."""
    if logger.isEnabledFor(level):
        logger.log(level, event, extra={"fields": fields})


def _render(value: Any) -> str:
    text = str(value)
    return json.dumps(text) if (" " in text or "=" in text or not text) else text


class KeyValueFormatter(logging.Formatter):
    """``time level logger event key=value ...``."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(record.created))
        fields: dict[str, Any] = getattr(record, "fields", {})
        parts = [f"{stamp}.{int(record.msecs):03d}", record.levelname, record.name, record.getMessage()]
        parts += [f"{k}={_render(v)}" for k, v in fields.items() if v is not None]
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``event`` and the fields."""

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = getattr(record, "fields", {})
        obj: dict[str, Any] = {
            "ts": record.created,
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        obj.update({k: v for k, v in fields.items() if v is not None})
        if record.exc_info:
            obj["exc"] = self.formatException(record.exc_info)
        return json.dumps(obj, default=str)


def configure(level: str = "INFO", fmt: str = "text") -> None:
    """Send RIC logs to stderr in ``fmt`` (``text`` or ``json``) unless a handler is already set."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level)
    if logger.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    logger.addHandler(handler)
    logger.propagate = False
