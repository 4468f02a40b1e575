"""Deploying apps and following deployments: /apps/{id}/deploy|rollback|reconcile,
/deployments."""

from typing import Any

from aiohttp import web
from aiohttp_apispec import querystring_schema, request_schema, response_schema
from tortoise.queryset import QuerySet

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
    DeploymentAcceptedSchema,
    DeploymentListQuerySchema,
    DeploymentPageSchema,
    DeploymentSchema,
    DeploymentStatsQuerySchema,
    DeploymentStatsSchema,
    DeploymentStatusSchema,
    DeploySchema,
    RollbackSchema,
    TaskAcceptedSchema,
    TaskSchema,
)
from service.api.tasks import accepted
from service.domain import deployments
from service.domain.records import get_or_404
from service.domain.tokens import Actor
from service.errors import Conflict, NotFound
from service.keys import ENGINE, SETTINGS
from service.models import Deployment, Task
from service.tasks.events import log_lines

DEPLOYMENT = DeploymentSchema()
TASK = TaskSchema()
TAGS = ["deployments"]
LOG_LINES = 500


def deploy_options(request_body: dict) -> dict:
    """The deploy options as the deploy task stores them (flat, role-shaped names)."""
    health = request_body.get("health") or {}
    hooks = request_body.get("hooks") or {}
    return {
        "health_path": health.get("path"),
        "health_command": health.get("command"),
        "health_timeout": health.get("timeout"),
        "health_retries": health.get("retries"),
        "health_delay": health.get("delay"),
        "pre_hooks": hooks.get("pre") or None,
        "post_hooks": hooks.get("post") or None,
        "batch_size": request_body.get("batch_size"),
        "keep_releases": request_body.get("keep_releases"),
        "renew_certificate": request_body.get("renew_certificate"),
    }


def accepted_deployment(deployment: Deployment, task: Task) -> web.Response:
    links = {
        "self": f"/api/v1/deployments/{deployment.id}/status",
        "task": f"/api/v1/tasks/{task.id}",
        "cancel": f"/api/v1/deployments/{deployment.id}/cancel",
        "websocket": "/api/v1/ws",
    }
    return json_response(
        {"deployment": DEPLOYMENT.dump(deployment), "task": TASK.dump(task), "links": links},
        status=202,
        headers={"Location": links["self"]},
    )


@operation(
    tags=TAGS,
    summary="Deploy a version of the app to all its servers",
    description="`rolling` deploys in batches of `batch_size` hosts and stops at the first "
    "failed batch; `blue-green` starts and health-checks the new release on every host "
    "before traffic is switched anywhere. Each host switches with no downtime and a failed "
    "health check leaves the old release serving.",
    errors=[NotFound, Conflict],
)
@request_schema(DeploySchema)
@response_schema(DeploymentAcceptedSchema, 202, description="The deployment and its task.")
async def deploy_app(request: web.Request) -> web.Response:
    return await start_deploy(request, body(request), actor(request))


async def start_deploy(request: web.Request, data: dict, created_by: Actor) -> web.Response:
    """Deploy `data["version_id"]` of the app in the path (a DeploySchema body): for a
    token (POST /apps/{id}/deploy) or for the app's deploy hook."""
    deployment, task = await deployments.deploy(
        request.config_dict[ENGINE],
        request.config_dict[SETTINGS],
        record_id(request),
        {
            "version_id": data["version_id"],
            "strategy": data["strategy"].value,
            "options": deploy_options(data),
        },
        created_by=created_by,
    )
    return accepted_deployment(deployment, task)


@operation(
    tags=TAGS,
    summary="Roll the app back: to the previous release, or to a named version",
    errors=[NotFound, Conflict],
)
@request_schema(RollbackSchema)
@response_schema(DeploymentAcceptedSchema, 202, description="The deployment and its task.")
async def rollback_app(request: web.Request) -> web.Response:
    data = body(request)
    deployment, task = await deployments.rollback(
        request.config_dict[ENGINE],
        request.config_dict[SETTINGS],
        record_id(request),
        {"version_id": data.get("version_id"), "options": deploy_options(data)},
        created_by=actor(request),
    )
    return accepted_deployment(deployment, task)


@operation(
    tags=TAGS,
    summary="Reconcile the app's servers and records with what the servers really serve",
    description="Reads on every server which slot nginx really serves and the release it "
    "runs, stops what a cut-off deploy left running there (a hook, the slot that does not "
    "serve), repairs the markers, removes releases that never went live, and sets the app's "
    "`current_version` and the latest deployment's per-host results (and its status, when "
    "its release is live everywhere) from it. Queued by itself after a cancelled or "
    "interrupted deploy or rollback.",
    errors=[NotFound],
)
@response_schema(TaskAcceptedSchema, 202, description="The queued reconcile task.")
async def reconcile_app(request: web.Request) -> web.Response:
    engine = request.config_dict[ENGINE]
    return accepted(
        await deployments.reconcile(engine, record_id(request), created_by=actor(request))
    )


@operation(tags=TAGS, summary="List deployments (filter by app, status, kind and time)")
@querystring_schema(DeploymentListQuerySchema)
@response_schema(DeploymentPageSchema, 200, description="One page of deployments.")
async def list_deployments(request: web.Request) -> web.Response:
    params = query(request)
    return await paginate(matching(request, params), params, DEPLOYMENT)


def matching(request: web.Request, params: dict[str, Any]) -> QuerySet[Deployment]:
    """The deployments the caller may see that pass a DeploymentListQuerySchema's filters:
    the API's list and the dashboard's history page filter alike."""
    found = filter_by(visible(request, Deployment.all()), params, "app_id", "status", "kind")
    if "since" in params:
        found = found.filter(created__gte=params["since"])
    if "until" in params:
        found = found.filter(created__lt=params["until"])
    return found


async def _task_of(deployment: Deployment) -> Task | None:
    return await Task.filter(deployment_id=deployment.id).order_by("-id").first()


@operation(
    tags=TAGS,
    summary="Status, progress, current step, per-host results and logs of a deployment",
    errors=[NotFound],
)
@response_schema(DeploymentStatusSchema, 200, description="The deployment now.")
async def deployment_status(request: web.Request) -> web.Response:
    deployment = await get_or_404(Deployment, record_id(request))
    task = await _task_of(deployment)
    lines: list[str] = []
    if task is not None:
        lines = await log_lines(task.id, LOG_LINES)
        current = (task.progress or {}).get("current_task")
        if current and deployment.status.value in ("pending", "running"):
            deployment.current_step = current
    return json_response(
        {
            "deployment": DEPLOYMENT.dump(deployment),
            "task": TASK.dump(task) if task else None,
            "progress": (task.progress if task else None) or {},
            "logs": lines,
        }
    )


@operation(
    tags=TAGS,
    summary="Cancel a deployment",
    description="The run is killed at once; each host keeps serving exactly one complete "
    "release (nginx's switch is one host-side step). A reconcile is then queued for the "
    "app's servers: it stops the hook and the new slot the run started, removes the "
    "cancelled release, and makes the records say what the servers serve.",
    errors=[NotFound, Conflict],
)
@response_schema(DEPLOYMENT, 202, description="Cancellation accepted.")
async def cancel_deployment(request: web.Request) -> web.Response:
    deployment = await get_or_404(Deployment, record_id(request))
    task = await _task_of(deployment)
    if task is None:
        raise Conflict(f"Deployment {deployment.id} has no task to cancel.")
    await request.config_dict[ENGINE].cancel(task)
    return respond(DEPLOYMENT, await Deployment.get(id=deployment.id), status=202)


@operation(
    tags=TAGS,
    summary="Deployment figures over 24 h, 7 d and 30 d, overall and per app",
)
@querystring_schema(DeploymentStatsQuerySchema)
@response_schema(DeploymentStatsSchema, 200, description="Counts, success rate, durations.")
async def deployment_stats(request: web.Request) -> web.Response:
    found = filter_by(visible(request, Deployment.all()), query(request), "app_id")
    return json_response(await deployments.stats(found))


def register(app: web.Application) -> None:
    app.router.add_post(f"/apps/{ID_PATTERN}/deploy", deploy_app)
    app.router.add_post(f"/apps/{ID_PATTERN}/rollback", rollback_app)
    app.router.add_post(f"/apps/{ID_PATTERN}/reconcile", reconcile_app)
    app.router.add_get("/deployments", list_deployments)
    app.router.add_get("/deployments/stats", deployment_stats)
    app.router.add_get(f"/deployments/{ID_PATTERN}/status", deployment_status)
    app.router.add_post(f"/deployments/{ID_PATTERN}/cancel", cancel_deployment)
