"""The servers page: every visible server with its badges, last audit score and task."""

from typing import Any

from aiohttp import web
from tortoise.functions import Max

from service.api.access import visible
from service.models import AuditReport, Server, Task, TaskStatus
from service.web.pages import page, render

PER_PAGE = 100
ACTIVE = (TaskStatus.QUEUED, TaskStatus.RUNNING)


async def latest_audits(server_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Each server's latest audit (score, passed, failed), in two queries for any number."""
    latest = (
        await AuditReport.filter(server_id__in=server_ids)
        .group_by("server_id")
        .annotate(last=Max("id"))
        .values_list("last", flat=True)
    )
    rows = await AuditReport.filter(id__in=latest).values("server_id", "score", "passed", "failed")
    return {row["server_id"]: row for row in rows}


async def active_tasks(server_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The running (else the oldest queued) task of each server."""
    rows = (
        await Task.filter(server_id__in=server_ids, status__in=ACTIVE)
        .order_by("-status", "id")  # "running" sorts after "queued": reversed, it comes first
        .values("id", "server_id", "kind", "status")
    )
    found: dict[int, dict[str, Any]] = {}
    for row in rows:
        found.setdefault(row["server_id"], row)
    return found


@page()
async def servers_page(request: web.Request) -> web.Response:
    search = request.query.get("q", "").strip()[:64]
    try:
        number = max(1, int(request.query.get("page", "1")))
    except ValueError:
        number = 1
    found = visible(request, Server.all())
    if search:
        found = found.filter(name__icontains=search)
    total = await found.count()
    rows = await found.order_by("name").offset((number - 1) * PER_PAGE).limit(PER_PAGE)
    ids = [server.id for server in rows]
    return render(
        request,
        "servers.html",
        {
            "servers": rows,
            "audits": await latest_audits(ids),
            "tasks": await active_tasks(ids),
            "search": search,
            "page": number,
            "pages": max(1, -(-total // PER_PAGE)),
            "total": total,
        },
    )


def register(app: web.Application) -> None:
    app.router.add_get("/servers", servers_page)
