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

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class BadRequest(APIError):
    status = 400
    code = "bad_request"


class InvalidJSON(APIError):
    status = 400
    code = "invalid_json"


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


class Conflict(APIError):
    status = 409
    code = "conflict"


class PayloadTooLarge(APIError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(APIError):
    status = 415
    code = "unsupported_media_type"


class ValidationFailed(APIError):
    status = 422
    code = "validation_failed"


class ServiceUnavailable(APIError):
    status = 503
    code = "service_unavailable"


ERROR_CLASSES: tuple[type[APIError], ...] = (
    BadRequest,
    InvalidJSON,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
    APIError,
    ServiceUnavailable,
)
"""Every error the API can return, for the OpenAPI document."""
