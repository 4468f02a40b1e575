"""Logging set-up and the access log line, which carries the request id."""

import logging

from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web import BaseRequest, StreamResponse

from service.keys import REQUEST_ID

SQL_LOGGERS = ("tortoise.db_client", "aiosqlite")
"""At DEBUG they print every query with its parameters, webhook secrets included."""


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("aiohttp.server").addFilter(client_errors_as_warnings)
    for name in SQL_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLogger().level))


def client_errors_as_warnings(record: logging.LogRecord) -> bool:
    """A malformed request (bad header, bad framing) is the client's error, answered 400 by
    aiohttp: log it as one warning line, not as an error with a traceback."""
    error = record.exc_info[1] if record.exc_info else None
    if isinstance(error, HttpProcessingError) and 400 <= (error.code or 0) < 500:
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.msg = f"{record.getMessage()}: {error.code} {error.message}"
        record.args = None
        record.exc_info = record.exc_text = None
    return True


class AccessLogger(AbstractAccessLogger):
    """One line per request: method, path (no query string: it may carry data), status."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s %.1fms request_id=%s",
            request.method,
            request.path,
            response.status,
            time * 1000,
            request.get(REQUEST_ID, "-"),
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)
