"""Endpoints that start work on a server: each queues a task and answers 202 with its id."""

from typing import Any

from aiohttp import web
from aiohttp_apispec import request_schema, response_schema

from service.api.common import ID_PATTERN, actor, body, operation, record_id
from service.api.schemas import AuditReportSchema, LockdownSchema, SetupSchema, TaskAcceptedSchema
from service.api.tasks import accepted
from service.domain.records import get_or_404
from service.errors import Conflict, NotFound
from service.keys import ENGINE
from service.models import Server, Task, TaskKind, TaskStatus

ACCEPTED = TaskAcceptedSchema()
TAGS = ["operations"]


async def start(
    request: web.Request, kind: TaskKind, params: dict[str, Any] | None = None
) -> web.Response:
    server = await get_or_404(Server, record_id(request))
    engine = request.config_dict[ENGINE]
    return accepted(await engine.submit(kind, server, params, created_by=actor(request)))


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
    server = await get_or_404(Server, record_id(request))
    if not server.setup_complete:
        raise Conflict(
            f"Server {server.id} is not set up: run setup first, so that the app user "
            f"{server.app_username!r} can log in with the service's key after root login is gone."
        )
    return await start(request, TaskKind.LOCKDOWN, body(request))


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
    task = (
        await Task.filter(server_id=server.id, kind=TaskKind.AUDIT, status=TaskStatus.SUCCESSFUL)
        .order_by("-id")
        .first()
    )
    if task is None or not (task.result or {}).get("report"):
        raise NotFound(f"Server {server.id} has no finished audit yet.")
    return web.json_response(
        {
            "task_id": task.id,
            "finished_at": task.finished_at.isoformat() if task.finished_at else None,
            "report": task.result["report"],
        }
    )


def register(app: web.Application) -> None:
    server = f"/servers/{ID_PATTERN}"
    app.router.add_post(f"{server}/test-connection", test_connection)
    app.router.add_post(f"{server}/setup", setup)
    app.router.add_post(f"{server}/setup/user", setup_user)
    app.router.add_post(f"{server}/setup/packages", setup_packages)
    app.router.add_post(f"{server}/security/lockdown", lockdown)
    app.router.add_post(f"{server}/security/audit", run_audit)
    app.router.add_get(f"{server}/security/audit", latest_audit)
