"""/apps/{id}/health and /apps/{id}/restart: what the health checker sees, and a restart."""

from aiohttp import web
from aiohttp_apispec import response_schema
from marshmallow import Schema, fields

from service.api.common import ID_PATTERN, actor, json_response, operation, record_id
from service.api.schemas import TaskAcceptedSchema
from service.api.tasks import accepted
from service.domain import deployments
from service.domain.health import app_health
from service.domain.records import get_or_404
from service.errors import Conflict, NotFound
from service.keys import ENGINE, HEALTH
from service.models import App, HealthStatus

TAGS = ["apps"]


class FailureSchema(Schema):
    at = fields.String(required=True, metadata={"description": "ISO 8601 time of the check."})
    server_id = fields.Integer(required=True)
    error = fields.String(required=True, metadata={"example": "HTTP 502"})
    latency_ms = fields.Float(required=True)


class FiguresSchema(Schema):
    uptime_24h = fields.Float(
        allow_none=True, metadata={"description": "Percent of checks that passed; null: none."}
    )
    uptime_7d = fields.Float(allow_none=True)
    checks_24h = fields.Integer()
    checks_7d = fields.Integer()
    latency_ms_24h = fields.Float(allow_none=True, metadata={"description": "Mean latency."})


class HostHealthSchema(FiguresSchema):
    server_id = fields.Integer(required=True)
    server_name = fields.String(required=True)
    state = fields.String(
        required=True,
        metadata={"description": "up, down (N failed checks in a row) or unknown (not checked)"},
    )
    since = fields.DateTime(allow_none=True, metadata={"description": "When it became so."})
    error = fields.String(allow_none=True, metadata={"description": "Why it is down."})
    recent_failures = fields.List(
        fields.Nested(FailureSchema), metadata={"description": "Newest first."}
    )


class AppHealthSchema(FiguresSchema):
    app_id = fields.Integer(required=True)
    health_status = fields.Enum(HealthStatus, by_value=True, allow_none=True)
    health_interval = fields.Integer()
    restart_on_down = fields.Boolean()
    hosts = fields.List(fields.Nested(HostHealthSchema))
    recent_failures = fields.List(
        fields.Nested(FailureSchema), metadata={"description": "Over all hosts, newest first."}
    )


HEALTH_OUT = AppHealthSchema()


@operation(
    tags=TAGS,
    summary="The app's health: each host's state, uptime over 24 h and 7 d, recent failures",
    description="After a deploy the service GETs the app's health path (the deployment's "
    "`health_path`, default `/health`) through nginx on every host of the app, with the "
    "app's domain as Host header, every `health_interval` seconds. The app's "
    "`health_status` says `running`, `degraded` or `down`.",
    errors=[NotFound],
)
@response_schema(AppHealthSchema, 200, description="The app's health now.")
async def get_app_health(request: web.Request) -> web.Response:
    app = await get_or_404(App, record_id(request))
    checker = request.config_dict[HEALTH]
    await checker.flush()  # the counts of the checks made since the last write
    return json_response(HEALTH_OUT.dump(await app_health(app, checker.clock.now())))


@operation(
    tags=TAGS,
    summary="Restart the app's live slot on each host, one at a time, health-gated",
    description="Writes the live slot's environment file again (a changed environment "
    "applies), restarts its unit and checks it as a deploy does (on the slot's port, then "
    "through nginx); a host that fails stops the run. 409 while a deployment is in "
    "progress or before the first completed deployment.",
    errors=[NotFound, Conflict],
)
@response_schema(TaskAcceptedSchema, 202, description="The queued restart task.")
async def restart_app(request: web.Request) -> web.Response:
    engine = request.config_dict[ENGINE]
    return accepted(
        await deployments.restart(engine, record_id(request), created_by=actor(request))
    )


def register(app: web.Application) -> None:
    app.router.add_get(f"/apps/{ID_PATTERN}/health", get_app_health)
    app.router.add_post(f"/apps/{ID_PATTERN}/restart", restart_app)
