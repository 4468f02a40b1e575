"""Hand-made zips for tests: names Python's zipfile cannot write, and entry counts it
cannot read without holding the whole central directory in memory."""

import io
import struct
import zipfile
import zlib
from pathlib import Path

LOCAL = struct.Struct("<4s5H3L2H")
CENTRAL = struct.Struct("<4s6H3L5H2L")
EOCD = struct.Struct("<4s4H2LH")


def with_raw_names(names: dict[str, bytes]) -> bytes:
    """A zip whose entry names are given as raw bytes (placeholder name → raw name).

    Each placeholder is written by zipfile, then swapped for the raw bytes of the same
    length in both the local header and the central directory."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("bin/start", b"#!/bin/sh\n")
        for placeholder in names:
            archive.writestr(placeholder, b"x")
    data = buffer.getvalue()
    for placeholder, raw in names.items():
        assert len(placeholder.encode()) == len(raw)
        data = data.replace(placeholder.encode(), raw)
    return data


def many_entries(count: int) -> bytes:
    """A valid zip of `count` empty stored files (about 90 bytes each)."""
    locals_, centrals = [], []
    offset = 0
    crc = zlib.crc32(b"")
    for index in range(count):
        name = f"f/{index:08d}".encode()
        local = LOCAL.pack(b"PK\x03\x04", 20, 0, 0, 0, 0, crc, 0, 0, len(name), 0) + name
        centrals.append(
            CENTRAL.pack(
                b"PK\x01\x02", 20, 20, 0, 0, 0, 0, crc, 0, 0, len(name), 0, 0, 0, 0, 0, offset
            )
            + name
        )
        locals_.append(local)
        offset += len(local)
    directory = b"".join(centrals)
    if count < 0xFFFF:
        end = EOCD.pack(b"PK\x05\x06", 0, 0, count, count, len(directory), offset, 0)
    else:
        zip64 = struct.pack(
            "<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, len(directory), offset
        )
        locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, offset + len(directory), 1)
        end = (
            zip64
            + locator
            + EOCD.pack(b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
        )
    return b"".join(locals_) + directory + end


def write_many_entries(path: Path, count: int) -> Path:
    path.write_bytes(many_entries(count))
    return path
