"""Logging in with an API token (→ a session cookie) and logging out."""

from datetime import timedelta

from aiohttp import web

from service.api.auth import SESSION_COOKIE, same_origin
from service.domain import sessions
from service.errors import Unauthorized
from service.keys import SETTINGS
from service.web.pages import page, render, see_other

MAX_TOKEN_LENGTH = 256


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


@page(login_required=False)
async def log_in(request: web.Request) -> web.Response:
    form = await request.post()
    target = _local_path(str(form.get("next", "/")))
    secret = str(form.get("token", "")).strip()
    if not same_origin(request):
        return render(
            request,
            "login.html",
            {"next": target, "error": "Log in from this site's own page."},
            status=403,
        )
    if not secret or len(secret) > MAX_TOKEN_LENGTH:
        return render(
            request, "login.html", {"next": target, "error": "Enter an API token."}, status=422
        )
    lifetime = timedelta(hours=request.app[SETTINGS].session_hours)
    try:
        opened = await sessions.open_session(secret, lifetime)
    except Unauthorized as error:
        return render(request, "login.html", {"next": target, "error": error.message}, status=401)
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
    if not (
        same_origin(request)
        and sessions.same_secret(str(form.get("csrf", "")), sessions.csrf_token(secret))
    ):
        return render(
            request,
            "error.html",
            {"status": 403, "message": "This logout did not come from the dashboard."},
            status=403,
        )
    await sessions.close_session(secret)
    response = see_other("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


def register(app: web.Application) -> None:
    app.router.add_get("/login", login_form, name="login")
    app.router.add_post("/login", log_in)
    app.router.add_post("/logout", log_out)
