"""The logger the stack's HTTP server writes to, with a client's malformed request kept short.

aiohttp logs every request its parser rejects (a NUL in a header, a byte that is not allowed in
the target, …) with a full traceback at ERROR, though it answers 400 and nothing on our side
failed. Left alone, any client could fill the server log with tracebacks and hide a real error
among them. `http_logger()` turns those records into one WARNING line; every other record
(a real server error) passes unchanged.
"""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import HttpProcessingError

__all__ = ["http_logger"]

_NAME = "stack.http"


class _ClientErrorsAsWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and 400 <= exc.code < 500:
            reason = " ".join(str(exc.message).split())[:200]  # one line, bounded
            record.msg = "bad request from %s answered %d: %s"
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.args = (remote, exc.code, reason)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
        return True


def http_logger() -> logging.Logger:
    """The `stack.http` logger, for aiohttp's `AppRunner(logger=…)`."""
    logger = logging.getLogger(_NAME)
    if not any(isinstance(f, _ClientErrorsAsWarnings) for f in logger.filters):
        logger.addFilter(_ClientErrorsAsWarnings())
    return logger
