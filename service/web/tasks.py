"""The task page: its hosts' progress and its live log (drawn by task.js from the feed)."""

from aiohttp import web

from service.api.common import record_id
from service.api.tasks import TASK
from service.domain.records import get_or_404
from service.models import Task
from service.web.pages import page, render


@page()
async def task_page(request: web.Request) -> web.Response:
    task = await get_or_404(Task, record_id(request))
    await task.fetch_related("server", "app")
    return render(request, "task.html", {"task": task, "task_data": TASK.dump(task)})


def register(app: web.Application) -> None:
    app.router.add_get("/tasks/{id:[1-9][0-9]{0,8}}", task_page)
