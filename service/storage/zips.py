"""Validating an uploaded deploy zip before it is accepted.

Read straight from the zip's own records, with no extraction and no `zipfile.ZipFile`
(which reads the whole central directory into memory before anything can be counted, and
cuts names at a NUL byte): the end-of-central-directory record (zip64 too) gives the entry
count, refused before a single entry is read; then the central directory is walked entry
by entry, raw name bytes and all. Refused: anything but files, directories and symlinks;
names that are empty, duplicated, absolute, with `..`, a backslash or a control character;
symlinks whose target, followed through the archive's other symlinks, leaves the tree;
encryption; too much unpacked data or too high a compression ratio (zip bombs).
"""

import posixpath
import stat
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from service.errors import ValidationFailed

NAME_MAX = 1024
SYMLINK_TARGET_MAX = 1024
SYMLINK_HOPS_MAX = 40
"""Links followed while resolving one path, as Linux's own limit (ELOOP)."""

EOCD = struct.Struct("<4s4H2LH")
ZIP64_LOCATOR = struct.Struct("<4sLQL")
ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
CENTRAL_ENTRY = struct.Struct("<4s6H3L5H2L")
LOCAL_HEADER = struct.Struct("<4s5H3L2H")
EOCD_SIGNATURE = b"PK\x05\x06"
ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
ZIP64_EOCD_SIGNATURE = b"PK\x06\x06"
CENTRAL_SIGNATURE = b"PK\x01\x02"
LOCAL_SIGNATURE = b"PK\x03\x04"
ZIP64_EXTRA_ID = 0x0001
MAX_COMMENT = 0xFFFF
UNIX = 3
FLAG_ENCRYPTED = 0x1
FLAG_UTF8 = 0x800
STORED, DEFLATED = 0, 8


@dataclass(frozen=True)
class ZipLimits:
    max_entries: int
    max_unzipped_bytes: int
    max_ratio: int


@dataclass(frozen=True)
class Entry:
    name: str
    flags: int
    method: int
    compress_size: int
    file_size: int
    header_offset: int
    kind: int


def _refuse(message: str) -> ValidationFailed:
    return ValidationFailed("The zip was refused.", details={"zip": [message]})


def _has_control_character(raw: bytes) -> bool:
    return any(byte < 0x20 or byte == 0x7F for byte in raw)


def _directory_location(archive: BinaryIO, file_size: int) -> tuple[int, int, int]:
    """(entry count, central directory offset, its size) from the end record(s)."""
    tail_start = max(0, file_size - EOCD.size - MAX_COMMENT)
    archive.seek(tail_start)
    tail = archive.read()
    position = tail.rfind(EOCD_SIGNATURE)
    while position >= 0 and position + EOCD.size + _comment_length(tail, position) != len(tail):
        position = tail.rfind(EOCD_SIGNATURE, 0, position)
    if position < 0 or len(tail) - position < EOCD.size:
        raise _refuse("Not a zip file (no end of central directory record).")
    _sig, disk, cd_disk, _here, count, cd_size, cd_offset, _comment = EOCD.unpack_from(
        tail, position
    )
    end = tail_start + position
    if 0xFFFF in (count, disk, cd_disk) or 0xFFFFFFFF in (cd_size, cd_offset):
        count, cd_offset, cd_size, end, disk, cd_disk = _zip64_location(archive, end)
    if disk or cd_disk:
        raise _refuse("Multi-disk zips are not supported.")
    if cd_offset + cd_size != end:
        raise _refuse("The central directory is not where the end record says.")
    return count, cd_offset, cd_size


def _comment_length(tail: bytes, position: int) -> int:
    if len(tail) - position < EOCD.size:
        return MAX_COMMENT + 1
    return EOCD.unpack_from(tail, position)[-1]


def _zip64_location(archive: BinaryIO, eocd_at: int) -> tuple[int, int, int, int, int, int]:
    if eocd_at < ZIP64_LOCATOR.size:
        raise _refuse("A zip64 end record is missing.")
    archive.seek(eocd_at - ZIP64_LOCATOR.size)
    signature, disk, record_at, _disks = ZIP64_LOCATOR.unpack(archive.read(ZIP64_LOCATOR.size))
    if signature != ZIP64_LOCATOR_SIGNATURE or record_at > eocd_at:
        raise _refuse("A zip64 end record is missing.")
    archive.seek(record_at)
    record = archive.read(ZIP64_EOCD.size)
    if len(record) < ZIP64_EOCD.size or record[:4] != ZIP64_EOCD_SIGNATURE:
        raise _refuse("The zip64 end record is damaged.")
    _sig, _size, _made, _need, this_disk, cd_disk, _here, count, cd_size, cd_offset = (
        ZIP64_EOCD.unpack(record)
    )
    return count, cd_offset, cd_size, record_at, this_disk or disk, cd_disk


def _zip64_sizes(extra: bytes, sizes: list[int]) -> list[int]:
    """Replace the 0xFFFFFFFF placeholders (file size, compressed size, offset) in order."""
    position = 0
    while position + 4 <= len(extra):
        header_id, length = struct.unpack_from("<2H", extra, position)
        body = extra[position + 4 : position + 4 + length]
        position += 4 + length
        if header_id != ZIP64_EXTRA_ID:
            continue
        values = iter(struct.unpack_from(f"<{len(body) // 8}Q", body))
        return [next(values, value) if value == 0xFFFFFFFF else value for value in sizes]
    return sizes


def _entries(archive: BinaryIO, count: int, cd_offset: int, cd_size: int) -> Iterator[Entry]:
    """The central directory's entries one by one (the caller may seek in between)."""
    consumed = 0
    for _ in range(count):
        archive.seek(cd_offset + consumed)
        header = archive.read(CENTRAL_ENTRY.size)
        if len(header) < CENTRAL_ENTRY.size or header[:4] != CENTRAL_SIGNATURE:
            raise _refuse("The central directory is damaged.")
        (_sig, made_by, _need, flags, method, _time, _date, _crc, compress_size, file_size,
         name_length, extra_length, comment_length, _disk, _internal, external,
         header_offset) = CENTRAL_ENTRY.unpack(header)  # fmt: skip
        raw_name = archive.read(name_length)
        extra = archive.read(extra_length)
        archive.seek(comment_length, 1)
        consumed += CENTRAL_ENTRY.size + name_length + extra_length + comment_length
        file_size, compress_size, header_offset = _zip64_sizes(
            extra, [file_size, compress_size, header_offset]
        )
        yield Entry(
            name=_name(raw_name, flags),
            flags=flags,
            method=method,
            compress_size=compress_size,
            file_size=file_size,
            header_offset=header_offset,
            kind=_kind(made_by, external),
        )
    if consumed != cd_size:
        raise _refuse("The central directory does not match its entry count.")


def _name(raw: bytes, flags: int) -> str:
    shown = raw.decode("utf-8", errors="replace")
    if not raw or len(raw) > NAME_MAX or _has_control_character(raw):
        raise _refuse(
            f"Entry {shown[:100]!r} has an empty or over-long name, or a control character in it."
        )
    return raw.decode("utf-8" if flags & FLAG_UTF8 else "cp437", errors="replace")


def _kind(made_by: int, external: int) -> int:
    mode = external >> 16
    return stat.S_IFMT(mode) if made_by >> 8 == UNIX and mode else 0


def _check_path(name: str) -> None:
    if "\\" in name:
        raise _refuse(f"Entry {name!r} has an unusable name.")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise _refuse(f"Entry {name!r} is an absolute path.")
    if ".." in name.rstrip("/").split("/"):
        raise _refuse(f"Entry {name!r} climbs out of the tree with '..'.")


def _symlink_target(archive: BinaryIO, entry: Entry) -> str:
    if entry.file_size > SYMLINK_TARGET_MAX or entry.compress_size > 2 * SYMLINK_TARGET_MAX:
        raise _refuse(f"Symlink {entry.name!r} has an oversized target.")
    archive.seek(entry.header_offset)
    header = archive.read(LOCAL_HEADER.size)
    if len(header) < LOCAL_HEADER.size or header[:4] != LOCAL_SIGNATURE:
        raise _refuse(f"Entry {entry.name!r} has a damaged local header.")
    name_length, extra_length = LOCAL_HEADER.unpack(header)[-2:]
    archive.seek(name_length + extra_length, 1)
    data = archive.read(entry.compress_size)
    try:
        if entry.method == DEFLATED:
            data = zlib.decompressobj(-zlib.MAX_WBITS).decompress(data, SYMLINK_TARGET_MAX + 1)
        elif entry.method != STORED:
            raise _refuse(f"Symlink {entry.name!r} uses an unsupported compression method.")
    except zlib.error as exc:
        raise _refuse(f"Symlink {entry.name!r} has damaged data.") from exc
    if not data or len(data) > SYMLINK_TARGET_MAX or _has_control_character(data):
        raise _refuse(f"Symlink {entry.name!r} has an empty or unusable target.")
    return data.decode("utf-8", errors="replace")


class _Escapes(Exception):
    pass


def _resolve(start: list[str], path: str, links: dict[str, str], hops: list[int]) -> list[str]:
    """`path` from the directory `start` (both inside the tree), following the archive's
    symlinks as the kernel would once it is unpacked; raises _Escapes if it leaves the tree."""
    if path.startswith("/"):
        raise _Escapes
    parts = list(start)
    for component in path.split("/"):
        if component in ("", "."):
            continue
        if component == "..":
            if not parts:
                raise _Escapes
            parts.pop()
            continue
        parts.append(component)
        target = links.get("/".join(parts))
        if target is not None:
            hops[0] += 1
            if hops[0] > SYMLINK_HOPS_MAX:
                raise _Escapes
            parts = _resolve(parts[:-1], target, links, hops)
    return parts


def _check_symlinks(links: dict[str, str]) -> None:
    for name, target in links.items():
        try:
            parent = _resolve([], posixpath.dirname(name), links, [0])
            _resolve(parent, target, links, [0])
        except _Escapes:
            raise _refuse(
                f"Symlink {name!r} points outside the tree ({target!r}), "
                "directly or through other symlinks (or loops)."
            ) from None


def _check_entry(entry: Entry, limits: ZipLimits) -> None:
    _check_path(entry.name)
    if entry.kind not in (0, stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK):
        raise _refuse(f"Entry {entry.name!r} is a special file.")
    if entry.flags & FLAG_ENCRYPTED:
        raise _refuse(f"Entry {entry.name!r} is encrypted.")
    if (
        entry.file_size > limits.max_ratio * max(entry.compress_size, 1)
        and entry.file_size > 1024**2
    ):
        raise _refuse(
            f"Entry {entry.name!r} is compressed more than {limits.max_ratio}:1 (a zip bomb?)."
        )


def validate_zip(path: Path, limits: ZipLimits) -> int:
    """Raise ValidationFailed unless the zip is safe to unpack; return its entry count."""
    try:
        archive = path.open("rb")
    except OSError as exc:
        raise _refuse(f"Not a zip file ({exc}).") from exc
    with archive:
        count, cd_offset, cd_size = _directory_location(archive, path.stat().st_size)
        if not count:
            raise _refuse("The zip is empty.")
        if count > limits.max_entries:
            raise _refuse(f"{count} entries; at most {limits.max_entries} are allowed.")
        seen: set[str] = set()
        links: dict[str, str] = {}
        total = 0
        for entry in _entries(archive, count, cd_offset, cd_size):
            _check_entry(entry, limits)
            normal = posixpath.normpath(entry.name.rstrip("/"))
            if normal in seen:
                raise _refuse(f"Entry {entry.name!r} appears more than once.")
            seen.add(normal)
            if entry.kind == stat.S_IFLNK:
                links[normal] = _symlink_target(archive, entry)
            total += entry.file_size
            if total > limits.max_unzipped_bytes:
                raise _refuse(f"Unpacks to more than {limits.max_unzipped_bytes} bytes.")
        _check_symlinks(links)
        return count
