"""/tasks: follow, cancel and retry background work; shared helpers for endpoints that start it."""

from aiohttp import web
from aiohttp_apispec import querystring_schema, request_schema, response_schema
from tortoise.expressions import Subquery

from service.api.access import visible
from service.api.common import (
    ID_PATTERN,
    actor,
    body,
    filter_by,
    json_response,
    operation,
    paginate,
    query,
    record_id,
    respond,
)
from service.api.schemas import (
    TaskAcceptedSchema,
    TaskEventPageSchema,
    TaskEventQuerySchema,
    TaskListQuerySchema,
    TaskPageSchema,
    TaskRetrySchema,
    TaskSchema,
)
from service.domain.records import get_or_404
from service.errors import Conflict, NotFound
from service.keys import ENGINE
from service.models import Task, TaskEvent, TaskServer
from service.models.tasks import FINISHED_STATUSES

TASK = TaskSchema()
ACCEPTED = TaskAcceptedSchema()
TAGS = ["tasks"]


def task_links(task_id: int) -> dict[str, str]:
    """Where to follow a task."""
    return {
        "self": f"/api/v1/tasks/{task_id}",
        "events": f"/api/v1/tasks/{task_id}/events",
        "cancel": f"/api/v1/tasks/{task_id}/cancel",
        "websocket": "/api/v1/ws",
    }


def accepted(task: Task) -> web.Response:
    """202 with the new task and where to follow it."""
    links = task_links(task.id)
    return json_response(
        {"task": TASK.dump(task), "links": links},
        status=202,
        headers={"Location": links["self"]},
    )


@operation(tags=TAGS, summary="List tasks, newest first by default")
@querystring_schema(TaskListQuerySchema)
@response_schema(TaskPageSchema, 200, description="One page of tasks.")
async def list_tasks(request: web.Request) -> web.Response:
    params = query(request)
    found = filter_by(visible(request, Task.all()), params, "app_id", "status", "kind")
    if "server_id" in params:  # every task that runs on it, also one over several servers
        found = found.filter(id__in=Subquery(TaskServer.task_ids_on(params["server_id"])))
    return await paginate(found, params, TASK)


@operation(tags=TAGS, summary="Status, progress, timings and result of a task", errors=[NotFound])
@response_schema(TASK, 200, description="The task.")
async def get_task(request: web.Request) -> web.Response:
    return respond(TASK, await get_or_404(Task, record_id(request)))


@operation(
    tags=TAGS,
    summary="Stored events of a task after a sequence number",
    description="Poll with `after` = the last `seq` you saw; the WebSocket streams them live.",
    errors=[NotFound],
)
@querystring_schema(TaskEventQuerySchema)
@response_schema(TaskEventPageSchema, 200, description="Events in order.")
async def list_task_events(request: web.Request) -> web.Response:
    task = await get_or_404(Task, record_id(request))
    params = query(request)
    rows = (
        await TaskEvent.filter(task_id=task.id, counter__gt=params["after"])
        .order_by("counter")
        .limit(params["limit"])
        .values_list("counter", "data")  # plain values: no model instance per event
    )
    return json_response(
        {
            "items": [{"seq": seq, "event": data} for seq, data in rows],
            "last_seq": rows[-1][0] if rows else params["after"],
            "finished": task.status in FINISHED_STATUSES,
        }
    )


@operation(
    tags=TAGS,
    summary="Cancel a queued or running task",
    description="A running playbook is killed with every process it forked; it ends `cancelled`.",
    errors=[NotFound, Conflict],
)
@response_schema(TASK, 202, description="Cancellation accepted.")
async def cancel_task(request: web.Request) -> web.Response:
    task = await get_or_404(Task, record_id(request))
    return respond(TASK, await request.config_dict[ENGINE].cancel(task), status=202)


@operation(
    tags=TAGS,
    summary="Run a finished, unsuccessful task again",
    description="`failed_hosts_only` limits the new run to the hosts that failed or were down.",
    errors=[NotFound, Conflict],
)
@request_schema(TaskRetrySchema)
@response_schema(ACCEPTED, 202, description="The new task.")
async def retry_task(request: web.Request) -> web.Response:
    task = await get_or_404(Task, record_id(request))
    engine = request.config_dict[ENGINE]
    return accepted(
        await engine.retry(
            task, failed_hosts_only=body(request)["failed_hosts_only"], created_by=actor(request)
        )
    )


def register(app: web.Application) -> None:
    app.router.add_get("/tasks", list_tasks)
    app.router.add_get(f"/tasks/{ID_PATTERN}", get_task)
    app.router.add_get(f"/tasks/{ID_PATTERN}/events", list_task_events)
    app.router.add_post(f"/tasks/{ID_PATTERN}/cancel", cancel_task)
    app.router.add_post(f"/tasks/{ID_PATTERN}/retry", retry_task)
