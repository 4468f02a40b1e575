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


def ensure_not_uploaded(version: Version) -> None:
    if version.deployment_zip:
        raise Conflict(
            f"Version {version.id} already has its zip (builds are immutable); "
            "create a new version for a new build."
        )


async def accept_upload(settings: Settings, version: Version, received: ReceivedFile) -> Version:
    """Validate the received zip, move it into place and record it; else delete it."""
    limits = ZipLimits(
        settings.max_zip_entries, settings.max_unzipped_bytes, settings.max_zip_ratio
    )
    try:
        await asyncio.to_thread(validate_zip, received.path, limits)
        if not await Version.exists(id=version.id):
            raise NotFound(f"Version {version.id} was deleted during the upload.")
        destination = zip_path(settings, version)
        received.path.replace(destination)
    except BaseException:
        received.path.unlink(missing_ok=True)
        raise
    version.deployment_zip = destination.name
    version.sha256 = received.sha256
    version.size_bytes = received.size
    version.uploaded_at = datetime.now(UTC)
    await version.save(update_fields=["deployment_zip", "sha256", "size_bytes", "uploaded_at"])
    return version
