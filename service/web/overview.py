"""The overview: servers that need attention, and the tasks running now."""

from aiohttp import web

from service.api.access import visible
from service.models import Deployment, DeploymentStatus, Server, Task
from service.web.pages import page, render
from service.web.servers import ACTIVE, latest_audits

LIMIT = 50
RECENT_DEPLOYMENTS = 500


async def failed_last_deploys(request: web.Request) -> list[Deployment]:
    """Apps whose latest deployment (among the recent ones) failed: one row per app."""
    recent = visible(request, Deployment.all()).order_by("-id").limit(RECENT_DEPLOYMENTS)
    latest: dict[int, Deployment] = {}
    for deployment in await recent.prefetch_related("app"):
        latest.setdefault(deployment.app_id, deployment)
    return [d for d in latest.values() if d.status == DeploymentStatus.FAILED][:LIMIT]


@page()
async def overview_page(request: web.Request) -> web.Response:
    servers = visible(request, Server.all())
    audits = await latest_audits(await servers.values_list("id", flat=True))
    failing = [server_id for server_id, audit in audits.items() if audit["failed"]]
    running = visible(request, Task.filter(status__in=ACTIVE)).order_by("id").limit(LIMIT)
    return render(
        request,
        "overview.html",
        {
            "server_count": await servers.count(),
            "unreachable": await servers.filter(last_connection_ok=False)
            .order_by("name")
            .limit(LIMIT),
            "failing_audit": await Server.filter(id__in=failing).order_by("name").limit(LIMIT),
            "audits": audits,
            "failed_deploys": await failed_last_deploys(request),
            "running": await running.prefetch_related("server", "app"),
        },
    )


def register(app: web.Application) -> None:
    app.router.add_get("/", overview_page, name="overview")
