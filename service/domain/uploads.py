"""A version's zip: accepting an upload, and what may not be deleted."""

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path

from service.config import Settings
from service.errors import Conflict, NotFound, ValidationFailed
from service.models import Version
from service.storage.uploads import ReceivedFile
from service.storage.zips import ZipLimits, validate_zip

CHECKSUM_HEADER = "X-Checksum-SHA256"
SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


def expected_sha256(value: str | None) -> str | None:
    """The digest a client expects its upload to have (lower case), checked before the body
    is read so a malformed one costs no transfer."""
    if value is None:
        return None
    if not SHA256_HEX.fullmatch(value.strip()):
        raise ValidationFailed(
            "The request is not valid.",
            details={CHECKSUM_HEADER: ["Must be a SHA-256 digest: 64 hexadecimal digits."]},
        )
    return value.strip().lower()


def _check_sha256(received: ReceivedFile, expected: str | None) -> None:
    if expected is not None and received.sha256 != expected:
        raise ValidationFailed(
            "The upload's SHA-256 is not the expected one: the body was changed or cut.",
            details={
                CHECKSUM_HEADER: ["Does not match the SHA-256 of the body."],
                "expected": expected,
                "actual": received.sha256,
            },
        )


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


async def accept_upload(
    settings: Settings, version: Version, received: ReceivedFile, expected: str | None = None
) -> Version:
    """Check the received zip (against the `expected` SHA-256 too, if given), record it and
    move it into place; else delete it, leaving the version without a zip."""
    limits = ZipLimits(
        settings.max_zip_entries, settings.max_unzipped_bytes, settings.max_zip_ratio
    )
    destination = zip_path(settings, version)
    try:
        _check_sha256(received, expected)
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
