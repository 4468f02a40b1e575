"""Versions: one per number and app; the live version cannot be deleted."""

from pathlib import Path
from typing import Any

from service.domain.records import ensure_unique, get_or_404, require_reference, save
from service.errors import Conflict
from service.models import App, Version


async def create_version(data: dict[str, Any]) -> Version:
    await require_reference(App, "app_id", data["app_id"])
    await ensure_unique(Version, None, app_id=data["app_id"], version_number=data["version_number"])
    return await save(Version(**data))


async def delete_version(version_id: int, uploads_dir: Path) -> None:
    version = await get_or_404(Version, version_id)
    app = await App.get(id=version.app_id)
    if app.current_version == version.version_number:
        raise Conflict(
            f"Version {version.version_number} is what app {app.name!r} runs now; "
            "deploy another version first."
        )
    await version.delete()
    if version.deployment_zip:
        (uploads_dir / version.deployment_zip).unlink(missing_ok=True)
