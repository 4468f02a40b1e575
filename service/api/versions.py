"""/versions: builds of an app (metadata; the zip upload has its own endpoint)."""

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
from service.api.schemas import VersionListQuerySchema, VersionPageSchema, VersionSchema
from service.domain import versions
from service.domain.records import get_or_404
from service.errors import Conflict, NotFound
from service.models import Version

VERSION = VersionSchema()
TAGS = ["versions"]


@operation(tags=TAGS, summary="List versions, optionally of one app")
@querystring_schema(VersionListQuerySchema)
@response_schema(VersionPageSchema, 200, description="One page of versions.")
async def list_versions(request: web.Request) -> web.Response:
    params = query(request)
    found = Version.all()
    if "app_id" in params:
        found = found.filter(app_id=params["app_id"])
    return await paginate(found, params, VERSION)


@operation(tags=TAGS, summary="Create a version of an app", errors=[Conflict])
@request_schema(VERSION)
@response_schema(VERSION, 201, description="The new version.")
async def create_version(request: web.Request) -> web.Response:
    return respond(VERSION, await versions.create_version(body(request)), status=201)


@operation(tags=TAGS, summary="Get one version", errors=[NotFound])
@response_schema(VERSION, 200, description="The version.")
async def get_version(request: web.Request) -> web.Response:
    return respond(VERSION, await get_or_404(Version, record_id(request)))


@operation(
    tags=TAGS,
    summary="Delete a version",
    description="Refused with 409 for the version the app runs now.",
    errors=[NotFound, Conflict],
)
@response_schema(None, 204, description="Deleted.")
async def delete_version(request: web.Request) -> web.Response:
    await versions.delete_version(record_id(request))
    return no_content()


def register(app: web.Application) -> None:
    app.router.add_get("/versions", list_versions)
    app.router.add_post("/versions", create_version)
    app.router.add_get(f"/versions/{ID_PATTERN}", get_version)
    app.router.add_delete(f"/versions/{ID_PATTERN}", delete_version)
