"""Bearer-token authentication for every endpoint not marked public."""

from collections.abc import Callable
from typing import TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler

from service.domain import tokens
from service.errors import Unauthorized
from service.keys import PRINCIPAL

PUBLIC_ATTRIBUTE = "__pbd_public__"
F = TypeVar("F", bound=Callable[..., object])


def public(handler: F) -> F:
    """Mark a handler as reachable without a token (health, docs)."""
    setattr(handler, PUBLIC_ATTRIBUTE, True)
    return handler


def is_public_handler(handler: object) -> bool:
    return getattr(handler, PUBLIC_ATTRIBUTE, False)


def is_public(request: web.Request) -> bool:
    return is_public_handler(request.match_info.handler)


def bearer_secret(request: web.Request) -> str:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("Send 'Authorization: Bearer <token>'.")
    return secret.strip()


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method == "OPTIONS" or is_public(request):
        return await handler(request)
    who = await tokens.authenticate(bearer_secret(request))
    if who is None:
        raise Unauthorized("The token is unknown or revoked.")
    request[PRINCIPAL] = who
    return await handler(request)
