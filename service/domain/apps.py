"""Apps: unique names, an existing server, and no deletion under unfinished tasks."""

from typing import TYPE_CHECKING, Any

from service.domain.records import (
    ensure_unique,
    get_or_404,
    require_changes,
    require_reference,
    save,
)
from service.errors import Conflict, ValidationFailed
from service.models import App, AppStatus, Server

if TYPE_CHECKING:
    from service.tasks.engine import TaskEngine


def _check_tls(app: App) -> None:
    """HTTPS is for a domain: the certificate names it and ACME validates it."""
    if app.tls and app.domain is None:
        raise ValidationFailed(
            "The request is not valid.", details={"tls": ["TLS needs the app's domain."]}
        )


async def create_app(data: dict[str, Any]) -> App:
    await require_reference(Server, "server_id", data["server_id"])
    await ensure_unique(App, None, name=data["name"])
    app = App(**data)
    _check_tls(app)
    return await save(app)


async def update_app(app_id: int, changes: dict[str, Any]) -> App:
    require_changes(changes)
    app = await get_or_404(App, app_id)
    if "server_id" in changes:
        await require_reference(Server, "server_id", changes["server_id"])
    if "name" in changes:
        await ensure_unique(App, app_id, name=changes["name"])
    app.update_from_dict(changes)
    _check_tls(app)
    return await save(app)


async def delete_app(engine: "TaskEngine", app_id: int, *, cancel_tasks: bool) -> None:
    """Refuse while the app has unfinished tasks, unless the caller asked to cancel them."""
    app = await get_or_404(App, app_id)
    await engine.clear_tasks(f"App {app_id}", app_ids=[app_id], cancel=cancel_tasks)
    await app.refresh_from_db()
    if app.status == AppStatus.DEPLOYING:
        raise Conflict(f"App {app_id} is being deployed; wait for it to finish.")
    await app.delete()
