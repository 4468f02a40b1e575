"""Receiving a body into a file (`service.storage.uploads.receive`): pieces of any size in
any number arrive whole and in order, partial writes are finished, a full disk is a 507."""

import errno
import hashlib
import os
import random

import pytest

from service.errors import InsufficientStorage
from service.storage import uploads


async def pieces_of(data: bytes, sizes: list[int]):
    offset = 0
    for size in sizes:
        yield data[offset : offset + size]
        offset += size
    assert offset >= len(data)


async def received(tmp_path, data: bytes, sizes: list[int], declared: int | None):
    return await uploads.receive(
        pieces_of(data, sizes), tmp_path, limit=1 << 30, declared=declared, idle_timeout=30
    )


@pytest.mark.parametrize("declared", [True, False], ids=["with-length", "chunked"])
async def test_pieces_of_every_size_arrive_whole_and_in_order(tmp_path, declared):
    rng = random.Random(7)
    data = rng.randbytes(5 * 1024 * 1024 + 13)
    sizes = []
    while sum(sizes) < len(data):
        sizes.append(rng.choice([0, 1, 17, 4096, 65536, 300_000, 2 * 1024 * 1024 + 1]))
    got = await received(tmp_path, data, sizes, len(data) if declared else None)
    assert got.path.read_bytes() == data
    assert (got.size, got.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert got.path.stat().st_size == len(data)


def test_more_pieces_than_one_writev_takes_are_all_written(tmp_path):
    pieces = [bytes([i % 251]) * (i % 5) for i in range(3 * uploads.IOV_MAX + 7)]
    with open(tmp_path / "out", "wb") as file:
        uploads.write_all(file.fileno(), pieces)
    assert (tmp_path / "out").read_bytes() == b"".join(pieces)


def test_a_short_write_goes_on_where_it_stopped(tmp_path, monkeypatch):
    real = os.writev

    def at_most_seven_bytes(descriptor, views):
        return real(descriptor, [bytes(b"".join(views)[:7])])

    monkeypatch.setattr(uploads.os, "writev", at_most_seven_bytes)
    pieces = [b"abc", b"", b"defghijklmnop", b"q" * 30]
    with open(tmp_path / "out", "wb") as file:
        uploads.write_all(file.fileno(), pieces)
    assert (tmp_path / "out").read_bytes() == b"".join(pieces)


async def test_a_full_disk_is_insufficient_storage_and_leaves_no_part_file(tmp_path, monkeypatch):
    def disk_full(descriptor, views):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(uploads.os, "writev", disk_full)
    data = os.urandom(3 * 1024 * 1024)
    with pytest.raises(InsufficientStorage) as refused:
        await received(tmp_path, data, [65536] * 48, len(data))
    assert refused.value.status == 507
    assert list(tmp_path.iterdir()) == []
