"""Logging, configured once per process: readable lines, or JSON on request, never a raw number.

Why here and not in each module: modules only ever call
``logging.getLogger(__name__)``; a library must not configure logging. Each
*process* entry point (the web app under gunicorn, the RQ worker, the
``callrouter`` command) calls ``configure()`` once, so a dry-run SMS logged
by the worker shows up in the terminal of ``callrouter serve`` instead of
vanishing (Python drops INFO records when nothing is configured).

Every record passes ``MaskNumbers`` before any formatter sees it: E.164
numbers in the message, its arguments, an exception's text and string
extras are masked with ``callrouter.privacy.mask_numbers_in``. A module
that forgets to mask (or a vendor exception quoting a number) still leaks
nothing into a log.

``CALLROUTER_LOG_FORMAT=json`` gives one JSON object per line (time,
level, logger, message, exc_info) for a log shipper; the default is text.
Gunicorn's own loggers in a web worker get the same format and mask (its
master's few start-up lines stay gunicorn's).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import IO

from pythonjsonlogger.json import JsonFormatter

from callrouter.privacy import mask_numbers_in
from callrouter.settings import log_format

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = "{asctime}{levelname}{name}{message}"
SERVER_LOGGERS = ("gunicorn.error", "gunicorn.access")
"""Gunicorn logs through handlers of its own (not the root's) in its worker processes."""
_JSON_NAMES = {"asctime": "time", "levelname": "level", "name": "logger"}
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}
_PLAIN = logging.Formatter()


class MaskNumbers(logging.Filter):
    """Mask every E.164 number a record would print, before it is formatted."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_numbers_in(record.getMessage())
        record.args = None
        if record.exc_info:
            # Rendered once here, masked, and kept as text: formatters (also
            # the JSON one) print exc_text and would re-render exc_info raw.
            record.exc_text = record.exc_text or _PLAIN.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = mask_numbers_in(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_numbers_in(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, mask_numbers_in(value))
        return True


class _StderrNow(logging.StreamHandler[IO[str]]):
    """Writes to whatever ``sys.stderr`` is at the moment of logging, like
    logging's last-resort handler, so a replaced stderr (a test's capture,
    a daemon's redirect) is honoured instead of a closed old stream."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property  # type: ignore[override]
    def stream(self) -> IO[str]:
        return sys.stderr


def formatter(kind: str) -> logging.Formatter:
    """The formatter for ``kind`` ("text" or "json")."""
    if kind == "json":
        return JsonFormatter(JSON_FIELDS, style="{", rename_fields=_JSON_NAMES)
    return logging.Formatter(TEXT_FORMAT)


def configure(
    environ: Mapping[str, str] | None = None, level: int = logging.INFO
) -> logging.Handler:
    """Send this process's log records to stderr, masked, in the chosen format.

    Idempotent: a second call (the `callrouter` command, then the worker it
    runs; gunicorn imports the app factory once per worker) reuses the
    handler it installed, and only ever lowers the level to `level`.
    """
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _StderrNow)), None)
    if handler is None:
        handler = _StderrNow()
        handler.addFilter(MaskNumbers())
        handler.setFormatter(formatter(log_format(environ)))
        root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    for name in SERVER_LOGGERS:  # their own handlers, set up before the app: same format, masked
        for own in logging.getLogger(name).handlers:
            if not any(isinstance(f, MaskNumbers) for f in own.filters):
                own.addFilter(MaskNumbers())
                own.setFormatter(handler.formatter)
    return handler
