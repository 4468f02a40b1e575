"""/server-groups: named sets of servers that an operation on several servers can be given
(`group_id`) instead of their ids."""

from typing import Any

from aiohttp import web
from aiohttp_apispec import querystring_schema, request_schema, response_schema

from service.api.access import visible
from service.api.common import (
    ID_PATTERN,
    Computed,
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
    ServerGroupListQuerySchema,
    ServerGroupPageSchema,
    ServerGroupSchema,
)
from service.domain import server_groups
from service.domain.records import get_or_404
from service.errors import Conflict, NotFound
from service.models import ServerGroup

GROUP = ServerGroupSchema()
GROUP_CHANGES = ServerGroupSchema(partial=True)
TAGS = ["server groups"]


async def _fill_server_ids(rows: list[dict[str, Any]]) -> None:
    members = await server_groups.member_ids([row["id"] for row in rows])
    for row in rows:
        row["server_ids"] = members[row["id"]]


MEMBERS = Computed(frozenset({"server_ids"}), _fill_server_ids)


@operation(tags=TAGS, summary="List server groups, page by page")
@querystring_schema(ServerGroupListQuerySchema)
@response_schema(ServerGroupPageSchema, 200, description="One page of groups.")
async def list_groups(request: web.Request) -> web.Response:
    params = query(request)
    found = visible(request, ServerGroup.all())
    if "q" in params:
        found = found.filter(name__icontains=params["q"])
    return await paginate(found, params, GROUP, MEMBERS)


@operation(tags=TAGS, summary="Create a server group", errors=[Conflict])
@request_schema(GROUP)
@response_schema(GROUP, 201, description="The new group.")
async def create_group(request: web.Request) -> web.Response:
    return created(GROUP, await server_groups.create_group(body(request)), "server-groups")


@operation(tags=TAGS, summary="Get one server group", errors=[NotFound])
@response_schema(GROUP, 200, description="The group.")
async def get_group(request: web.Request) -> web.Response:
    return respond(GROUP, await server_groups.get_group(record_id(request)))


@operation(
    tags=TAGS,
    summary="Change a server group",
    description="`server_ids` replaces the group's servers.",
    errors=[NotFound, Conflict],
)
@request_schema(GROUP_CHANGES)
@response_schema(GROUP, 200, description="The updated group.")
async def update_group(request: web.Request) -> web.Response:
    return respond(GROUP, await server_groups.update_group(record_id(request), body(request)))


@operation(
    tags=TAGS,
    summary="Delete a server group (its servers stay)",
    errors=[NotFound],
)
@response_schema(None, 204, description="Deleted.")
async def delete_group(request: web.Request) -> web.Response:
    await (await get_or_404(ServerGroup, record_id(request))).delete()
    return no_content()


def register(app: web.Application) -> None:
    app.router.add_get("/server-groups", list_groups)
    app.router.add_post("/server-groups", create_group)
    app.router.add_get(f"/server-groups/{ID_PATTERN}", get_group)
    app.router.add_patch(f"/server-groups/{ID_PATTERN}", update_group)
    app.router.add_delete(f"/server-groups/{ID_PATTERN}", delete_group)
