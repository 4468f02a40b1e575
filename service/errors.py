"""The one error hierarchy of the service.

Every failure a client can see is an `APIError`: it carries its HTTP status and a stable
machine-readable `code`; `service.api.middlewares.error_middleware` renders all of them
(and aiohttp's own HTTP exceptions) as
`{"error": {"code", "message", "details", "request_id"}}`.
"""

from typing import Any, ClassVar


class ServiceError(Exception):
    """Root of every exception the service raises on purpose."""


class APIError(ServiceError):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    closes_connection: ClassVar[bool] = False
    """The rest of the request cannot be trusted or read: answer, then close the connection."""

    def __init__(
        self,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        self.headers = headers or {}


class BadRequest(APIError):
    status = 400
    code = "bad_request"


class InvalidJSON(APIError):
    status = 400
    code = "invalid_json"


class UnreadableBody(APIError):
    """The body's bytes could not be read as sent (e.g. `Content-Encoding: gzip` on plain data)."""

    status = 400
    code = "bad_request"
    closes_connection = True


class Unauthorized(APIError):
    status = 401
    code = "unauthorized"


class Forbidden(APIError):
    status = 403
    code = "forbidden"


class NotFound(APIError):
    status = 404
    code = "not_found"


class MethodNotAllowed(APIError):
    status = 405
    code = "method_not_allowed"


class RequestTimeout(APIError):
    """The client stopped sending its body: the connection is dropped."""

    status = 408
    code = "request_timeout"
    closes_connection = True


class Conflict(APIError):
    status = 409
    code = "conflict"


class PayloadTooLarge(APIError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(APIError):
    status = 415
    code = "unsupported_media_type"


class RangeNotSatisfiable(APIError):
    status = 416
    code = "range_not_satisfiable"


class ValidationFailed(APIError):
    status = 422
    code = "validation_failed"


class ServiceUnavailable(APIError):
    status = 503
    code = "service_unavailable"


class GatewayTimeout(APIError):
    """A read that runs a playbook did not finish in time; `details.task_id` goes on."""

    status = 504
    code = "gateway_timeout"


class InsufficientStorage(APIError):
    """The disk filled up while a body was written; the rest of it is not read."""

    status = 507
    code = "insufficient_storage"
    closes_connection = True


ERROR_CLASSES: tuple[type[APIError], ...] = (
    BadRequest,
    InvalidJSON,
    UnreadableBody,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    RangeNotSatisfiable,
    ValidationFailed,
    APIError,
    ServiceUnavailable,
    GatewayTimeout,
    InsufficientStorage,
)
"""Every error the API can return, for the OpenAPI document."""
