"""Endpoints that start work on servers: each queues a task and answers 202 with its id.

Each operation exists for one server (`/servers/{id}/setup`) and for several at once
(`/servers/setup` with `server_ids`): one task runs one playbook over all of them, with
each server's own variables, reports each host's outcome and updates each server's record.
"""

from typing import Any

from aiohttp import web
from aiohttp_apispec import request_schema, response_schema

from service.api.access import group_visible, principal
from service.api.common import ID_PATTERN, actor, body, json_response, operation, record_id
from service.api.schemas import (
    AuditReportSchema,
    LockdownSchema,
    ServerSelectionSchema,
    ServersLockdownSchema,
    ServersSetupSchema,
    SetupSchema,
    TaskAcceptedSchema,
)
from service.api.tasks import accepted
from service.domain import security_audits, server_groups
from service.domain.records import get_or_404, require_references
from service.errors import Conflict, NotFound, ValidationFailed
from service.keys import ENGINE
from service.models import Server, TaskKind

ACCEPTED = TaskAcceptedSchema()
TAGS = ["operations"]
MANY = (
    "One task runs the playbook over every server in `server_ids` (or, with `group_id`, "
    "every server of that group now) at once; its result has "
    "each host's outcome (`result.hosts`), and each server's record follows its own outcome."
)


async def start(
    request: web.Request,
    kind: TaskKind,
    params: dict[str, Any] | None = None,
    *,
    needs_setup: bool = False,
) -> web.Response:
    """Queue `kind` on the path's server, or on the body's `server_ids` or `group_id` (the
    first server is the task's primary server); `needs_setup` refuses servers that setup has
    not finished."""
    if "id" in request.match_info:
        servers = [await get_or_404(Server, record_id(request))]
    else:
        servers = await selected_servers(request)
        params = {
            key: value
            for key, value in (params or {}).items()
            if key not in ("server_ids", "group_id")
        }
    if needs_setup:
        refuse_unset(servers)
    engine = request.config_dict[ENGINE]
    task = await engine.submit(
        kind,
        servers[0],
        params,
        server_ids=[server.id for server in servers],
        created_by=actor(request),
    )
    return accepted(task)


async def selected_servers(request: web.Request) -> list[Server]:
    """The body's servers: by id, or a group's now. A scoped token is told that a group with
    a server outside its scope does not exist, as for a server named by id."""
    given = body(request)
    if "server_ids" in given:
        return await require_references(Server, "server_ids", given["server_ids"])
    group_id = given["group_id"]
    who = principal(request)
    if who.scoped and not await group_visible(who, group_id):
        raise ValidationFailed(
            "The request is not valid.",
            details={"group_id": [f"ServerGroup {group_id} does not exist."]},
        )
    return await server_groups.servers_of(group_id)


def refuse_unset(servers: list[Server]) -> None:
    """Lockdown before setup would lock the service out: root cannot log in afterwards, and
    the app user has no working key yet."""
    unset = [server for server in servers if not server.setup_complete]
    if not unset:
        return
    names = ", ".join(f"{server.id} ({server.app_username!r})" for server in unset)
    raise Conflict(
        f"Not set up: server {names}; run setup first, so that the app user can log in "
        "with the service's key after root login is gone.",
        details={"server_ids": [server.id for server in unset]},
    )


@operation(
    tags=TAGS,
    summary="Test SSH and Python on the server through Ansible",
    description="The outcome is stored on the server (`last_connection_ok`, `facts`).",
    errors=[NotFound],
)
@response_schema(ACCEPTED, 202, description="The queued task.")
async def test_connection(request: web.Request) -> web.Response:
    return await start(request, TaskKind.CONNECTION_TEST)


@operation(
    tags=TAGS,
    summary="Full setup: the app user (with the service's key) and the packages",
    description="Sets `setup_complete` once the app user exists with a working key.",
    errors=[NotFound],
)
@request_schema(SetupSchema)
@response_schema(ACCEPTED, 202, description="The queued task.")
async def setup(request: web.Request) -> web.Response:
    return await start(request, TaskKind.SETUP, {"part": "all", **body(request)})


@operation(tags=TAGS, summary="Create or update only the app user", errors=[NotFound])
@request_schema(SetupSchema)
@response_schema(ACCEPTED, 202, description="The queued task.")
async def setup_user(request: web.Request) -> web.Response:
    return await start(request, TaskKind.SETUP, {"part": "user", **body(request)})


@operation(tags=TAGS, summary="Install only the packages", errors=[NotFound])
@request_schema(SetupSchema)
@response_schema(ACCEPTED, 202, description="The queued task.")
async def setup_packages(request: web.Request) -> web.Response:
    return await start(request, TaskKind.PACKAGES, {"part": "packages", **body(request)})


@operation(
    tags=TAGS,
    summary="Lock the server down: firewall, SSH hardening, fail2ban",
    description="Refused with 409 before setup has given the app user a working key: "
    "after lockdown root cannot log in and the service connects as the app user.",
    errors=[NotFound, Conflict],
)
@request_schema(LockdownSchema)
@response_schema(ACCEPTED, 202, description="The queued task.")
async def lockdown(request: web.Request) -> web.Response:
    return await start(request, TaskKind.LOCKDOWN, body(request), needs_setup=True)


@operation(tags=TAGS, summary="Run a new security audit", errors=[NotFound])
@response_schema(ACCEPTED, 202, description="The queued task.")
async def run_audit(request: web.Request) -> web.Response:
    return await start(request, TaskKind.AUDIT)


@operation(
    tags=TAGS,
    summary="The latest security audit report of the server",
    description="404 when no audit has finished yet; start one with POST.",
    errors=[NotFound],
)
@response_schema(AuditReportSchema, 200, description="Findings, score and the task that made them.")
async def latest_audit(request: web.Request) -> web.Response:
    server = await get_or_404(Server, record_id(request))
    latest = await security_audits.latest_report(server.id)
    if latest is None:
        raise NotFound(f"Server {server.id} has no finished audit yet.")
    task, report = latest
    finished_at = task.finished_at.isoformat() if task.finished_at else None
    return json_response({"task_id": task.id, "finished_at": finished_at, "report": report})


@operation(
    tags=TAGS,
    summary="Test SSH and Python on several servers in one run",
    description=MANY,
    errors=[ValidationFailed],
)
@request_schema(ServerSelectionSchema)
@response_schema(ACCEPTED, 202, description="The queued task.")
async def test_connections(request: web.Request) -> web.Response:
    return await start(request, TaskKind.CONNECTION_TEST)


@operation(
    tags=TAGS,
    summary="Full setup of several servers in one run",
    description=MANY,
    errors=[ValidationFailed],
)
@request_schema(ServersSetupSchema)
@response_schema(ACCEPTED, 202, description="The queued task.")
async def setup_many(request: web.Request) -> web.Response:
    return await start(request, TaskKind.SETUP, {"part": "all", **body(request)})


@operation(
    tags=TAGS,
    summary="Lock several servers down in one run",
    description=f"{MANY} Refused with 409 (naming them) while any of them is not set up.",
    errors=[ValidationFailed, Conflict],
)
@request_schema(ServersLockdownSchema)
@response_schema(ACCEPTED, 202, description="The queued task.")
async def lockdown_many(request: web.Request) -> web.Response:
    return await start(request, TaskKind.LOCKDOWN, body(request), needs_setup=True)


@operation(
    tags=TAGS,
    summary="Audit several servers in one run",
    description=MANY,
    errors=[ValidationFailed],
)
@request_schema(ServerSelectionSchema)
@response_schema(ACCEPTED, 202, description="The queued task.")
async def audit_many(request: web.Request) -> web.Response:
    return await start(request, TaskKind.AUDIT)


def register(app: web.Application) -> None:
    app.router.add_post("/servers/test-connection", test_connections)
    app.router.add_post("/servers/setup", setup_many)
    app.router.add_post("/servers/security/lockdown", lockdown_many)
    app.router.add_post("/servers/security/audit", audit_many)
    server = f"/servers/{ID_PATTERN}"
    app.router.add_post(f"{server}/test-connection", test_connection)
    app.router.add_post(f"{server}/setup", setup)
    app.router.add_post(f"{server}/setup/user", setup_user)
    app.router.add_post(f"{server}/setup/packages", setup_packages)
    app.router.add_post(f"{server}/security/lockdown", lockdown)
    app.router.add_post(f"{server}/security/audit", run_audit)
    app.router.add_get(f"{server}/security/audit", latest_audit)
