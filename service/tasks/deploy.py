"""The deploy, rollback and reconcile kinds: variables for roles/app_deploy, and the records.

Everything a run needs is snapshotted into the task's params when the deployment is
created (zip path, version, release id, options), so a retried or replayed run deploys
exactly the same thing. What the records say follows what the hosts really serve (the
`served` entry of the role's report): after every deploy and rollback, and after a
reconcile, which is queued by itself when a deploy or rollback is cut off.
"""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service.ansible.runner import RunResult
from service.config import Settings
from service.domain import certificates, environment
from service.models import (
    App,
    Deployment,
    DeploymentStatus,
    Server,
    Task,
    TaskKind,
    TaskStatus,
)
from service.models.apps import AppStatus
from service.storage.secrets import SecretBox
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
    "renew_certificate": "app_deploy_tls_force_renewal",
}


def _common_vars(params: dict[str, Any]) -> dict[str, Any]:
    variables = {
        "app_deploy_name": params["app_name"],
        "app_deploy_root": params["remote_path"],
        "app_deploy_service_name": params["service_name"],
        "app_deploy_domain": params["domain"],
        "app_deploy_strategy": params.get("strategy", "rolling"),
        # Tasks queued before TLS existed have no TLS params: plain HTTP, as then.
        "app_deploy_tls": params.get("tls", False),
        "app_deploy_tls_redirect": params.get("tls_redirect", True),
        "app_deploy_tls_hsts": params.get("tls_hsts", False),
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
        **acme_vars(settings),
    }


def acme_vars(settings: Settings) -> dict[str, Any]:
    """Where the hosts get certificates from (the service's settings, not the app's)."""
    bundle = settings.acme_ca_bundle
    return {
        "app_deploy_tls_acme_directory": settings.acme_directory,
        "app_deploy_tls_acme_email": settings.acme_email,
        "app_deploy_tls_acme_ca_bundle": "" if bundle == Path() else str(bundle),
    }


async def environment_file(task: Task, box: SecretBox) -> dict[str, str]:
    """The app's environment (secrets decrypted) for the slot's EnvironmentFile."""
    return {"app_deploy_environment_file": await environment.environment_file(task.app_id, box)}


async def secret_files(task: Task, box: SecretBox) -> dict[str, str]:
    """A deploy's: the environment file, and the certificate the user uploaded, if any (its
    key decrypted)."""
    return {
        **await environment_file(task, box),
        **await certificates.files_for_deploy(task.app_id, box),
    }


def rollback_vars(
    task: Task, servers: list[Server], settings: Settings, public_key: str
) -> dict[str, Any]:
    return {**_common_vars(task.params), "app_deploy_rollback_to": task.params["rollback_to"]}


def reconcile_vars(
    task: Task, servers: list[Server], settings: Settings, public_key: str
) -> dict[str, Any]:
    return _common_vars(task.params)


def app_user_vars(
    task: Task, servers: list[Server], settings: Settings, public_key: str
) -> dict[int, dict[str, Any]]:
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
    await _follow_primary(task, servers, report)
    await _record_certificate(task, servers, report, summary)


async def _record_certificate(
    task: Task, servers: list[Server], report: dict[str, Any], summary: dict[str, Any]
) -> None:
    """The app's certificate state is what its primary server reported having."""
    state = certificates.reported_state(report.get(servers[0].name))
    if task.app_id is None or state is None:
        return
    await App.filter(id=task.app_id).update(certificate=state)
    summary["certificate"] = state


def certificate_notices(task: Task) -> list[tuple[str, dict[str, Any]]]:
    """`app.certificate`: what a deploy found of the app's certificate (flagged when it
    expires soon, or when obtaining it failed)."""
    state = (task.result or {}).get("certificate")
    if state is None:
        return []
    view = certificates.state_view(state, datetime.now(UTC))
    return [("app.certificate", {"app_id": task.app_id, "certificate": view})]


def _served(report: dict[str, Any], server: Server) -> dict[str, Any] | None:
    """What nginx serves on this server at the end of the run (None: the host did not say)."""
    host = report.get(server.name)
    served = host.get("served") if isinstance(host, dict) else None
    return served if isinstance(served, dict) else None


async def _follow_primary(task: Task, servers: list[Server], report: dict[str, Any]) -> None:
    """The app's current version is the one its primary server really serves."""
    served = _served(report, servers[0])
    if task.app_id is None or served is None:
        return
    version = served.get("version")
    await App.filter(id=task.app_id).update(
        current_version=version, status=AppStatus.RUNNING if version else AppStatus.ERROR
    )


async def record_restart(
    task: Task, servers: list[Server], result: RunResult, summary: dict[str, Any]
) -> None:
    """Per-host outcome of the restart (slot, release, health) in the task's result."""
    summary["hosts"] = result.custom_stats.get("restart") or {}


RESTART_OPTIONS = (
    "ports",
    "health_path",
    "health_command",
    "health_timeout",
    "health_retries",
    "health_delay",
)
"""What a restart keeps of the live deployment's options: its slots and its health check."""


def restart_params(app: App, deployment: Deployment) -> dict[str, Any]:
    """A restart of the app's live slots, checked as the live deployment was."""
    options = deployment.options or {}
    return {
        **reconcile_params(app, deployment),
        "options": {name: options.get(name) for name in RESTART_OPTIONS},
    }


def tls_params(app: App) -> dict[str, Any]:
    """How the app's domain is served (the same for a deploy, a rollback and a reconcile)."""
    return {"tls": app.tls, "tls_redirect": app.tls_redirect, "tls_hsts": app.tls_hsts}


def reconcile_params(app: App, deployment: Deployment | None) -> dict[str, Any]:
    """A reconcile of the app's hosts, with the slot ports its deployments use."""
    ports = (deployment.options or {}).get("ports") if deployment else None
    return {
        "app_name": app.name,
        "remote_path": app.remote_path,
        "service_name": app.service_name,
        "domain": app.domain,
        **tls_params(app),
        "options": {"ports": ports},
        "deployment_id": deployment.id if deployment else None,
    }


async def reconcile_after_cut(task: Task) -> tuple[TaskKind, dict[str, Any]] | None:
    """A cut-off deploy or rollback may leave a hook or the new slot running and the
    records behind the host: reconcile the app's servers next (same servers, in order)."""
    app = await App.get_or_none(id=task.app_id) if task.app_id is not None else None
    if app is None:
        return None
    deployment = await Deployment.get_or_none(id=task.deployment_id or 0)
    return TaskKind.RECONCILE, reconcile_params(app, deployment)


async def record_reconcile(
    task: Task, servers: list[Server], result: RunResult, summary: dict[str, Any]
) -> None:
    """The records follow the hosts: the app's current version, and the reconciled
    deployment's per-host results and status (completed when its release is live on every
    server, even if its run was cancelled or cut off after the switch)."""
    report = result.custom_stats.get("reconcile") or {}
    summary["hosts"] = report
    await _follow_primary(task, servers, report)
    deployment = await Deployment.get_or_none(id=task.params.get("deployment_id") or 0)
    if deployment is None:
        return
    served = {server.name: _served(report, server) for server in servers}
    results = dict(deployment.host_results or {})
    for name, entry in served.items():
        if entry is not None:
            results[name] = {**(results.get(name) or {}), "served": entry}
    deployment.host_results = results
    live_everywhere = all(
        entry is not None and entry.get("release_id") == deployment.release_id
        for entry in served.values()
    )
    if deployment.status in (DeploymentStatus.CANCELLED, DeploymentStatus.FAILED) and (
        deployment.release_id and live_everywhere
    ):
        deployment.status = DeploymentStatus.COMPLETED
        deployment.error = (
            f"{deployment.error or 'The run was cut off.'} Reconciled: release "
            f"{deployment.release_id} was already live on every server."
        )
    await deployment.save(update_fields=["host_results", "status", "error"])
