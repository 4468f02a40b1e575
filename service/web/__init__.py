"""The web dashboard: server-rendered pages at `/`, live through the `/api/v1/ws` feed.

Pages only read, through the same queries and scope rules as the REST handlers. Every change
(a button, a form) is a `fetch` to the REST API with the session cookie and its CSRF token,
so the API's role table and validation decide, exactly as for a token.
"""

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from service.web import apps, deployments, login, overview, servers, tasks, versions
from service.web.pages import web_middleware

STATIC_DIR = Path(__file__).parent / "static"
PAGES = (login, overview, servers, tasks, apps, versions, deployments)


def register(app: web.Application) -> None:
    environment = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("service.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        default_helpers=False,
    )
    environment.globals["static"] = lambda name: f"/static/{name}"
    app.middlewares.append(web_middleware)
    for page in PAGES:
        page.register(app)
    app.router.add_static("/static", STATIC_DIR, name="static", append_version=False)
