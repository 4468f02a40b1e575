"""Versions: one per number and app; a version still needed cannot be deleted."""

from pathlib import Path
from typing import Any

from service.domain.deployments import version_in_use
from service.domain.records import ensure_unique, get_or_404, require_reference, save
from service.errors import Conflict
from service.models import App, Version


async def create_version(data: dict[str, Any]) -> Version:
    await require_reference(App, "app_id", data["app_id"])
    await ensure_unique(Version, None, app_id=data["app_id"], version_number=data["version_number"])
    return await save(Version(**data))


async def delete_version(version_id: int, uploads_dir: Path) -> None:
    """Refused while the version is live, being deployed, or the rollback target."""
    version = await get_or_404(Version, version_id)
    reason = await version_in_use(version)
    if reason is not None:
        raise Conflict(f"Version {version.id} cannot be deleted: {reason}.")
    await version.delete()
    if version.deployment_zip:
        (uploads_dir / version.deployment_zip).unlink(missing_ok=True)
