"""Serving the OpenAPI document and Swagger UI (aiohttp-apispec's bundled copy).

Mounted on the root application, outside `/api/v1`, so no token is needed to read them.
"""

from pathlib import Path

import aiohttp_apispec
from aiohttp import web
from jinja2 import Template

from service.api.common import json_response
from service.keys import OPENAPI

DOCS_PATH = "/api/docs"
SPEC_PATH = f"{DOCS_PATH}/openapi.json"
STATIC_PATH = f"{DOCS_PATH}/static"
SWAGGER_STATIC = Path(aiohttp_apispec.__file__).parent / "static"


def _swagger_page() -> str:
    template = Template((SWAGGER_STATIC / "index.html").read_text(), autoescape=True)
    return template.render(path=SPEC_PATH, static=STATIC_PATH)


async def openapi_json(request: web.Request) -> web.Response:
    return json_response(request.app[OPENAPI])


def register(app: web.Application) -> None:
    page = _swagger_page()

    async def swagger_ui(request: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html")

    app.router.add_get(DOCS_PATH, swagger_ui)
    app.router.add_get(SPEC_PATH, openapi_json)
    app.router.add_static(STATIC_PATH, SWAGGER_STATIC)
