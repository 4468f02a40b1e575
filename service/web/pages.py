"""What every dashboard page shares: its session, its security headers, its HTML errors."""

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp_jinja2
from aiohttp import web
from aiohttp.typedefs import Handler
from tortoise.models import Model
from tortoise.queryset import QuerySet

from service.api.access import check_path_scope, route_path
from service.api.auth import SESSION_COOKIE, session_principal
from service.domain.sessions import csrf_token
from service.errors import APIError
from service.keys import PRINCIPAL
from service.models import Role

PAGE_ATTRIBUTE = "__pbd_page__"
M = TypeVar("M", bound=Model)
PageHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def page(*, login_required: bool = True) -> Callable[[PageHandler], PageHandler]:
    """Mark a handler as a dashboard page; pages behind the login get `request[PRINCIPAL]`."""

    def mark(handler: PageHandler) -> PageHandler:
        setattr(handler, PAGE_ATTRIBUTE, login_required)
        return handler

    return mark


def render(
    request: web.Request, template: str, context: dict[str, Any], **kwargs: Any
) -> web.Response:
    """A page with what the layout needs: who is logged in, what they may do, the CSRF token."""
    who = request.get(PRINCIPAL)
    shared = {
        "principal": who,
        "can_deploy": who is not None and who.role.includes(Role.DEPLOYER),
        "is_admin": who is not None and who.role.includes(Role.ADMIN),
        "csrf": csrf_token(request.cookies.get(SESSION_COOKIE, "")) if who else "",
        "path": request.path,
    }
    return aiohttp_jinja2.render_template(template, request, {**shared, **context}, **kwargs)


PER_PAGE = 100
MAX_PAGE = 10**6


@dataclass(frozen=True)
class Paging:
    """One page of a list page: which rows to read, and the links to its neighbours."""

    number: int
    per_page: int = PER_PAGE

    @classmethod
    def of(cls, request: web.Request, per_page: int = PER_PAGE) -> "Paging":
        raw = request.query.get("page", "")
        number = int(raw) if raw.isdigit() and 0 < int(raw) <= MAX_PAGE else 1
        return cls(number, per_page)

    def rows(self, queryset: QuerySet[M]) -> QuerySet[M]:
        return queryset.offset((self.number - 1) * self.per_page).limit(self.per_page)

    def links(self, request: web.Request, total: int) -> dict[str, Any]:
        """What the `pager` macro shows (the current query kept, only the page changed)."""
        return {
            "page": self.number,
            "pages": max(1, math.ceil(total / self.per_page)),
            "previous": str(request.rel_url.update_query(page=self.number - 1)),
            "next": str(request.rel_url.update_query(page=self.number + 1)),
        }


def see_other(location: str) -> web.Response:
    """After a form's POST, the page to GET next (303)."""
    return web.Response(status=303, headers={"Location": location})


def _login_target(request: web.Request) -> str:
    target = request.path_qs if request.method == "GET" else "/"
    return str(request.app.router["login"].url_for().with_query(next=target))


def _error_page(request: web.Request, status: int, message: str) -> web.Response:
    return render(request, "error.html", {"status": status, "message": message}, status=status)


@web.middleware
async def web_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """For dashboard pages only: the session (or the way to the login), HTML errors, and
    headers that keep the pages from being framed, sniffed or cached."""
    login_required = getattr(request.match_info.handler, PAGE_ATTRIBUTE, None)
    if login_required is None:
        return await handler(request)
    who = await session_principal(request) if login_required else None
    if login_required and who is None:
        return see_other(_login_target(request))
    try:
        if who is not None:
            request[PRINCIPAL] = who
            if who.scoped:  # a page of a record outside the scope is as if it did not exist
                await check_path_scope(request, route_path(request) or "", who)
        response = await handler(request)
    except APIError as error:
        response = _error_page(request, error.status, error.message)
    except web.HTTPNotFound:
        response = _error_page(request, 404, "There is no such page.")
    response.headers.update(SECURITY_HEADERS)
    return response
