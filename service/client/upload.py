"""`versions push`: a zip (or a directory zipped into a temporary file) streamed to the
service with its SHA-256 in `X-Checksum-SHA256`, so the service refuses a damaged upload."""

import asyncio
import hashlib
import os
import sys
import tempfile
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, BinaryIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TransferSpeedColumn,
)

from service.client.http import Client, UsageError

CHUNK = 256 * 1024


def zip_directory(directory: Path, target: Path) -> None:
    """Every file under `directory`, by relative path, with its mode (so `bin/start` stays
    executable)."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for root, dirs, files in os.walk(directory):
            dirs.sort()
            for name in sorted(files):
                path = Path(root) / name
                archive.write(path, path.relative_to(directory).as_posix())


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _prepare(path: Path, scratch: Path) -> tuple[Path, int, str]:
    """The zip to send (made from a directory if need be), its size and its SHA-256."""
    if path.is_dir():
        archive = scratch / "upload.zip"
        zip_directory(path, archive)
        path = archive
    elif not path.is_file():
        raise UsageError(f"{path} is neither a zip file nor a directory")
    return path, path.stat().st_size, sha256_of(path)


async def _chunks(file: BinaryIO, progress: Progress, size: int) -> AsyncIterator[bytes]:
    bar = progress.add_task("upload", total=size)
    while chunk := await asyncio.to_thread(file.read, CHUNK):
        progress.advance(bar, len(chunk))
        yield chunk


async def push(api: Client, version_id: int, path: Path) -> dict[str, Any]:
    """Upload `path` (a zip file or a directory) as the version's zip, with a progress bar
    on a terminal."""
    with tempfile.TemporaryDirectory(prefix="pb-deployer-") as scratch:
        archive, size, digest = await asyncio.to_thread(_prepare, path, Path(scratch))
        headers = {
            "Content-Type": "application/zip",
            "Content-Length": str(size),
            "X-Checksum-SHA256": digest,
        }
        progress = Progress(
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=Console(stderr=True),
            disable=not sys.stderr.isatty(),
            transient=True,
        )
        with progress, archive.open("rb") as file:
            return await api.request(
                "POST",
                f"/versions/{version_id}/upload",
                data=_chunks(file, progress, size),
                headers=headers,
            )
