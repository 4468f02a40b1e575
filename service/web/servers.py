"""The servers page (every visible server with its badges, last audit score and task) and
a server's own page: its facts, audit findings and score history, services and journal."""

from typing import Any

from aiohttp import web
from markupsafe import Markup
from tortoise.functions import Max

from service.api.access import visible
from service.api.common import record_id
from service.api.servers import SERVER
from service.domain import services
from service.domain.records import get_or_404
from service.models import AuditReport, Server, Task, TaskServer, TaskStatus
from service.web.charts import line_chart
from service.web.pages import Paging, page, render

ACTIVE = (TaskStatus.QUEUED, TaskStatus.RUNNING)
HISTORY = 30
SEVERITIES = ("critical", "high", "medium", "low")


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
    """The running (else the oldest queued) task of each server (also one over several)."""
    rows = (
        await TaskServer.filter(server_id__in=server_ids, task__status__in=ACTIVE)
        .order_by("-task__status", "task_id")  # "running" sorts after "queued": reversed first
        .values("server_id", id="task_id", kind="task__kind", status="task__status")
    )
    found: dict[int, dict[str, Any]] = {}
    for row in rows:
        found.setdefault(row["server_id"], row)
    return found


@page()
async def servers_page(request: web.Request) -> web.Response:
    search = request.query.get("q", "").strip()[:64]
    paging = Paging.of(request)
    found = visible(request, Server.all())
    if search:
        found = found.filter(name__icontains=search)
    total = await found.count()
    rows = await paging.rows(found.order_by("name"))
    ids = [server.id for server in rows]
    return render(
        request,
        "servers.html",
        {
            "servers": rows,
            "audits": await latest_audits(ids),
            "tasks": await active_tasks(ids),
            "search": search,
            "total": total,
            **paging.links(request, total),
        },
    )


async def findings_of(report: AuditReport) -> list[dict[str, Any]]:
    """The report's findings, failed and most severe first, with the Lynis control and the
    expected and actual values from its task's full report while that task is kept (the
    history keeps only id, title, severity and outcome)."""
    task = await Task.get_or_none(id=report.task_id) if report.task_id else None
    full = ((task.result or {}).get("report") or {}) if task else {}
    found = [item for item in full.get("findings") or [] if isinstance(item, dict)]
    details = {item.get("id"): item for item in found}
    rows = [{**details.get(finding["id"], {}), **finding} for finding in report.findings]
    rank = {severity: index for index, severity in enumerate(SEVERITIES)}
    return sorted(rows, key=lambda row: (row["passed"], rank.get(row["severity"], len(rank))))


def regressed(report: AuditReport) -> list[dict[str, Any]]:
    """The findings of the report's drift that passed in the audit before and fail now."""
    changed = (report.drift or {}).get("findings") or []
    return [finding for finding in changed if finding.get("previously_passed")]


def score_history(reports: list[AuditReport]) -> Markup:
    """The audit scores over time (oldest first) as an SVG line chart."""
    labels = [report.finished_at.strftime("%Y-%m-%d %H:%M") for report in reports]
    return line_chart(
        "Audit score history", labels, {"Score": [report.score for report in reports]}, y_max=100
    )


async def service_units(server: Server) -> list[dict[str, Any]]:
    """The units the server's apps run as (their live slot's), none before a first deploy."""
    return [
        {"app": app, "unit": await services.live_unit(app, server)}
        for app in await services.apps_on(server)
    ]


@page()
async def server_page(request: web.Request) -> web.Response:
    server = await get_or_404(Server, record_id(request))
    reports = list(
        reversed(await AuditReport.filter(server_id=server.id).order_by("-id").limit(HISTORY))
    )
    latest = reports[-1] if reports else None
    return render(
        request,
        "server.html",
        {
            "server": server,
            "server_data": SERVER.dump(server),
            "task": (await active_tasks([server.id])).get(server.id),
            "report": latest,
            "findings": await findings_of(latest) if latest else [],
            "regressed": regressed(latest) if latest else [],
            "history": score_history(reports) if reports else None,
            "units": await service_units(server),
        },
    )


def register(app: web.Application) -> None:
    app.router.add_get("/servers", servers_page)
    app.router.add_get("/servers/{id:[1-9][0-9]{0,8}}", server_page)
