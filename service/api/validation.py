"""Request parsing for handlers decorated with aiohttp-apispec's schema decorators.

aiohttp-apispec's decorators describe each handler's inputs (`__schemas__`); this module
parses them with webargs and raises our own errors instead of webargs' bare 400/422.
Every JSON body is read and decoded here, in `APIParser.load_json`, and nowhere else.
"""

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler
from marshmallow import Schema, ValidationError
from webargs import core
from webargs.aiohttpparser import AIOHTTPParser, is_json_request

from service.errors import InvalidJSON, RequestTimeout, UnsupportedMediaType, ValidationFailed
from service.keys import BODY, QUERY, SETTINGS

F = TypeVar("F", bound=Callable[..., Any])
BodyCheck = Callable[[web.Request, bytes], Awaitable[None]]
VERIFY_ATTRIBUTE = "__pbd_verify_body__"

CONTENT_CODINGS = {"", "identity", "gzip", "deflate"}
"""The request Content-Encodings aiohttp decodes; anything else would reach us still encoded."""


def check_content_encoding(request: web.Request) -> None:
    coding = request.headers.get(hdrs.CONTENT_ENCODING, "").strip().lower()
    if coding not in CONTENT_CODINGS:
        raise UnsupportedMediaType(
            "Send the body uncompressed, or with Content-Encoding gzip or deflate.",
            details={"content_encoding": coding[:64]},
        )


async def read_body(request: web.Request) -> bytes:
    """The whole (small) body, or 408 when the client takes longer than the body timeout."""
    timeout = request.config_dict[SETTINGS].body_timeout
    try:
        async with asyncio.timeout(timeout):
            return await request.read()
    except TimeoutError:
        raise RequestTimeout(f"The body did not arrive within {timeout} s.") from None


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

    async def load_json(self, req: web.Request, schema: Schema) -> Any:
        """The body as JSON: any failure to decode it (bad UTF-8, nesting deeper than the
        interpreter can follow, integers over Python's 4,300 digits) is `invalid_json`."""
        if not (req.body_exists and is_json_request(req)):
            return core.missing
        raw = await read_body(req)
        if not raw:
            return core.missing
        try:
            return json.loads(raw.decode("utf-8"))
        except RecursionError:
            raise InvalidJSON("The body is nested too deeply.") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidJSON(f"The body is not valid JSON: {exc}.") from None
        except ValueError:  # int() refuses literals over sys.get_int_max_str_digits()
            raise InvalidJSON("The body holds a number too long to read.") from None


PARSER = APIParser()


def _check_json_body(request: web.Request) -> None:
    if request.body_exists and not is_json_request(request):
        raise UnsupportedMediaType(
            "Send the body as JSON with 'Content-Type: application/json'.",
            details={"content_type": request.content_type},
        )
    check_content_encoding(request)


async def parse_inputs(request: web.Request, schemas: list[dict[str, Any]]) -> None:
    for spec in schemas:
        location = spec["location"]
        if location == "json":
            _check_json_body(request)
        data = await PARSER.parse(spec["schema"], request, location=location, unknown=None)
        request[QUERY if location in {"query", "querystring"} else BODY] = data


def body_verified_by(check: BodyCheck) -> Callable[[F], F]:
    """Have `check` see the raw body before anything parses it (it raises to refuse it):
    a signature is over the exact bytes, and nothing unauthenticated is parsed."""

    def mark(handler: F) -> F:
        setattr(handler, VERIFY_ATTRIBUTE, check)
        return handler

    return mark


@web.middleware
async def validation_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    check = getattr(request.match_info.handler, VERIFY_ATTRIBUTE, None)
    if check is not None:
        check_content_encoding(request)
        await check(request, await read_body(request))
    schemas = getattr(request.match_info.handler, "__schemas__", None)
    if schemas:
        await parse_inputs(request, schemas)
    return await handler(request)
