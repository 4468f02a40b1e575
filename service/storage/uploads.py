"""Receiving a large body as a file: streamed, hashed on the way, never whole in memory.

The network's pieces are taken as they come (no copy) and gathered into batches of about
`BATCH` bytes. Each batch is hashed in one worker thread and written with one `writev` in
another, both while the next batch is received: one upload keeps two cores busy. At most
two batches are held at a time.

The body goes to a hidden `.part` file next to its destination and is renamed into place
only once complete and accepted; a cut-off or refused upload leaves nothing behind, and
one cut off by a crash is removed at the next start (`remove_partial_files`).
"""

import asyncio
import errno
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from service.errors import BadRequest, InsufficientStorage, PayloadTooLarge, RequestTimeout

BATCH = 2 * 1024 * 1024
IOV_MAX = os.sysconf("SC_IOV_MAX")
PART_GLOB = ".upload-*.part"


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
    return directory / PART_GLOB.replace("*", uuid.uuid4().hex)


def remove_partial_files(directory: Path) -> None:
    """Delete the partial files of uploads that never finished (call before serving)."""
    for path in directory.glob(PART_GLOB):
        path.unlink(missing_ok=True)


async def _until_idle(chunks: AsyncIterator[bytes], idle_timeout: float) -> AsyncIterator[bytes]:
    """`chunks`, ended with 408 once the client sends nothing for `idle_timeout` seconds:
    a slow upload goes on as long as data keeps coming; a stalled one is dropped."""
    iterator = aiter(chunks)
    while True:
        try:
            async with asyncio.timeout(idle_timeout):
                chunk = await anext(iterator)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise RequestTimeout(f"No data for {idle_timeout} s: the upload was dropped.") from None
        yield chunk


def write_all(descriptor: int, pieces: list[bytes]) -> None:
    """Write `pieces` in order with as few `writev` calls as the kernel allows."""
    views = [memoryview(piece) for piece in pieces if piece]
    while views:
        written = os.writev(descriptor, views[:IOV_MAX])
        while written and written >= len(views[0]):
            written -= len(views.pop(0))
        if written:
            views[0] = views[0][written:]


def _reserve(descriptor: int, size: int) -> None:
    """Allocate the declared size up front (one extent, no growth per write), where the
    file system can; a body that ends short is refused anyway."""
    with suppress(OSError):  # EOPNOTSUPP (some FUSE, NFS): the file grows as written then
        os.posix_fallocate(descriptor, 0, size)


async def receive(
    chunks: AsyncIterator[bytes],
    directory: Path,
    *,
    limit: int,
    declared: int | None,
    idle_timeout: float,
) -> ReceivedFile:
    """Stream `chunks` into a temporary file in `directory`; the caller renames or deletes it."""
    if declared is not None and declared > limit:
        raise _too_large(limit)
    path = _part_file(directory)
    digest = hashlib.sha256()
    size = 0
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)

    def hash_all(pieces: list[bytes]) -> None:
        for piece in pieces:
            digest.update(piece)  # releases the GIL, as writev does: the two overlap

    loop = asyncio.get_running_loop()
    pending: list[asyncio.Future[None]] = []

    async def hand_over(batch: list[bytes]) -> None:
        """Wait for the batch before (the digest takes batches in order), then start this
        one's hashing and writing."""
        await asyncio.gather(*pending)
        pending[:] = [
            loop.run_in_executor(None, hash_all, batch),
            loop.run_in_executor(None, write_all, descriptor, batch),
        ]

    try:
        if declared:
            await loop.run_in_executor(None, _reserve, descriptor, declared)
        batch: list[bytes] = []
        batched = 0
        async for chunk in _until_idle(chunks, idle_timeout):
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            batch.append(chunk)
            batched += len(chunk)
            if batched >= BATCH:
                await hand_over(batch)
                batch, batched = [], 0
        await hand_over(batch)
        await asyncio.gather(*pending)
        pending.clear()
        if declared is not None and size != declared:
            raise BadRequest(f"The body ended after {size} of {declared} bytes.")
    except BaseException as exc:
        if pending:
            await asyncio.wait(pending)
        os.close(descriptor)
        path.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise InsufficientStorage(
                "The disk of the service is full: the upload was dropped."
            ) from None
        raise
    os.close(descriptor)
    return ReceivedFile(path=path, sha256=digest.hexdigest(), size=size)
