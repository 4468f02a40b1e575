"""/apps: applications and the server they run on."""

from aiohttp import web
from aiohttp_apispec import querystring_schema, request_schema, response_schema

from service.api.common import (
    ID_PATTERN,
    body,
    no_content,
    operation,
    paginate,
    query,
    record_id,
    respond,
)
from service.api.schemas import AppListQuerySchema, AppPageSchema, AppSchema
from service.domain import apps
from service.domain.records import get_or_404
from service.errors import Conflict, NotFound
from service.models import App

APP = AppSchema()
APP_CHANGES = AppSchema(partial=True)
TAGS = ["apps"]


@operation(tags=TAGS, summary="List apps, filtered by server, status or name")
@querystring_schema(AppListQuerySchema)
@response_schema(AppPageSchema, 200, description="One page of apps.")
async def list_apps(request: web.Request) -> web.Response:
    params = query(request)
    found = App.all()
    if "server_id" in params:
        found = found.filter(server_id=params["server_id"])
    if "status" in params:
        found = found.filter(status=params["status"])
    if "q" in params:
        found = found.filter(name__icontains=params["q"])
    return await paginate(found, params, APP)


@operation(tags=TAGS, summary="Create an app on a server", errors=[Conflict])
@request_schema(APP)
@response_schema(APP, 201, description="The new app.")
async def create_app(request: web.Request) -> web.Response:
    return respond(APP, await apps.create_app(body(request)), status=201)


@operation(tags=TAGS, summary="Get one app", errors=[NotFound])
@response_schema(APP, 200, description="The app.")
async def get_app(request: web.Request) -> web.Response:
    return respond(APP, await get_or_404(App, record_id(request)))


@operation(tags=TAGS, summary="Change some fields of an app", errors=[NotFound, Conflict])
@request_schema(APP_CHANGES)
@response_schema(APP, 200, description="The updated app.")
async def update_app(request: web.Request) -> web.Response:
    return respond(APP, await apps.update_app(record_id(request), body(request)))


@operation(
    tags=TAGS,
    summary="Delete an app with its versions and deployments",
    description="Refused with 409 while the app is being deployed.",
    errors=[NotFound, Conflict],
)
@response_schema(None, 204, description="Deleted.")
async def delete_app(request: web.Request) -> web.Response:
    await apps.delete_app(record_id(request))
    return no_content()


def register(app: web.Application) -> None:
    app.router.add_get("/apps", list_apps)
    app.router.add_post("/apps", create_app)
    app.router.add_get(f"/apps/{ID_PATTERN}", get_app)
    app.router.add_patch(f"/apps/{ID_PATTERN}", update_app)
    app.router.add_delete(f"/apps/{ID_PATTERN}", delete_app)
