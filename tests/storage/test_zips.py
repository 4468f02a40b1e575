"""validate_zip on hand-made zips: raw names, end records, entry counts, symlink chains."""

import io
import time
import warnings
import zipfile

import pytest

from service.errors import ValidationFailed
from service.storage.zips import ZipLimits, validate_zip
from tests.api.test_uploads import make_zip
from tests.storage.zipcraft import many_entries, with_raw_names

LIMITS = ZipLimits(max_entries=10_000, max_unzipped_bytes=4 * 1024**3, max_ratio=200)


def refusal(tmp_path, data: bytes, limits: ZipLimits = LIMITS) -> str:
    path = tmp_path / "upload.zip"
    path.write_bytes(data)
    with pytest.raises(ValidationFailed) as refused:
        validate_zip(path, limits)
    return refused.value.details["zip"][0]


def accepted(tmp_path, data: bytes, limits: ZipLimits = LIMITS) -> int:
    path = tmp_path / "upload.zip"
    path.write_bytes(data)
    return validate_zip(path, limits)


@pytest.mark.parametrize(
    ("placeholder", "raw"),
    [
        ("app/evilXname", b"app/evil\x00name"),
        ("app/evilXname", b"app/evil\nname"),
        ("app/evilXname", b"app/evil\x1bname"),
        ("app/evilXname", b"app/evil\x7fname"),
    ],
)
def test_names_with_nul_or_control_characters_are_refused(tmp_path, placeholder, raw):
    assert "control character" in refusal(tmp_path, with_raw_names({placeholder: raw}))


@pytest.mark.parametrize(
    "names",
    [["app/a", "app/a"], ["app/a/", "app/a"], ["app//a", "app/a"], ["./app/a", "app/a"]],
)
def test_duplicate_entries_are_refused_naming_the_entry(tmp_path, names):
    message = refusal(tmp_path, _zip_of(names))
    assert "more than once" in message and "app" in message


def _zip_of(names: list[str]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names, and writes them
        for name in names:
            archive.writestr(zipfile.ZipInfo(name), b"" if name.endswith("/") else b"x")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "symlinks",
    [
        {"a": ".", "a/a/a/b": "../../.."},
        {"app/up": "..", "app/up/up": ".."},
        {"x": "y", "y": "x"},
        {"self": "self/deeper"},
        {"lib": "app", "app": "lib/../.."},
    ],
)
def test_symlink_chains_that_leave_the_tree_are_refused(tmp_path, symlinks):
    assert "outside the tree" in refusal(tmp_path, make_zip(symlinks=symlinks))


def test_symlink_chains_that_stay_inside_are_fine(tmp_path):
    data = make_zip(
        {"vendor/lib.py": b"x", "bin/start": b"#!/bin/sh\n"},
        symlinks={"lib": "app/lib", "app/lib": "../vendor", "app/here": ".", "run": "bin/start"},
    )
    assert accepted(tmp_path, data) == 6


def test_entry_count_is_checked_from_the_end_record_before_any_entry(tmp_path):
    path = tmp_path / "many.zip"
    path.write_bytes(many_entries(1_000_000))  # zip64 end record
    started = time.monotonic()
    with pytest.raises(ValidationFailed) as refused:
        validate_zip(path, LIMITS)
    assert "1000000 entries" in refused.value.details["zip"][0]
    assert time.monotonic() - started < 1.0  # nothing read but the end records


def test_zip64_and_classic_end_records_within_the_limit_are_read(tmp_path):
    assert accepted(tmp_path, many_entries(70_000), ZipLimits(100_000, 1024**3, 200)) == 70_000
    assert accepted(tmp_path, many_entries(3)) == 3


def test_a_lying_end_record_is_refused(tmp_path):
    data = bytearray(many_entries(20))
    count_at = len(data) - 22 + 8  # EOCD: entries on this disk, then total entries
    data[count_at : count_at + 4] = (5).to_bytes(2, "little") * 2
    assert "does not match" in refusal(tmp_path, bytes(data))
