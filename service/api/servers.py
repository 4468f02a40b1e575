"""/servers: the machines the service manages."""

from aiohttp import web
from aiohttp_apispec import querystring_schema, request_schema, response_schema

from service.api.access import visible
from service.api.common import (
    ID_PATTERN,
    body,
    created,
    no_content,
    operation,
    paginate,
    query,
    record_id,
    respond,
)
from service.api.schemas import (
    DeleteServerQuerySchema,
    ServerListQuerySchema,
    ServerPageSchema,
    ServerSchema,
)
from service.domain import servers
from service.domain.records import get_or_404
from service.errors import Conflict, NotFound
from service.keys import ENGINE
from service.models import Server

SERVER = ServerSchema()
SERVER_CHANGES = ServerSchema(partial=True)
TAGS = ["servers"]


@operation(tags=TAGS, summary="List servers, page by page")
@querystring_schema(ServerListQuerySchema)
@response_schema(ServerPageSchema, 200, description="One page of servers.")
async def list_servers(request: web.Request) -> web.Response:
    params = query(request)
    found = visible(request, Server.all())
    if "q" in params:
        found = found.filter(name__icontains=params["q"])
    return await paginate(found, params, SERVER)


@operation(tags=TAGS, summary="Register a server", errors=[Conflict])
@request_schema(SERVER)
@response_schema(SERVER, 201, description="The new server.")
async def create_server(request: web.Request) -> web.Response:
    return created(SERVER, await servers.create_server(body(request)), "servers")


@operation(tags=TAGS, summary="Get one server", errors=[NotFound])
@response_schema(SERVER, 200, description="The server.")
async def get_server(request: web.Request) -> web.Response:
    return respond(SERVER, await get_or_404(Server, record_id(request)))


@operation(tags=TAGS, summary="Change some fields of a server", errors=[NotFound, Conflict])
@request_schema(SERVER_CHANGES)
@response_schema(SERVER, 200, description="The updated server.")
async def update_server(request: web.Request) -> web.Response:
    return respond(SERVER, await servers.update_server(record_id(request), body(request)))


@operation(
    tags=TAGS,
    summary="Delete a server",
    description=(
        "Refused with 409 while the server has apps, unless `cascade=true`, and while it "
        "has queued or running tasks (named in `details.tasks`), unless `cancel_tasks=true`."
    ),
    errors=[NotFound, Conflict],
)
@querystring_schema(DeleteServerQuerySchema)
@response_schema(None, 204, description="Deleted.")
async def delete_server(request: web.Request) -> web.Response:
    params = query(request)
    await servers.delete_server(
        request.config_dict[ENGINE],
        record_id(request),
        cascade=params["cascade"],
        cancel_tasks=params["cancel_tasks"],
    )
    return no_content()


def register(app: web.Application) -> None:
    app.router.add_get("/servers", list_servers)
    app.router.add_post("/servers", create_server)
    app.router.add_get(f"/servers/{ID_PATTERN}", get_server)
    app.router.add_patch(f"/servers/{ID_PATTERN}", update_server)
    app.router.add_delete(f"/servers/{ID_PATTERN}", delete_server)
