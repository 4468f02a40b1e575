"""A version's zip: accepting an upload, and what may not be deleted."""

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from service.config import Settings
from service.errors import Conflict, NotFound
from service.models import Version
from service.storage.uploads import ReceivedFile
from service.storage.zips import ZipLimits, validate_zip


def zip_path(settings: Settings, version: Version) -> Path:
    return settings.uploads_dir / f"version-{version.id}.zip"


def stored_zip(settings: Settings, version: Version) -> Path:
    """The version's zip on disk, or 404."""
    if not version.deployment_zip:
        raise NotFound(f"Version {version.id} has no uploaded zip yet.")
    path = settings.uploads_dir / version.deployment_zip
    if not path.is_file():
        raise NotFound(f"The zip of version {version.id} is missing from storage.")
    return path


def _already_uploaded(version_id: int) -> Conflict:
    return Conflict(
        f"Version {version_id} already has its zip (builds are immutable); "
        "create a new version for a new build."
    )


def ensure_not_uploaded(version: Version) -> None:
    if version.deployment_zip:
        raise _already_uploaded(version.id)


async def _claim(version: Version, name: str, received: ReceivedFile) -> dict[str, object]:
    """Record the zip only if the version has none yet: of two concurrent uploads, the
    first to get here wins and the other gets 409 (one conditional UPDATE decides)."""
    values: dict[str, object] = {
        "deployment_zip": name,
        "sha256": received.sha256,
        "size_bytes": received.size,
        "uploaded_at": datetime.now(UTC),
    }
    if await Version.filter(id=version.id, deployment_zip=None).update(**values):
        return values
    if not await Version.exists(id=version.id):
        raise NotFound(f"Version {version.id} was deleted during the upload.")
    raise _already_uploaded(version.id)


async def accept_upload(settings: Settings, version: Version, received: ReceivedFile) -> Version:
    """Validate the received zip, record it and move it into place; else delete it."""
    limits = ZipLimits(
        settings.max_zip_entries, settings.max_unzipped_bytes, settings.max_zip_ratio
    )
    destination = zip_path(settings, version)
    try:
        await asyncio.to_thread(validate_zip, received.path, limits)
        values = await _claim(version, destination.name, received)
        try:
            received.path.replace(destination)
        except BaseException:
            await Version.filter(id=version.id).update(
                deployment_zip=None, sha256=None, size_bytes=None, uploaded_at=None
            )
            raise
    except BaseException:
        received.path.unlink(missing_ok=True)
        raise
    for field, value in values.items():
        setattr(version, field, value)
    return version
