"""Authentication for every endpoint not marked public: a bearer token, or the web
dashboard's session cookie, which must also carry its CSRF token (header) on every request
that changes something, from a page of this same origin.
"""

from collections.abc import Callable
from typing import TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler

from service.domain import sessions, tokens
from service.domain.tokens import Principal
from service.errors import Forbidden, Unauthorized
from service.keys import PRINCIPAL, VERIFIED_TOKENS

PUBLIC_ATTRIBUTE = "__pbd_public__"
SESSION_COOKIE = "pbd_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
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


def same_origin(request: web.Request) -> bool:
    """Whether the browser says the request comes from a page of this service. A request
    without `Origin` and `Sec-Fetch-Site` is not from a modern browser's cross-site page."""
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin.partition("://")[2] == request.host
    return request.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin", "none")


async def session_principal(request: web.Request) -> Principal | None:
    """The principal of the request's session cookie, or None without a live session."""
    secret = request.cookies.get(SESSION_COOKIE)
    return await sessions.session_principal(secret) if secret else None


def csrf_ok(request: web.Request, given: str) -> bool:
    """Whether `given` is the CSRF token of the request's session, sent from its own pages."""
    expected = sessions.csrf_token(request.cookies.get(SESSION_COOKIE, ""))
    return same_origin(request) and sessions.same_secret(given, expected)


def check_csrf(request: web.Request) -> None:
    """Refuse a state change that lacks the session's CSRF token or comes from elsewhere."""
    if not csrf_ok(request, request.headers.get(CSRF_HEADER, "")):
        raise Forbidden(
            f"A request with the dashboard's session must come from its pages and carry "
            f"the {CSRF_HEADER} header."
        )


async def authenticate_request(request: web.Request) -> Principal:
    if "Authorization" in request.headers or SESSION_COOKIE not in request.cookies:
        who = await tokens.authenticate(
            bearer_secret(request), request.config_dict[VERIFIED_TOKENS]
        )
        if who is None:
            raise Unauthorized("The token is unknown or revoked.")
        return who
    who = await session_principal(request)
    if who is None:
        raise Unauthorized("The session has ended: log in again.")
    if request.method not in SAFE_METHODS:
        check_csrf(request)
    return who


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method == "OPTIONS" or is_public(request):
        return await handler(request)
    request[PRINCIPAL] = await authenticate_request(request)
    return await handler(request)
