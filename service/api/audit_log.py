"""The audit log: one middleware records every state-changing request; GET /audit-log reads it.

The middleware sits in the root app between the request id and the error middleware, so it
sees every request's final status, errors included (401 before any token, 403, 422, ...).
A record names the route, a stable action derived from it (`server.create`, `app.deploy`,
`task.cancel`), the target (from the path, or a create's `Location`) and the names of the
body's fields, never their values. There is no route that changes or deletes records.
"""

import logging
import re

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler
from aiohttp_apispec import querystring_schema, response_schema
from marshmallow import Schema, fields, validate

from service.api.access import route_path, visible
from service.api.common import API_PREFIX, filter_by, operation, paginate, query
from service.api.schemas import Integer, PageQuerySchema, page_schema, sort_field
from service.keys import BODY, PRINCIPAL, REQUEST_ID
from service.models import AuditRecord

log = logging.getLogger(__name__)

AUDITED_METHODS = frozenset({hdrs.METH_POST, hdrs.METH_PUT, hdrs.METH_PATCH, hdrs.METH_DELETE})
METHOD_VERBS = {"POST": "create", "PUT": "set", "PATCH": "update", "DELETE": "delete"}
ACTION_NAMES = {("POST", "/services/{server_id}/{service_name}"): "service.control"}
"""The few routes whose action the general rule (see `action_name`) would name wrongly."""
WS_ROUTE, WS_LOGIN = "/ws", "ws.login"
LOCATION_RE = re.compile(rf"^{re.escape(API_PREFIX)}/([a-z-]+)/([0-9]{{1,9}})(/|$)")
TAGS = ["audit log"]


def _kind(collection: str) -> str:
    """`servers` → `server`, `audit-log` → `audit_log`."""
    return collection.removesuffix("s").replace("-", "_")


def action_name(method: str, route: str) -> str:
    """`POST /servers` → `server.create`, `PATCH /servers/{id}` → `server.update`,
    `POST /apps/{id}/deploy` → `app.deploy`, `PUT /apps/{id}/servers` → `app.set_servers`,
    `POST /servers/{id}/security/lockdown` → `server.security_lockdown`, and an action on
    several records at once `POST /servers/setup` → `servers.setup`."""
    named = ACTION_NAMES.get((method, route))
    if named is not None:
        return named
    collection, *rest = route.strip("/").split("/")
    words = [part.replace("-", "_") for part in rest if not part.startswith("{")]
    several = bool(rest) and len(words) == len(rest)
    if not words or method != hdrs.METH_POST:
        words.insert(0, METHOD_VERBS.get(method, method.lower()))
    kind = collection.replace("-", "_") if several else _kind(collection)
    return f"{kind}.{'_'.join(words)}"


def target_of(
    request: web.Request, route: str, location: str | None
) -> tuple[str | None, int | None]:
    """The record a request acts on: the path's first id (`/servers/{id}/setup` → server 7,
    `/services/{server_id}/...` → server 7), else the record a 201 names in `Location`."""
    collection = route.strip("/").split("/")[0]
    for name, value in request.match_info.items():
        if value.isdigit() and (name == "id" or name.endswith("_id")):
            return (_kind(collection) if name == "id" else name.removesuffix("_id")), int(value)
    found = LOCATION_RE.match(location or "")
    if found:
        return _kind(found[1]), int(found[2])
    return (None, None)


async def record(
    request: web.Request,
    *,
    route: str,
    action: str,
    status: int,
    target: tuple[str | None, int | None] = (None, None),
) -> None:
    """Append one record for `request` (its token, if it authenticated, and its source)."""
    who = request.get(PRINCIPAL)
    body = request.get(BODY)
    try:
        await AuditRecord.create(
            token_id=who.token_id if who else None,
            token_name=who.name if who else None,
            role=str(who.role) if who else None,
            method=request.method,
            route=route,
            action=action,
            target_kind=target[0],
            target_id=target[1],
            status=status,
            request_id=request.get(REQUEST_ID, ""),
            source=request.remote,
            changed_fields=sorted(body) if isinstance(body, dict) else [],
        )
    except Exception:
        # The request has happened; its answer is not turned into an error.
        log.exception(
            "audit record not written: %s %s (request_id=%s)",
            request.method,
            route,
            request.get(REQUEST_ID, "-"),
        )


async def record_ws_login(request: web.Request, status: int) -> None:
    """A WebSocket login: 101 with its token, or 401 (no token or a wrong one)."""
    await record(request, route=WS_ROUTE, action=WS_LOGIN, status=status)


def _audited_route(request: web.Request) -> str | None:
    """The API route pattern of a state-changing request; None for anything else."""
    if request.method not in AUDITED_METHODS:
        return None
    resource = request.match_info.route.resource
    if resource is None or not resource.canonical.startswith(API_PREFIX + "/"):
        return None  # no such route (404/405): nothing was acted on
    return route_path(request)


@web.middleware
async def audit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = _audited_route(request)
    if route is None:
        return await handler(request)
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # the few the error middleware passes on (< 400)
        await _record_request(request, route, exc.status, exc.headers.get(hdrs.LOCATION))
        raise
    await _record_request(request, route, response.status, response.headers.get(hdrs.LOCATION))
    return response


async def _record_request(
    request: web.Request, route: str, status: int, location: str | None
) -> None:
    await record(
        request,
        route=route,
        action=action_name(request.method, route),
        status=status,
        target=target_of(request, route, location),
    )


# GET /audit-log ---------------------------------------------------------------------------


class AuditRecordSchema(Schema):
    id = fields.Integer(metadata={"example": 41})
    at = fields.DateTime(metadata={"description": "When the request was answered (UTC)."})
    token_id = fields.Integer(
        allow_none=True, metadata={"description": "null: no valid token.", "example": 2}
    )
    token_name = fields.String(allow_none=True, metadata={"example": "ci"})
    role = fields.String(allow_none=True, metadata={"example": "deployer"})
    method = fields.String(metadata={"example": "POST"})
    route = fields.String(metadata={"example": "/servers/{id}/setup"})
    action = fields.String(metadata={"example": "server.setup"})
    target_kind = fields.String(allow_none=True, metadata={"example": "server"})
    target_id = fields.Integer(allow_none=True, metadata={"example": 7})
    status = fields.Integer(metadata={"description": "The answer's HTTP status.", "example": 202})
    request_id = fields.String(metadata={"example": "5f0c6a3e9b5d4c0e8f1a2b3c4d5e6f70"})
    source = fields.String(allow_none=True, metadata={"example": "192.0.2.10"})
    changed_fields = fields.List(
        fields.String(),
        metadata={"description": "The body's field names (never values).", "example": ["upgrade"]},
    )


class AuditLogQuerySchema(PageQuerySchema):
    sort = sort_field(["id", "at"], default="-id")
    token_id = Integer(validate=validate.Range(min=1))
    target_kind = fields.String(
        validate=[validate.Length(max=32), validate.Regexp(r"^[a-z_]+$")],
        metadata={"example": "server"},
    )
    target_id = Integer(validate=validate.Range(min=1))
    action = fields.String(
        validate=[validate.Length(max=64), validate.Regexp(r"^[a-z_]+\.[a-z_]+$")],
        metadata={"example": "app.deploy"},
    )
    status = Integer(validate=validate.Range(min=100, max=599))
    since = fields.AwareDateTime(metadata={"description": "At or after (ISO 8601 with zone)."})
    until = fields.AwareDateTime(metadata={"description": "Before (ISO 8601 with zone)."})


RECORD = AuditRecordSchema()
AuditRecordPageSchema = page_schema(AuditRecordSchema)


@operation(
    tags=TAGS,
    summary="Who did what: the audit log, page by page",
    description="Every POST, PUT, PATCH and DELETE under /api/v1 (whatever its outcome, 401 "
    "included) and every WebSocket login (101, or 401). Records cannot be changed or deleted "
    "through the API; `PBD_AUDIT_LOG_RETENTION_DAYS` says how long they are kept. A scoped "
    "token sees only the records whose target is one of its servers or apps.",
)
@querystring_schema(AuditLogQuerySchema)
@response_schema(AuditRecordPageSchema, 200, description="One page of records.")
async def list_audit_log(request: web.Request) -> web.Response:
    params = query(request)
    found = filter_by(
        visible(request, AuditRecord.all()),
        params,
        "token_id",
        "target_kind",
        "target_id",
        "action",
        "status",
    )
    if "since" in params:
        found = found.filter(at__gte=params["since"])
    if "until" in params:
        found = found.filter(at__lt=params["until"])
    return await paginate(found, params, RECORD)


def register(app: web.Application) -> None:
    app.router.add_get("/audit-log", list_audit_log)
