"""The apps pages: every app with its servers and status; one app's live version per host,
its releases, and the deploy and rollback forms (sent to the API by app.js)."""

from aiohttp import web

from service.api.access import visible
from service.api.apps import APP
from service.api.common import record_id
from service.api.tasks import TASK
from service.domain import deployments, services
from service.domain.records import get_or_404
from service.models import App, Deployment, DeployStrategy, Task, Version
from service.web.pages import page, render
from service.web.servers import ACTIVE

PER_PAGE = 100
RELEASES = 30


@page()
async def apps_page(request: web.Request) -> web.Response:
    apps = await visible(request, App.all()).order_by("name").limit(PER_PAGE)
    return render(
        request,
        "apps.html",
        {
            "apps": apps,
            "servers": {app.id: await deployments.app_servers(app) for app in apps},
            "total": await visible(request, App.all()).count(),
            "per_page": PER_PAGE,
        },
    )


@page()
async def app_page(request: web.Request) -> web.Response:
    app = await get_or_404(App, record_id(request))
    servers = await deployments.app_servers(app)
    served = await services.served_on(app, servers)
    releases = (
        await Deployment.filter(app_id=app.id)
        .order_by("-id")
        .limit(RELEASES)
        .prefetch_related("version")
    )
    served_releases = {entry.get("release_id") for entry in served.values()} - {None}
    live: dict[str, int] = {}
    for deployment in releases:  # newest first: a served release is live in its newest row
        if deployment.release_id in served_releases:
            live.setdefault(deployment.release_id, deployment.id)
    tasks = dict(
        await Task.filter(deployment_id__in=[d.id for d in releases])
        .order_by("id")
        .values_list("deployment_id", "id")
    )  # the latest task of each deployment (a retry runs it again)
    versions = await Version.filter(app_id=app.id, deployment_zip__isnull=False).order_by("-id")
    target = await deployments.previous_release(app)
    if target is not None:
        await target.fetch_related("version")
    running = await Task.filter(app_id=app.id, status__in=ACTIVE).order_by("-id").first()
    return render(
        request,
        "app.html",
        {
            "app": app,
            "servers": servers,
            "served": served,
            "live_deployments": set(live.values()),
            "releases": releases,
            "tasks": tasks,
            "versions": versions,
            "strategies": list(DeployStrategy),
            "rollback_target": target,
            "running": running,
            "page_data": {
                "app": APP.dump(app),
                "task": TASK.dump(running) if running else None,
            },
        },
    )


def register(app: web.Application) -> None:
    app.router.add_get("/apps", apps_page)
    app.router.add_get("/apps/{id:[1-9][0-9]{0,8}}", app_page)
