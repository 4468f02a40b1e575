"""Rendering every failure in the one documented error format."""

import logging
import re
import uuid
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from service.api.common import json_response
from service.errors import APIError, UnreadableBody
from service.keys import REQUEST_ID

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
CLIENT_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

HTTP_STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    422: "validation_failed",
    503: "service_unavailable",
}


def error_body(
    code: str, message: str, request_id: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "details": details or {},
            "request_id": request_id,
        }
    }


def error_response(
    request: web.Request,
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    request_id = request.get(REQUEST_ID, "")
    response = json_response(
        error_body(code, message, request_id, details), status=status, headers=headers
    )
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    return response


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give every request an id (the client's if well-formed), echoed in a header."""
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    request_id = incoming if CLIENT_REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
    request[REQUEST_ID] = request_id
    response = await handler(request)
    response.headers[REQUEST_ID_HEADER] = request_id
    return response


def _client_is_gone(request: web.Request, exc: Exception) -> bool:
    return isinstance(exc, ConnectionError) and request.transport is None


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn APIErrors, aiohttp's HTTP errors and anything unexpected into the error format."""
    try:
        return await handler(request)
    except web.RequestPayloadError as exc:
        error = UnreadableBody(f"The body could not be read: {exc.__cause__ or exc}.")
        return await _api_error_response(request, error)
    except APIError as exc:
        return await _api_error_response(request, exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = HTTP_STATUS_CODES.get(
            exc.status, "bad_request" if exc.status < 500 else "internal_error"
        )
        headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        return error_response(request, exc.status, code, exc.reason, headers=headers)
    except Exception as exc:
        if _client_is_gone(request, exc):
            # Nobody reads this answer; the access log line gets its status.
            log.warning(
                "client disconnected during %s %s (request_id=%s)",
                request.method,
                request.path,
                request.get(REQUEST_ID, "-"),
            )
            return error_response(request, 400, "bad_request", "The client disconnected.")
        log.exception("unhandled error (request_id=%s)", request.get(REQUEST_ID, "-"))
        return error_response(
            request, 500, "internal_error", "Internal server error. Quote the request id."
        )


async def _api_error_response(request: web.Request, exc: APIError) -> web.StreamResponse:
    response = error_response(
        request, exc.status, exc.code, exc.message, exc.details, headers=exc.headers
    )
    if exc.closes_connection:
        # Send the answer, then drop the connection at once: aiohttp would otherwise go on
        # reading (up to its lingering time) a body that is broken or not coming.
        response.force_close()
        await response.prepare(request)
        await response.write_eof()
        request.protocol.force_close()
    return response
