"""The deploy and rollback kinds: variables for roles/app_deploy, and the deployment record.

Everything a run needs is snapshotted into the task's params when the deployment is
created (zip path, version, release id, options), so a retried or replayed run deploys
exactly the same thing.
"""

from datetime import UTC, datetime
from typing import Any

from service.ansible.runner import RunResult
from service.config import Settings
from service.models import App, Deployment, DeploymentStatus, Server, Task, TaskStatus
from service.models.apps import AppStatus
from service.tasks.events import log_lines

LOG_EVENTS = 2000
LOG_BYTES = 256 * 1024

OPTION_VARIABLES = {
    "health_path": "app_deploy_health_path",
    "health_command": "app_deploy_health_command",
    "health_timeout": "app_deploy_health_timeout",
    "health_retries": "app_deploy_health_retries",
    "health_delay": "app_deploy_health_delay",
    "keep_releases": "app_deploy_keep_releases",
    "pre_hooks": "app_deploy_pre_hooks",
    "post_hooks": "app_deploy_post_hooks",
    "batch_size": "app_deploy_batch_size",
    "ports": "app_deploy_ports",
    "shared_paths": "app_deploy_shared_paths",
}


def _common_vars(params: dict[str, Any]) -> dict[str, Any]:
    variables = {
        "app_deploy_name": params["app_name"],
        "app_deploy_root": params["remote_path"],
        "app_deploy_service_name": params["service_name"],
        "app_deploy_domain": params["domain"],
        "app_deploy_strategy": params["strategy"],
    }
    for option, variable in OPTION_VARIABLES.items():
        if params["options"].get(option) is not None:
            variables[variable] = params["options"][option]
    return variables


def deploy_vars(
    task: Task, servers: list[Server], settings: Settings, public_key: str
) -> dict[str, Any]:
    params = task.params
    return {
        **_common_vars(params),
        "app_deploy_zip": params["zip_path"],
        "app_deploy_version": params["version_number"],
        "app_deploy_release_id": params["release_id"],
    }


def rollback_vars(
    task: Task, servers: list[Server], settings: Settings, public_key: str
) -> dict[str, Any]:
    return {**_common_vars(task.params), "app_deploy_rollback_to": task.params["rollback_to"]}


def app_user_vars(task: Task, servers: list[Server]) -> dict[int, dict[str, Any]]:
    """The app user differs per server, so it is a host variable, not an extravar."""
    return {server.id: {"app_deploy_user": server.app_username} for server in servers}


async def follow_deployment(task: Task) -> None:
    """Keep the deployment and its app in step with the task running it."""
    if task.deployment_id is None:
        return
    deployment = await Deployment.get_or_none(id=task.deployment_id)
    if deployment is None:
        return
    app = await App.get(id=deployment.app_id)
    now = datetime.now(UTC)
    if task.status == TaskStatus.QUEUED:
        deployment.status = DeploymentStatus.PENDING
    elif task.status == TaskStatus.RUNNING:
        deployment.status = DeploymentStatus.RUNNING
        deployment.started_at = deployment.started_at or now
        app.status = AppStatus.DEPLOYING
    else:
        deployment.completed_at = now
        deployment.error = task.error
        deployment.logs = "\n".join(await log_lines(task.id, LOG_EVENTS))[-LOG_BYTES:]
        if task.status == TaskStatus.SUCCESSFUL:
            deployment.status = DeploymentStatus.COMPLETED
            app.current_version = task.params["version_number"]
            app.status = AppStatus.RUNNING
        else:
            deployment.status = (
                DeploymentStatus.CANCELLED
                if task.status == TaskStatus.CANCELLED
                else DeploymentStatus.FAILED
            )
            # A failed switch leaves the old release serving (health-gated, rolled back).
            app.status = AppStatus.RUNNING if app.current_version else AppStatus.ERROR
    await deployment.save()
    await app.save(update_fields=["status", "current_version"])


async def record_hosts(
    task: Task, servers: list[Server], result: RunResult, summary: dict[str, Any]
) -> None:
    """Per-host outcome (release, slot, step, health) from the role's report."""
    if task.deployment_id is None:
        return
    report = result.custom_stats.get("deploy") or result.custom_stats.get("rollback") or {}
    steps = [host.get("step") for host in report.values() if isinstance(host, dict)]
    summary["hosts"] = report
    await Deployment.filter(id=task.deployment_id).update(
        host_results=report, current_step=steps[-1] if steps else None
    )
