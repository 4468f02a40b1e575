"""An app's service on a server is the unit of its live blue/green slot.

Deploys run each app as two units, `<service>-blue` and `<service>-green`, and nginx sends
traffic to one of them. The services API lets callers name the app (its name or its
`service_name`) and acts on the live slot's unit, as the deploy and reconcile runs last
reported it (`served` in a deployment's per-host results).

The last state seen of each unit on each server is kept (`UnitStatus`): every service run
(a read or a control action) records what it saw, so listing a server's services reads that
record and runs nothing.
"""

from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from service.errors import NotFound
from service.models import App, Deployment, Server, UnitStatus

SLOTS = ("blue", "green")
RECENT_DEPLOYMENTS = 50


async def apps_on(server: Server) -> list[App]:
    """Apps whose primary server this is, or that run on it besides."""
    query = App.filter(Q(server_id=server.id) | Q(servers__id=server.id))
    return await query.distinct().order_by("id")


def unit_base(app: App) -> str:
    return app.service_name.removesuffix(".service")


async def served_on(app: App, servers: list[Server]) -> dict[int, dict[str, Any]]:
    """What nginx served on each server (slot, release_id, version) at the end of the app's
    latest run that said; servers no recent run reported a live slot for are left out."""
    found: dict[int, dict[str, Any]] = {}
    for deployment in (
        await Deployment.filter(app_id=app.id).order_by("-id").limit(RECENT_DEPLOYMENTS)
    ):
        for server in servers:
            host = (deployment.host_results or {}).get(server.name)
            served = host.get("served") if isinstance(host, dict) else None
            if isinstance(served, dict) and served.get("slot") in SLOTS:
                found.setdefault(server.id, served)
        if len(found) == len(servers):
            break
    return found


async def live_slot(app: App, server: Server) -> str | None:
    """The slot nginx served on `server` at the end of the app's latest run that said."""
    served = (await served_on(app, [server])).get(server.id)
    return served["slot"] if served else None


async def live_unit(app: App, server: Server) -> str | None:
    slot = await live_slot(app, server)
    return f"{unit_base(app)}-{slot}.service" if slot else None


async def resolve_unit(server: Server, name: str) -> str:
    """The unit to act on: an app's live slot when `name` names an app on the server,
    else `name` itself (any other systemd unit: nginx, fail2ban, ...)."""
    for app in await apps_on(server):
        if name in (app.name, app.service_name, unit_base(app)):
            unit = await live_unit(app, server)
            if unit is None:
                raise NotFound(
                    f"App {app.name!r} has no live slot on server {server.name!r} yet "
                    f"(its units are {unit_base(app)}-blue and {unit_base(app)}-green): "
                    "deploy it first.",
                )
            return unit
    return name


async def record_status(
    server_id: int, unit: str, status: dict[str, Any], checked_at: datetime, task_id: int | None
) -> bool:
    """Keep `status` as the unit's last known state unless a newer one is kept already (runs
    that overlap may finish out of order); whether it was kept."""
    values = {"status": status, "checked_at": checked_at, "task_id": task_id}
    newer_or_same = Q(server_id=server_id, unit=unit) & Q(checked_at__lte=checked_at)
    if await UnitStatus.filter(newer_or_same).update(**values):
        return True
    if await UnitStatus.exists(server_id=server_id, unit=unit):
        return False  # a newer one is kept
    try:
        await UnitStatus.create(server_id=server_id, unit=unit, **values)
    except IntegrityError:  # created meanwhile by an overlapping run: compare with that one
        return bool(await UnitStatus.filter(newer_or_same).update(**values))
    return True


async def known_statuses(server: Server) -> dict[str, UnitStatus]:
    """The last known state of each unit on `server` that a run has seen, by unit name."""
    return {row.unit: row for row in await UnitStatus.filter(server_id=server.id)}
