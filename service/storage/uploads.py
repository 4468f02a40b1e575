"""Receiving a large body as a file: streamed, hashed on the way, never whole in memory.

The body goes to a hidden `.part` file next to its destination and is renamed into place
only once complete and accepted; a cut-off or refused upload leaves nothing behind.
"""

import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from service.errors import BadRequest, PayloadTooLarge

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ReceivedFile:
    path: Path
    sha256: str
    size: int


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The upload is larger than the limit of {limit} bytes.", details={"limit_bytes": limit}
    )


def _part_file(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f".upload-{uuid.uuid4().hex}.part"


async def receive(
    chunks: AsyncIterator[bytes], directory: Path, *, limit: int, declared: int | None
) -> ReceivedFile:
    """Stream `chunks` into a temporary file in `directory`; the caller renames or deletes it."""
    if declared is not None and declared > limit:
        raise _too_large(limit)
    path = _part_file(directory)
    digest = hashlib.sha256()
    size = 0
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            digest.update(chunk)
            view = memoryview(chunk)
            while view:
                view = view[os.write(descriptor, view) :]
        if declared is not None and size != declared:
            raise BadRequest(f"The body ended after {size} of {declared} bytes.")
    except BaseException:
        os.close(descriptor)
        path.unlink(missing_ok=True)
        raise
    os.close(descriptor)
    return ReceivedFile(path=path, sha256=digest.hexdigest(), size=size)
