"""/services: systemd units on a server — status, control and journal logs.

A unit name that names an app on the server (its name or `service_name`) means the unit of
the app's live blue/green slot (`shop` → `shop-green.service`); any other name is a unit.

Reads (status, logs) run the fast read play (one command over the server's reused SSH
connection, no facts) and wait for it, up to a limit (`PBD_SERVICE_READ_TIMEOUT`): the answer
is the unit's real state now. Past the limit they answer 504 `gateway_timeout` naming the
task, which goes on, to follow. A read runs beside whatever else runs on the server (a
deploy, say): it only looks, so it neither waits for the server nor holds it up. Control
actions are background tasks (202) like every other operation, in the server's order.

Every service run keeps the state it saw as the unit's last known one, which the list
answers from (no run) and which goes out as a `service.status` WebSocket message.
"""

import asyncio
from typing import Any

from aiohttp import web
from aiohttp_apispec import querystring_schema, request_schema, response_schema

from service.api.common import actor, body, json_response, operation, query
from service.api.schemas import (
    ServiceActionSchema,
    ServiceListSchema,
    ServiceLogsQuerySchema,
    ServiceLogsSchema,
    ServiceStatusSchema,
    TaskAcceptedSchema,
)
from service.api.tasks import accepted, task_links
from service.domain import services
from service.domain.records import get_or_404
from service.errors import (
    APIError,
    GatewayTimeout,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
)
from service.keys import ENGINE, SETTINGS
from service.models import Server, Task, TaskKind, TaskStatus
from service.validators import is_systemd_unit

SERVER_ID = r"{server_id:\d{1,9}}"
UNIT = r"{service_name:[A-Za-z0-9_][A-Za-z0-9:_.@-]{0,254}}"
TAGS = ["services"]


async def _target(request: web.Request) -> tuple[Server, str]:
    """The server and the unit to act on (an app's name means its live slot's unit)."""
    server = await get_or_404(Server, int(request.match_info["server_id"]))
    name = request.match_info["service_name"]
    if not is_systemd_unit(name):
        raise ValidationFailed(
            "The request is not valid.",
            details={"service_name": ["Not a valid systemd unit name."]},
        )
    return server, await services.resolve_unit(server, name)


def _failure(task: Task) -> APIError:
    """A read that failed on the host: unknown unit → 404, anything else → 503."""
    message = task.error or "The service playbook failed."
    if "not known" in message or "not-found" in message:
        return NotFound(message, details={"task_id": task.id})
    return ServiceUnavailable(message, details={"task_id": task.id})


def _timed_out(task_id: int, timeout: float) -> GatewayTimeout:
    links = task_links(task_id)
    return GatewayTimeout(
        f"The service playbook did not finish within {timeout:g} s; "
        f"task {task_id} goes on: follow it for the answer.",
        details={"task_id": task_id, "links": links},
        headers={"Location": links["self"]},
    )


async def _run_and_wait(request: web.Request, params: dict[str, Any]) -> Task:
    server, unit = await _target(request)
    engine = request.config_dict[ENGINE]
    timeout = request.config_dict[SETTINGS].service_read_timeout
    task = await engine.submit(
        TaskKind.SERVICE, server, {"service_name": unit, **params}, created_by=actor(request)
    )
    timed_out = False
    try:
        async with asyncio.timeout(timeout):
            await engine.wait(task.id)
    except TimeoutError:
        timed_out = True
    current = await Task.get_or_none(id=task.id)
    if current is None:
        raise NotFound(f"Task {task.id} was deleted (with its server) before it finished.")
    if timed_out:
        raise _timed_out(current.id, timeout)
    if current.status != TaskStatus.SUCCESSFUL:
        raise _failure(current)
    return current


@operation(
    tags=TAGS,
    summary="The apps on a server, each with its live slot's unit and last known state",
    errors=[NotFound],
)
@response_schema(ServiceListSchema, 200, description="One entry per app unit.")
async def list_services(request: web.Request) -> web.Response:
    server = await get_or_404(Server, int(request.match_info["server_id"]))
    known = await services.known_statuses(server)
    items = []
    for app in await services.apps_on(server):
        unit = await services.live_unit(app, server)
        last = known.get(unit or "")
        items.append(
            {
                "app_id": app.id,
                "service_name": app.service_name,
                "unit": unit,
                "status": last.status if last else None,
                "checked_at": last.checked_at.isoformat() if last else None,
            }
        )
    return json_response({"server_id": server.id, "items": items})


READ_DESCRIPTION = (
    "Runs the fast read play (one command on the host over its reused SSH connection) and "
    "waits for it (up to `PBD_SERVICE_READ_TIMEOUT`, 60 s); past that, 504 `gateway_timeout` "
    "with the task id (`details.task_id`, `Location`) to follow: the task goes on. A read "
    "does not wait for other tasks of the server (a deploy, a restart): it runs beside them."
)
READ_ERRORS = [NotFound, ServiceUnavailable, GatewayTimeout]


@operation(
    tags=TAGS,
    summary="The unit's state now (active/sub state, since, main PID, memory)",
    description=READ_DESCRIPTION,
    errors=READ_ERRORS,
)
@response_schema(ServiceStatusSchema, 200, description="The unit's state.")
async def service_status(request: web.Request) -> web.Response:
    task = await _run_and_wait(request, {"action": "status"})
    return json_response(
        {"task_id": task.id, "unit": task.params["service_name"], "status": task.result["status"]}
    )


@operation(
    tags=TAGS,
    summary="Recent journal lines of the unit",
    description=f"{READ_DESCRIPTION} The same entries reach WebSocket subscribers of "
    "`server:ID` as `log` messages.",
    errors=READ_ERRORS,
)
@querystring_schema(ServiceLogsQuerySchema)
@response_schema(ServiceLogsSchema, 200, description="Journal entries, oldest first.")
async def service_logs(request: web.Request) -> web.Response:
    task = await _run_and_wait(request, {"action": "logs", **query(request)})
    return json_response(
        {"task_id": task.id, "unit": task.params["service_name"], "logs": task.result["logs"]}
    )


@operation(
    tags=TAGS, summary="Start, stop, restart, reload, enable or disable the unit", errors=[NotFound]
)
@request_schema(ServiceActionSchema)
@response_schema(TaskAcceptedSchema, 202, description="The queued task.")
async def control_service(request: web.Request) -> web.Response:
    server, unit = await _target(request)
    params = {"service_name": unit, "action": body(request)["action"]}
    engine = request.config_dict[ENGINE]
    return accepted(
        await engine.submit(TaskKind.SERVICE, server, params, created_by=actor(request))
    )


def register(app: web.Application) -> None:
    app.router.add_get(f"/services/{SERVER_ID}", list_services)
    app.router.add_get(f"/services/{SERVER_ID}/{UNIT}", service_status)
    app.router.add_post(f"/services/{SERVER_ID}/{UNIT}", control_service)
    app.router.add_get(f"/services/{SERVER_ID}/{UNIT}/logs", service_logs)
