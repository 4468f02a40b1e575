"""Servers: unique names, and no silent loss of the apps or the tasks that use them."""

from typing import TYPE_CHECKING, Any

from service.domain.records import ensure_unique, get_or_404, require_changes, save
from service.errors import Conflict
from service.models import App, AppStatus, Server

if TYPE_CHECKING:
    from service.tasks.engine import TaskEngine


async def create_server(data: dict[str, Any]) -> Server:
    await ensure_unique(Server, None, name=data["name"])
    return await save(Server(**data))


async def update_server(server_id: int, changes: dict[str, Any]) -> Server:
    require_changes(changes)
    server = await get_or_404(Server, server_id)
    if "name" in changes:
        await ensure_unique(Server, server_id, name=changes["name"])
    server.update_from_dict(changes)
    return await save(server)


async def delete_server(
    engine: "TaskEngine", server_id: int, *, cascade: bool, cancel_tasks: bool
) -> None:
    """Refuse while apps or unfinished tasks remain, unless the caller asked to delete the
    apps too and to cancel the tasks (whose history outlives the server)."""
    server = await get_or_404(Server, server_id)
    app_ids = await App.filter(server_id=server_id).values_list("id", flat=True)
    if app_ids and not cascade:
        raise Conflict(
            f"Server {server_id} still has {len(app_ids)} app(s); "
            "delete them first or pass cascade=true.",
            details={"apps": list(app_ids)},
        )
    await engine.clear_tasks(
        f"Server {server_id}", server_id=server_id, app_ids=app_ids, cancel=cancel_tasks
    )
    if await App.filter(server_id=server_id, status=AppStatus.DEPLOYING).exists():
        raise Conflict(f"An app on server {server_id} is being deployed; wait for it to finish.")
    await server.delete()
