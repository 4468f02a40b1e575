"""Request parsing for handlers decorated with aiohttp-apispec's schema decorators.

aiohttp-apispec's decorators describe each handler's inputs (`__schemas__`); this module
parses them with webargs and raises our own errors instead of webargs' bare 400/422.
"""

from typing import Any, NoReturn

from aiohttp import web
from aiohttp.typedefs import Handler
from marshmallow import Schema, ValidationError
from webargs.aiohttpparser import AIOHTTPParser, is_json_request

from service.errors import InvalidJSON, UnsupportedMediaType, ValidationFailed
from service.keys import BODY, QUERY


class APIParser(AIOHTTPParser):
    """webargs' aiohttp parser, raising the service's documented errors."""

    def handle_error(
        self,
        error: ValidationError,
        req: web.Request,
        schema: Schema,
        *,
        error_status_code: int | None,
        error_headers: Any,
    ) -> NoReturn:
        details = error.normalized_messages()
        if isinstance(details, dict) and len(details) == 1:
            # webargs nests messages under the location ("json", "querystring").
            details = next(iter(details.values()))
        if not isinstance(details, dict):
            details = {"_schema": details}
        raise ValidationFailed("The request is not valid.", details=details)

    def _handle_invalid_json_error(
        self, error: Exception, req: Any, *args: Any, **kwargs: Any
    ) -> NoReturn:
        raise InvalidJSON(f"The body is not valid JSON: {error}.")


PARSER = APIParser()


def _check_json_body(request: web.Request) -> None:
    if request.body_exists and not is_json_request(request):
        raise UnsupportedMediaType(
            "Send the body as JSON with 'Content-Type: application/json'.",
            details={"content_type": request.content_type},
        )


async def parse_inputs(request: web.Request, schemas: list[dict[str, Any]]) -> None:
    for spec in schemas:
        location = spec["location"]
        if location == "json":
            _check_json_body(request)
        data = await PARSER.parse(spec["schema"], request, location=location, unknown=None)
        request[QUERY if location in {"query", "querystring"} else BODY] = data


@web.middleware
async def validation_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    schemas = getattr(request.match_info.handler, "__schemas__", None)
    if schemas:
        await parse_inputs(request, schemas)
    return await handler(request)
