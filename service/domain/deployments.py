"""Deployments: what may be deployed or rolled back, and the figures over time."""

import math
import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.queryset import QuerySet

from service.config import Settings
from service.domain.records import get_or_404, require_reference, require_references
from service.domain.tokens import Actor
from service.domain.uploads import stored_zip
from service.errors import Conflict, ValidationFailed
from service.models import (
    App,
    Deployment,
    DeploymentKind,
    DeploymentStatus,
    Server,
    Task,
    TaskKind,
    Version,
)
from service.tasks.deploy import reconcile_params, restart_params, tls_params
from service.tasks.engine import TaskEngine

ACTIVE = (DeploymentStatus.PENDING, DeploymentStatus.RUNNING)
WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


def release_id(version_number: str, now: datetime) -> str:
    """`<version>-<UTC timestamp>`: sortable, unique per deploy, safe as a directory name."""
    return f"{version_number.replace('+', '_')}-{now:%Y%m%dT%H%M%S%fZ}"


async def app_servers(app: App) -> list[Server]:
    """The app's primary server first, then the others it runs on."""
    primary = await Server.get(id=app.server_id)
    extra = [server for server in await app.servers.all().order_by("id") if server.id != primary.id]
    return [primary, *extra]


async def set_app_servers(app: App, server_ids: list[int]) -> list[Server]:
    servers = await require_references(Server, "server_ids", server_ids)
    await app.servers.clear()
    if servers:
        await app.servers.add(*servers)
    return await app_servers(app)


async def _ensure_idle(app: App) -> None:
    if await Deployment.filter(app_id=app.id, status__in=ACTIVE).exists():
        raise Conflict(f"App {app.name!r} has a deployment in progress; wait or cancel it.")


def _params(app: App, version: Version, settings: Settings, **extra: Any) -> dict[str, Any]:
    return {
        "app_name": app.name,
        "remote_path": app.remote_path,
        "service_name": app.service_name,
        "domain": app.domain,
        **tls_params(app),
        "version_number": version.version_number,
        **extra,
    }


async def _start(
    engine: TaskEngine,
    app: App,
    version: Version,
    kind: DeploymentKind,
    strategy: str,
    options: dict[str, Any],
    params: dict[str, Any],
    created_by: Actor,
) -> tuple[Deployment, Task]:
    servers = await app_servers(app)
    deployment = await Deployment.create(
        created_by_id=created_by.token_id,
        actor=created_by.name,
        app_id=app.id,
        version_id=version.id,
        kind=kind,
        strategy=strategy,
        options=options,
        release_id=params.get("release_id"),
    )
    task_kind = TaskKind.ROLLBACK if "rollback_to" in params else TaskKind.DEPLOY
    task = await engine.submit(
        task_kind,
        servers[0],
        {**params, "strategy": strategy, "options": options},
        server_ids=[server.id for server in servers],
        app_id=app.id,
        deployment_id=deployment.id,
        created_by=created_by,
    )
    return deployment, task


async def deploy(
    engine: TaskEngine,
    settings: Settings,
    app_id: int,
    request: dict[str, Any],
    *,
    created_by: Actor,
) -> tuple[Deployment, Task]:
    app = await get_or_404(App, app_id)
    version = await require_reference(Version, "version_id", request["version_id"])
    if version.app_id != app.id:
        raise ValidationFailed(
            "The request is not valid.",
            details={"version_id": [f"Version {version.id} belongs to another app."]},
        )
    if not version.deployment_zip:
        raise Conflict(f"Version {version.version_number} has no zip yet: upload it first.")
    zip_path = stored_zip(settings, version).resolve()
    await _ensure_idle(app)
    params = _params(
        app,
        version,
        settings,
        zip_path=str(zip_path),
        release_id=release_id(version.version_number, datetime.now(UTC)),
    )
    return await _start(
        engine,
        app,
        version,
        DeploymentKind.DEPLOY,
        request["strategy"],
        request["options"],
        params,
        created_by,
    )


async def rollback(
    engine: TaskEngine,
    settings: Settings,
    app_id: int,
    request: dict[str, Any],
    *,
    created_by: Actor,
) -> tuple[Deployment, Task]:
    """To a named version (deployed again from its stored zip), or to the previous release."""
    app = await get_or_404(App, app_id)
    if request.get("version_id") is not None:
        again = {**request, "strategy": "rolling"}
        deployment, task = await deploy(engine, settings, app_id, again, created_by=created_by)
        await Deployment.filter(id=deployment.id).update(kind=DeploymentKind.ROLLBACK)
        deployment.kind = DeploymentKind.ROLLBACK
        return deployment, task
    await _ensure_idle(app)
    previous = await previous_release(app)
    if previous is None:
        raise Conflict(f"App {app.name!r} has no earlier release to roll back to.")
    version = await Version.get(id=previous.version_id)
    params = _params(
        app, version, settings, rollback_to=previous.release_id, release_id=previous.release_id
    )
    return await _start(
        engine,
        app,
        version,
        DeploymentKind.ROLLBACK,
        "rolling",
        request["options"],
        params,
        created_by,
    )


async def reconcile(engine: TaskEngine, app_id: int, *, created_by: Actor) -> Task:
    """Queue a reconcile of the app's servers with what they really serve (after the tasks
    already queued on them); the latest deployment's records follow the hosts."""
    app = await get_or_404(App, app_id)
    latest = await Deployment.filter(app_id=app.id).order_by("-id").first()
    return await _submit_on_app_servers(
        engine, TaskKind.RECONCILE, app, reconcile_params(app, latest), created_by
    )


async def _submit_on_app_servers(
    engine: TaskEngine,
    kind: TaskKind,
    app: App,
    params: dict[str, Any],
    created_by: Actor | None,
) -> Task:
    """Queue a task of `kind` over all the app's servers, its own server first."""
    servers = await app_servers(app)
    return await engine.submit(
        kind,
        servers[0],
        params,
        server_ids=[server.id for server in servers],
        app_id=app.id,
        created_by=created_by,
    )


async def live_deployment(app: App) -> Deployment | None:
    """The completed deployment that went live last (its slots and health check serve)."""
    return (
        await Deployment.filter(app_id=app.id, status=DeploymentStatus.COMPLETED)
        .order_by("-completed_at", "-id")
        .first()
    )


async def restart(engine: TaskEngine, app_id: int, *, created_by: Actor | None) -> Task:
    """Queue a health-gated restart of the app's live slot on each of its servers, one at
    a time, with its environment as it is now; `created_by` None: the health policy."""
    app = await get_or_404(App, app_id)
    await _ensure_idle(app)
    live = await live_deployment(app)
    if live is None:
        raise Conflict(f"App {app.name!r} has no completed deployment to restart.")
    return await _submit_on_app_servers(
        engine, TaskKind.RESTART, app, restart_params(app, live), created_by
    )


async def previous_release(app: App) -> Deployment | None:
    """The completed deployment before the one that is live now (the rollback target)."""
    done = (
        await Deployment.filter(app_id=app.id, status=DeploymentStatus.COMPLETED)
        .order_by("-completed_at", "-id")
        .limit(50)
    )
    live = done[0] if done else None
    for deployment in done[1:]:
        if live is not None and deployment.release_id and deployment.version_id != live.version_id:
            return deployment
    return None


async def version_in_use(version: Version) -> str | None:
    """Why a version must be kept (live, rollback target, being deployed), or None."""
    app = await App.get(id=version.app_id)
    if app.current_version == version.version_number:
        return f"version {version.version_number} is live"
    if await Deployment.filter(version_id=version.id, status__in=ACTIVE).exists():
        return f"version {version.version_number} is being deployed"
    previous = await previous_release(app)
    if previous is not None and previous.version_id == version.id:
        return f"version {version.version_number} is the rollback target"
    return None


def duration(deployment: Deployment) -> float | None:
    """Seconds from its start to its end, once it has both."""
    if deployment.started_at and deployment.completed_at:
        return (deployment.completed_at - deployment.started_at).total_seconds()
    return None


def _figures(deployments: list[Deployment]) -> dict[str, Any]:
    counts = {status.value: 0 for status in DeploymentStatus}
    for deployment in deployments:
        counts[deployment.status.value] += 1
    finished = counts["completed"] + counts["failed"]
    completed = [x for x in deployments if x.status == DeploymentStatus.COMPLETED]
    durations = sorted(d for d in map(duration, completed) if d is not None)
    return {
        "total": len(deployments),
        "by_status": counts,
        "success_rate": round(counts["completed"] / finished, 4) if finished else None,
        "median_duration_s": round(statistics.median(durations), 2) if durations else None,
        "p95_duration_s": (
            round(durations[min(len(durations) - 1, int(0.95 * len(durations)))], 2)
            if durations
            else None
        ),
    }


async def stats(deployments: QuerySet[Deployment]) -> dict[str, Any]:
    """Counts by status, success rate, median and p95 duration per window, overall and per app
    (of the `deployments` the caller may see)."""
    now = datetime.now(UTC)
    recent = await deployments.filter(created__gte=now - max(WINDOWS.values()))
    names = dict(await App.filter(id__in={d.app_id for d in recent}).values_list("id", "name"))
    result: dict[str, Any] = {}
    for label, span in WINDOWS.items():
        window = [d for d in recent if d.created >= now - span]
        per_app = {}
        for app in sorted({d.app_id for d in window}):
            per_app[str(app)] = {
                "app_name": names.get(app),
                **_figures([d for d in window if d.app_id == app]),
            }
        result[label] = {**_figures(window), "apps": per_app}
    return {"generated_at": now.isoformat(), "windows": result}


async def stats_over_time(
    deployments: QuerySet[Deployment], start: datetime, end: datetime, step: timedelta
) -> tuple[dict[str, Any], list[tuple[datetime, dict[str, Any]]]]:
    """The figures of `stats` (counts, success rate, median and p95 duration) of the
    `deployments` created from `start` up to `end`: over the whole range, and for each
    `step` of it (every bucket, empty ones too, with the time it starts)."""
    found = await deployments.filter(created__gte=start, created__lt=end).only(
        "id", "status", "created", "started_at", "completed_at"
    )
    buckets: list[list[Deployment]] = [[] for _ in range(max(0, math.ceil((end - start) / step)))]
    for deployment in found:
        buckets[int((deployment.created - start) / step)].append(deployment)
    return _figures(found), [(start + i * step, _figures(b)) for i, b in enumerate(buckets)]
