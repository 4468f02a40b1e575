"""The versions page: every visible version with its zip's size and SHA-256, and the form
that creates a version and uploads its zip (upload.js, with upload progress)."""

from aiohttp import web

from service.api.access import visible
from service.api.schemas import MAX_NOTES
from service.keys import SETTINGS
from service.models import App, Version
from service.web.pages import Paging, page, render


def _positive(raw: str) -> int | None:
    return int(raw) if raw.isdigit() and 0 < len(raw) <= 9 and int(raw) > 0 else None


@page()
async def versions_page(request: web.Request) -> web.Response:
    app_id = _positive(request.query.get("app_id", ""))
    paging = Paging.of(request)
    found = visible(request, Version.all())
    if app_id is not None:
        found = found.filter(app_id=app_id)
    total = await found.count()
    rows = await paging.rows(found.order_by("-id")).prefetch_related("app")
    return render(
        request,
        "versions.html",
        {
            "versions": rows,
            "apps": await visible(request, App.all()).order_by("name"),
            "app_id": app_id,
            "total": total,
            **paging.links(request, total),
            "max_upload_bytes": request.app[SETTINGS].max_upload_bytes,
            "max_notes": MAX_NOTES,
        },
    )


def register(app: web.Application) -> None:
    app.router.add_get("/versions", versions_page)
