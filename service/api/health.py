"""/health: is every component the service needs working? 200 if so, else 503."""

import asyncio
import shutil
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import ChainMapProxy, web
from aiohttp_apispec import response_schema

from service import __version__
from service.ansible import toolchain
from service.api.auth import public
from service.api.common import json_response, operation
from service.api.schemas import HealthSchema
from service.errors import ServiceUnavailable
from service.keys import DATABASE, ENGINE, HEALTH_CHECKS, SCHEDULER, SETTINGS, HealthCheck
from service.models import Instance, Task, TaskStatus


async def check_database(app: ChainMapProxy) -> dict[str, Any]:
    started = time.perf_counter()
    await asyncio.wait_for(
        app[DATABASE].connections.get("default").execute_query("SELECT 1"), timeout=5
    )
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


async def check_disk(app: ChainMapProxy) -> dict[str, Any]:
    settings = app[SETTINGS]
    path = settings.artifacts_dir
    free = shutil.disk_usage(path).free
    return {
        "ok": free >= settings.min_free_disk_bytes,
        "path": str(path),
        "free_bytes": free,
        "min_free_bytes": settings.min_free_disk_bytes,
    }


async def check_ansible(app: ChainMapProxy) -> dict[str, Any]:
    path = toolchain.ansible_playbook_path()
    return {"ok": path is not None, "path": path, "version": toolchain.ansible_core_version()}


async def check_workers(app: ChainMapProxy) -> dict[str, Any]:
    """Every worker and the event flusher alive, and their supervisor; restarts are counted."""
    engine = app[ENGINE]
    alive, expected = engine.workers_alive(), engine.workers_expected()
    return {
        "ok": alive == expected and engine.supervisor_alive(),
        "alive": alive,
        "expected": expected,
        "supervisor": engine.supervisor_alive(),
        "restarts": engine.restarts,
        "running": len(engine.running),
        "queued": await engine.queue_depth(),
    }


async def check_instances(app: ChainMapProxy) -> dict[str, Any]:
    """The service instances sharing the database, with their heartbeats and running
    tasks, and whether this one leads (runs the apps' health checks); healthy while this
    instance's own lease is current."""
    registry = app[ENGINE].registry
    running: dict[str | None, list[int]] = {}
    for task_id, name in await Task.filter(status=TaskStatus.RUNNING).values_list("id", "instance"):
        running.setdefault(name, []).append(task_id)
    now = datetime.now(UTC)
    instances = [
        {
            "name": instance.name,
            "hostname": instance.hostname,
            "pid": instance.pid,
            "started_at": instance.started_at.isoformat(),
            "heartbeat_at": instance.heartbeat_at.isoformat(),
            "alive": registry.alive(instance, now),
            "stopped_at": instance.stopped_at and instance.stopped_at.isoformat(),
            "stop_reason": instance.stop_reason,
            "running_tasks": running.get(instance.name, []),
        }
        for instance in await Instance.all().order_by("name")
    ]
    this = next((entry for entry in instances if entry["name"] == registry.name), None)
    return {
        "ok": bool(this and this["alive"]),
        "this": registry.name,
        "leads": registry.leader,
        "lease_seconds": registry.lease.total_seconds(),
        "instances": instances,
    }


async def check_scheduler(app: ChainMapProxy) -> dict[str, Any]:
    """The audit scheduler's loop is running."""
    return {"ok": app[SCHEDULER].alive()}


async def run_check(check: HealthCheck, app: ChainMapProxy) -> dict[str, Any]:
    """A check that raises counts as failed; only the error's kind is reported."""
    try:
        return await check(app)
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}


def install_health_checks(app: web.Application) -> None:
    """The base checks; later subsystems (workers, queue) add their own to the same map."""
    app[HEALTH_CHECKS] = {
        "database": check_database,
        "disk": check_disk,
        "ansible": check_ansible,
        "workers": check_workers,
        "scheduler": check_scheduler,
        "instances": check_instances,
    }


@public
@operation(
    tags=["health"],
    summary="Health of the service and what it depends on",
    description="No token needed. 503 names the failing components in `details`.",
    errors=[ServiceUnavailable],
)
@response_schema(HealthSchema, 200, description="Every component is healthy.")
async def health(request: web.Request) -> web.Response:
    app = request.config_dict
    checks = request.config_dict[HEALTH_CHECKS]
    results = await asyncio.gather(*(run_check(check, app) for check in checks.values()))
    components = dict(zip(checks, results, strict=True))
    failing = sorted(name for name, result in components.items() if not result["ok"])
    if failing:
        raise ServiceUnavailable(
            f"Unhealthy: {', '.join(failing)}.", details={"failing": failing, **components}
        )
    return json_response({"status": "ok", "version": __version__, "components": components})


def register(app: web.Application) -> None:
    app.router.add_get("/health", health)
