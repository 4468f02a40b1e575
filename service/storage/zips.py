"""Validating an uploaded deploy zip before it is accepted.

Checked from the central directory (fast, no extraction): a real zip, a bounded number of
entries, only files, directories and symlinks, no absolute or `..` paths, symlinks that stay
inside the tree, and bounded uncompressed size and compression ratio (zip bombs).
"""

import posixpath
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

from service.errors import ValidationFailed

SYMLINK_TARGET_MAX = 4096


@dataclass(frozen=True)
class ZipLimits:
    max_entries: int
    max_unzipped_bytes: int
    max_ratio: int


def _refuse(message: str) -> ValidationFailed:
    return ValidationFailed("The zip was refused.", details={"zip": [message]})


def _check_path(name: str) -> None:
    if not name or "\\" in name or "\0" in name:
        raise _refuse(f"Entry {name!r} has an unusable name.")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise _refuse(f"Entry {name!r} is an absolute path.")
    if ".." in name.rstrip("/").split("/"):
        raise _refuse(f"Entry {name!r} climbs out of the tree with '..'.")


def _kind(info: zipfile.ZipInfo) -> int:
    mode = info.external_attr >> 16
    return stat.S_IFMT(mode) if info.create_system == 3 and mode else 0


def _check_symlink(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    if info.file_size > SYMLINK_TARGET_MAX:
        raise _refuse(f"Symlink {info.filename!r} has an oversized target.")
    target = archive.read(info).decode("utf-8", errors="replace")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(info.filename), target))
    if target.startswith("/") or resolved == ".." or resolved.startswith("../"):
        raise _refuse(f"Symlink {info.filename!r} points outside the tree ({target!r}).")


def validate_zip(path: Path, limits: ZipLimits) -> int:
    """Raise ValidationFailed unless the zip is safe to unpack; return its entry count."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise _refuse(f"Not a zip file ({exc}).") from exc
    with archive:
        entries = archive.infolist()
        if not entries:
            raise _refuse("The zip is empty.")
        if len(entries) > limits.max_entries:
            raise _refuse(f"{len(entries)} entries; at most {limits.max_entries} are allowed.")
        total = 0
        for info in entries:
            _check_path(info.filename)
            kind = _kind(info)
            if kind == stat.S_IFLNK:
                _check_symlink(archive, info)
            elif kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise _refuse(f"Entry {info.filename!r} is a special file.")
            if info.flag_bits & 0x1:
                raise _refuse(f"Entry {info.filename!r} is encrypted.")
            total += info.file_size
            if total > limits.max_unzipped_bytes:
                raise _refuse(f"Unpacks to more than {limits.max_unzipped_bytes} bytes.")
            if (
                info.file_size > limits.max_ratio * max(info.compress_size, 1)
                and info.file_size > 1024**2
            ):
                raise _refuse(
                    f"Entry {info.filename!r} is compressed more than "
                    f"{limits.max_ratio}:1 (a zip bomb?)."
                )
        return len(entries)
