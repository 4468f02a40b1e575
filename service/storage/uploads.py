"""Receiving a large body as a file: streamed, hashed on the way, never whole in memory.

Hashing and writing a chunk run in a worker thread while the next chunk is received, so
one upload uses two cores; at most two chunks are held at a time.

The body goes to a hidden `.part` file next to its destination and is renamed into place
only once complete and accepted; a cut-off or refused upload leaves nothing behind, and
one cut off by a crash is removed at the next start (`remove_partial_files`).
"""

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from service.errors import BadRequest, PayloadTooLarge, RequestTimeout

CHUNK = 1024 * 1024
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

    def consume(chunk: bytes) -> None:
        digest.update(chunk)  # both release the GIL: they overlap with the next receive
        view = memoryview(chunk)
        while view:
            view = view[os.write(descriptor, view) :]

    loop = asyncio.get_running_loop()
    pending: asyncio.Future[None] | None = None
    try:
        buffer = bytearray()
        async for chunk in _until_idle(chunks, idle_timeout):
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            buffer += chunk
            if len(buffer) < CHUNK:
                continue  # the network hands over small pieces: hand the thread big ones
            if pending is not None:
                await pending
            pending = loop.run_in_executor(None, consume, bytes(buffer))
            buffer.clear()
        if pending is not None:
            await pending
        pending = loop.run_in_executor(None, consume, bytes(buffer))
        await pending
        pending = None
        if declared is not None and size != declared:
            raise BadRequest(f"The body ended after {size} of {declared} bytes.")
    except BaseException:
        if pending is not None:
            await asyncio.wait([pending])
        os.close(descriptor)
        path.unlink(missing_ok=True)
        raise
    os.close(descriptor)
    return ReceivedFile(path=path, sha256=digest.hexdigest(), size=size)
