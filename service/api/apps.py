"""/apps: applications and the server they run on."""

from aiohttp import web
from aiohttp_apispec import querystring_schema, request_schema, response_schema

from service.api.access import visible
from service.api.common import (
    ID_PATTERN,
    body,
    created,
    filter_by,
    json_response,
    no_content,
    operation,
    paginate,
    query,
    record_id,
    respond,
)
from service.api.schemas import (
    AppListQuerySchema,
    AppPageSchema,
    AppSchema,
    AppServersSchema,
    DeleteAppQuerySchema,
)
from service.domain import apps, deployments
from service.domain.records import get_or_404
from service.errors import Conflict, NotFound
from service.keys import ENGINE, HEALTH
from service.models import App

APP = AppSchema()
APP_CHANGES = AppSchema(partial=True)
TAGS = ["apps"]


@operation(tags=TAGS, summary="List apps, filtered by server, status or name")
@querystring_schema(AppListQuerySchema)
@response_schema(AppPageSchema, 200, description="One page of apps.")
async def list_apps(request: web.Request) -> web.Response:
    params = query(request)
    found = filter_by(visible(request, App.all()), params, "server_id", "status")
    if "q" in params:
        found = found.filter(name__icontains=params["q"])
    return await paginate(found, params, APP)


@operation(tags=TAGS, summary="Create an app on a server", errors=[Conflict])
@request_schema(APP)
@response_schema(APP, 201, description="The new app.")
async def create_app(request: web.Request) -> web.Response:
    return created(APP, await apps.create_app(body(request)), "apps")


@operation(tags=TAGS, summary="Get one app", errors=[NotFound])
@response_schema(APP, 200, description="The app.")
async def get_app(request: web.Request) -> web.Response:
    return respond(APP, await get_or_404(App, record_id(request)))


@operation(tags=TAGS, summary="Change some fields of an app", errors=[NotFound, Conflict])
@request_schema(APP_CHANGES)
@response_schema(APP, 200, description="The updated app.")
async def update_app(request: web.Request) -> web.Response:
    app = await apps.update_app(record_id(request), body(request))
    request.config_dict[HEALTH].reload(app.id)  # its interval, domain or server may change
    return respond(APP, app)


@operation(
    tags=TAGS,
    summary="Delete an app with its versions and deployments",
    description=(
        "Refused with 409 while the app has queued or running tasks (named in "
        "`details.tasks`), unless `cancel_tasks=true`."
    ),
    errors=[NotFound, Conflict],
)
@querystring_schema(DeleteAppQuerySchema)
@response_schema(None, 204, description="Deleted.")
async def delete_app(request: web.Request) -> web.Response:
    await apps.delete_app(
        request.config_dict[ENGINE],
        record_id(request),
        cancel_tasks=query(request)["cancel_tasks"],
    )
    request.config_dict[HEALTH].reload(record_id(request))
    return no_content()


def _servers_body(app_id: int, servers: list) -> web.Response:
    return json_response({"app_id": app_id, "server_ids": [server.id for server in servers]})


@operation(tags=TAGS, summary="The servers the app runs on (primary first)", errors=[NotFound])
@response_schema(AppServersSchema, 200, description="Server ids, primary first.")
async def get_app_servers(request: web.Request) -> web.Response:
    app = await get_or_404(App, record_id(request))
    return _servers_body(app.id, await deployments.app_servers(app))


@operation(
    tags=TAGS,
    summary="Set the servers the app runs on besides its primary server",
    description="Rolling and blue-green deploys work across all of them.",
    errors=[NotFound],
)
@request_schema(AppServersSchema)
@response_schema(AppServersSchema, 200, description="Server ids, primary first.")
async def set_app_servers(request: web.Request) -> web.Response:
    app = await get_or_404(App, record_id(request))
    servers = await deployments.set_app_servers(app, body(request)["server_ids"])
    request.config_dict[HEALTH].reload(app.id)
    return _servers_body(app.id, servers)


def register(app: web.Application) -> None:
    app.router.add_get("/apps", list_apps)
    app.router.add_post("/apps", create_app)
    app.router.add_get(f"/apps/{ID_PATTERN}", get_app)
    app.router.add_patch(f"/apps/{ID_PATTERN}", update_app)
    app.router.add_delete(f"/apps/{ID_PATTERN}", delete_app)
    app.router.add_get(f"/apps/{ID_PATTERN}/servers", get_app_servers)
    app.router.add_put(f"/apps/{ID_PATTERN}/servers", set_app_servers)
