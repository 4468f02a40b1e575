"""Logging in with an API token (→ a session cookie) and logging out."""

from datetime import timedelta

from aiohttp import web

from service.api.audit_log import record
from service.api.auth import SESSION_COOKIE, csrf_ok, same_origin
from service.domain import sessions
from service.errors import Unauthorized
from service.keys import PRINCIPAL, SETTINGS
from service.web.pages import page, render, see_other

MAX_TOKEN_LENGTH = 256
LOGIN, LOGOUT = "dashboard.login", "dashboard.logout"


def served_over_tls(request: web.Request) -> bool:
    """TLS here, or at the reverse proxy in front (which says so): the cookie is then Secure.
    Trusting the header can only make the cookie stricter."""
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def _local_path(target: str) -> str:
    """Only a path of this site is followed after the login (no open redirect)."""
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/"


@page(login_required=False)
async def login_form(request: web.Request) -> web.Response:
    return render(request, "login.html", {"next": _local_path(request.query.get("next", "/"))})


async def _refused(request: web.Request, target: str, status: int, error: str) -> web.Response:
    await record(request, route="/login", action=LOGIN, status=status)
    return render(request, "login.html", {"next": target, "error": error}, status=status)


@page(login_required=False)
async def log_in(request: web.Request) -> web.Response:
    form = await request.post()
    target = _local_path(str(form.get("next", "/")))
    secret = str(form.get("token", "")).strip()
    if not same_origin(request):
        return await _refused(request, target, 403, "Log in from this site's own page.")
    if not secret or len(secret) > MAX_TOKEN_LENGTH:
        return await _refused(request, target, 422, "Enter an API token.")
    lifetime = timedelta(hours=request.app[SETTINGS].session_hours)
    try:
        opened = await sessions.open_session(secret, lifetime)
    except Unauthorized as error:
        return await _refused(request, target, 401, error.message)
    request[PRINCIPAL] = opened.principal
    await record(request, route="/login", action=LOGIN, status=303)
    response = see_other(target)
    response.set_cookie(
        SESSION_COOKIE,
        opened.secret,
        expires=opened.expires_at.strftime("%a, %d %b %Y %H:%M:%S GMT"),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=served_over_tls(request),
    )
    return response


@page()
async def log_out(request: web.Request) -> web.Response:
    form = await request.post()
    secret = request.cookies.get(SESSION_COOKIE, "")
    if not csrf_ok(request, str(form.get("csrf", ""))):
        await record(request, route="/logout", action=LOGOUT, status=403)
        message = "This logout did not come from the dashboard."
        return render(request, "error.html", {"status": 403, "message": message}, status=403)
    await sessions.close_session(secret)
    await record(request, route="/logout", action=LOGOUT, status=303)
    response = see_other("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


def register(app: web.Application) -> None:
    app.router.add_get("/login", login_form, name="login")
    app.router.add_post("/login", log_in)
    app.router.add_post("/logout", log_out)
