"""Uploading and downloading deploy zips, including every kind of hostile zip."""

import asyncio
import errno
import hashlib
import io
import os
import stat
import zipfile

import pytest

from service.app import create_app
from service.config import Settings
from service.domain import tokens
from service.storage import uploads as uploads_module
from tests.conftest import Api
from tests.storage.zipcraft import with_raw_names

VERSIONS = "/api/v1/versions"
ZIP = {"Content-Type": "application/zip"}


def make_zip(
    entries: dict[str, bytes] | None = None,
    *,
    symlinks: dict[str, str] | None = None,
    compression=zipfile.ZIP_DEFLATED,
) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        default = {"bin/start": b"#!/bin/sh\necho hi\n"}
        for name, data in (default if entries is None else entries).items():
            archive.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


@pytest.fixture
async def version(api, app_record):
    reply = await api.post(VERSIONS, json={"app_id": app_record["id"], "version_number": "1.0.0"})
    return reply.body


def stored_files(settings):
    return (
        sorted(p.name for p in settings.uploads_dir.iterdir())
        if settings.uploads_dir.exists()
        else []
    )


async def test_upload_then_download_with_checksum_and_range(api, version, settings):
    body = make_zip({"bin/start": b"#!/bin/sh\n", "app/data.txt": b"x" * 5000})
    reply = await api.post(f"{VERSIONS}/{version['id']}/upload", data=body, headers=ZIP)
    assert reply.status == 201, reply.body
    assert reply.body["sha256"] == hashlib.sha256(body).hexdigest()
    assert reply.body["size_bytes"] == len(body)
    assert reply.body["deployment_zip"] == f"version-{version['id']}.zip"
    assert stored_files(settings) == [f"version-{version['id']}.zip"]

    async with api.client.get(
        f"{VERSIONS}/{version['id']}/download", headers=api.headers
    ) as response:
        assert response.status == 200
        assert await response.read() == body
        assert response.headers["X-Checksum-SHA256"] == hashlib.sha256(body).hexdigest()
        assert "shop-1.0.0.zip" in response.headers["Content-Disposition"]
    ranged = {**api.headers, "Range": "bytes=10-19"}
    async with api.client.get(f"{VERSIONS}/{version['id']}/download", headers=ranged) as response:
        assert response.status == 206
        assert await response.read() == body[10:20]

    again = await api.post(f"{VERSIONS}/{version['id']}/upload", data=body, headers=ZIP)
    assert again.status == 409
    assert (await api.delete(f"{VERSIONS}/{version['id']}")).status == 204
    assert stored_files(settings) == []


async def test_an_upload_answers_with_the_location_of_its_version(api, version):
    reply = await api.post(f"{VERSIONS}/{version['id']}/upload", data=make_zip(), headers=ZIP)
    assert reply.status == 201, reply.body
    assert reply.headers["Location"] == f"{VERSIONS}/{version['id']}"


async def test_download_before_upload_is_404(api, version):
    assert (await api.get(f"{VERSIONS}/{version['id']}/download")).status == 404


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("not a zip", b"this is not a zip file at all"),
        ("empty zip", make_zip({})),
        ("absolute path", make_zip({"/etc/cron.d/evil": b"x"})),
        ("dot-dot path", make_zip({"app/../../etc/passwd": b"x"})),
        ("windows drive", make_zip({"C:/evil": b"x"})),
        ("backslash", make_zip({"..\\evil": b"x"})),
        ("symlink out", make_zip(symlinks={"app/link": "../../../etc/shadow"})),
        ("absolute symlink", make_zip(symlinks={"link": "/etc/shadow"})),
        ("zip bomb ratio", make_zip({"bomb": b"\0" * (20 * 1024 * 1024)})),
        ("NUL in a name", with_raw_names({"bin/stopXevil": b"bin/stop\0evil"})),
        ("newline in a name", with_raw_names({"bin/stopXevil": b"bin/stop\nevil"})),
        ("symlink chain out", make_zip(symlinks={"a": ".", "a/a/a/b": "../../.."})),
        ("symlink loop", make_zip(symlinks={"x": "y", "y": "x"})),
    ],
)
async def test_hostile_zips_are_refused_and_leave_nothing(api, version, settings, name, body):
    reply = await api.post(f"{VERSIONS}/{version['id']}/upload", data=body, headers=ZIP)
    assert reply.status == 422, (name, reply.body)
    assert reply.body["error"]["code"] == "validation_failed"
    assert "zip" in reply.body["error"]["details"]
    assert stored_files(settings) == []
    assert (await api.get(f"{VERSIONS}/{version['id']}")).body["deployment_zip"] is None


async def test_duplicate_entries_are_refused_naming_the_entry(api, version, settings):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("bin/start", b"#!/bin/sh\necho first\n")
        with pytest.warns(UserWarning, match="Duplicate"):
            archive.writestr("bin/start", b"#!/bin/sh\necho second\n")
    reply = await api.post(
        f"{VERSIONS}/{version['id']}/upload", data=buffer.getvalue(), headers=ZIP
    )
    assert reply.status == 422, reply.body
    assert reply.body["error"]["code"] == "validation_failed"
    assert "'bin/start' appears more than once" in reply.body["error"]["details"]["zip"][0]
    assert stored_files(settings) == []


async def test_a_range_past_the_end_is_416_in_the_error_format(api, version):
    body = make_zip()
    await api.post(f"{VERSIONS}/{version['id']}/upload", data=body, headers=ZIP)
    for value in (f"bytes={len(body)}-", f"bytes={len(body) + 100}-{len(body) + 200}", "bytes=x"):
        reply = await api.get(f"{VERSIONS}/{version['id']}/download", headers={"Range": value})
        assert reply.status == 416, (value, reply.body)
        assert reply.body["error"]["code"] == "range_not_satisfiable"
        assert reply.body["error"]["details"] == {"size_bytes": len(body)}
        assert reply.headers["Content-Range"] == f"bytes */{len(body)}"
    tail = await api.get(f"{VERSIONS}/{version['id']}/download", headers={"Range": "bytes=-10"})
    assert tail.status == 206


async def test_two_concurrent_uploads_to_one_version_have_one_winner(api, version, settings):
    """Both bodies are half sent before either ends: exactly one 201, the other 409."""
    bodies = [make_zip({"bin/start": f"#!/bin/sh\necho {n}\n".encode() * 5000}) for n in (1, 2)]
    halfway = asyncio.Barrier(2)

    async def stream(body: bytes):
        yield body[: len(body) // 2]
        await halfway.wait()
        yield body[len(body) // 2 :]

    replies = await asyncio.gather(
        *(
            api.post(f"{VERSIONS}/{version['id']}/upload", data=stream(body), headers=ZIP)
            for body in bodies
        )
    )
    assert sorted(reply.status for reply in replies) == [201, 409], [r.body for r in replies]
    winner = next(reply.body for reply in replies if reply.status == 201)
    loser = next(reply.body for reply in replies if reply.status == 409)
    assert loser["error"]["code"] == "conflict"
    stored = (await api.get(f"{VERSIONS}/{version['id']}")).body
    assert stored["sha256"] == winner["sha256"]
    on_disk = (settings.uploads_dir / stored["deployment_zip"]).read_bytes()
    assert hashlib.sha256(on_disk).hexdigest() == winner["sha256"]
    assert stored_files(settings) == [stored["deployment_zip"]]


async def test_partial_files_of_a_crashed_upload_are_removed_at_start_up(aiohttp_client, tmp_path):
    settings = Settings(data_dir=tmp_path)
    settings.uploads_dir.mkdir(parents=True)
    stale = settings.uploads_dir / ".upload-0123456789abcdef.part"
    stale.write_bytes(b"half a zip")
    kept = settings.uploads_dir / "version-1.zip"
    kept.write_bytes(b"a stored zip")
    await aiohttp_client(create_app(settings))
    assert not stale.exists()
    assert kept.exists()


async def test_symlink_inside_the_tree_is_fine(api, version):
    body = make_zip(
        {"bin/start": b"#!/bin/sh\n"}, symlinks={"bin/run": "start", "app/x": "../bin/start"}
    )
    reply = await api.post(f"{VERSIONS}/{version['id']}/upload", data=body, headers=ZIP)
    assert reply.status == 201, reply.body


@pytest.fixture
async def tight_api(aiohttp_client, tmp_path):
    settings = Settings(
        data_dir=tmp_path,
        max_upload_bytes=64 * 1024,
        max_zip_entries=10,
        max_unzipped_bytes=1024 * 1024,
    )
    client = await aiohttp_client(create_app(settings))
    api = Api(client, (await tokens.issue_token("t")).secret)
    server = (await api.post("/api/v1/servers", json={"name": "s", "host": "10.0.0.1"})).body
    app = (
        await api.post(
            "/api/v1/apps",
            json={
                "name": "a",
                "server_id": server["id"],
                "remote_path": "/srv/a",
                "service_name": "a",
            },
        )
    ).body
    version = (await api.post(VERSIONS, json={"app_id": app["id"], "version_number": "1.0.0"})).body
    return api, settings, version


async def test_oversized_upload_is_413_both_with_and_without_a_length(tight_api):
    api, settings, version = tight_api
    big = make_zip({"big": bytes(range(256)) * 1024}, compression=zipfile.ZIP_STORED)
    reply = await api.post(f"{VERSIONS}/{version['id']}/upload", data=big, headers=ZIP)
    assert reply.status == 413
    assert reply.body["error"]["code"] == "payload_too_large"

    async def chunked():
        for offset in range(0, len(big), 8192):
            yield big[offset : offset + 8192]

    reply = await api.post(f"{VERSIONS}/{version['id']}/upload", data=chunked(), headers=ZIP)
    assert reply.status == 413
    assert stored_files(settings) == []


async def test_entry_count_and_unpacked_size_limits(tight_api):
    api, _settings, version = tight_api
    many = make_zip({f"f{i}": b"x" for i in range(11)})
    assert (
        await api.post(f"{VERSIONS}/{version['id']}/upload", data=many, headers=ZIP)
    ).status == 422
    huge = make_zip({"a": b"\0" * 600_000, "b": b"\0" * 600_000})
    reply = await api.post(f"{VERSIONS}/{version['id']}/upload", data=huge, headers=ZIP)
    assert reply.status == 422
    assert "Unpacks to more than" in reply.body["error"]["details"]["zip"][0]


async def test_wrong_content_type_is_415(api, version):
    reply = await api.post(
        f"{VERSIONS}/{version['id']}/upload",
        data=make_zip(),
        headers={"Content-Type": "text/plain"},
    )
    assert reply.status == 415


async def test_cut_off_upload_leaves_nothing_and_logs_one_warning(api, version, settings, caplog):
    body = make_zip({"bin/start": b"#!/bin/sh\n" * 1000})
    _reader, writer = await asyncio.open_connection(api.client.host, api.client.port)
    writer.write(
        (
            f"POST {VERSIONS}/{version['id']}/upload HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: {api.headers['Authorization']}\r\nContent-Type: application/zip\r\n"
            f"Content-Length: {len(body) + 100000}\r\n\r\n"
        ).encode()
        + body
    )
    await writer.drain()
    async with asyncio.timeout(10):
        while not list(settings.uploads_dir.glob("*.part")):
            await asyncio.sleep(0.02)  # the upload has started
    writer.close()
    async with asyncio.timeout(10):
        while "client disconnected" not in caplog.text:
            await asyncio.sleep(0.02)
    assert stored_files(settings) == []
    assert (await api.get(f"{VERSIONS}/{version['id']}")).body["deployment_zip"] is None
    warnings = [r for r in caplog.records if "client disconnected" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelname == "WARNING"
    assert "/upload (request_id=" in warnings[0].getMessage()
    assert not [r for r in caplog.records if r.levelno >= 40 or r.exc_info]
    assert "Traceback" not in caplog.text


async def test_an_upload_matching_the_expected_sha256_is_accepted(api, version):
    body = make_zip()
    expected = {**ZIP, "X-Checksum-SHA256": hashlib.sha256(body).hexdigest().upper()}
    reply = await api.post(f"{VERSIONS}/{version['id']}/upload", data=body, headers=expected)
    assert reply.status == 201, reply.body
    assert reply.body["sha256"] == hashlib.sha256(body).hexdigest()


async def test_an_upload_not_matching_the_expected_sha256_is_refused_and_leaves_nothing(
    api, version, settings
):
    body = make_zip()
    wrong = hashlib.sha256(b"another build").hexdigest()
    path = f"{VERSIONS}/{version['id']}/upload"
    reply = await api.post(path, data=body, headers={**ZIP, "X-Checksum-SHA256": wrong})
    assert reply.status == 422, reply.body
    error = reply.body["error"]
    assert error["code"] == "validation_failed"
    assert error["details"]["expected"] == wrong
    assert error["details"]["actual"] == hashlib.sha256(body).hexdigest()
    assert stored_files(settings) == []
    unchanged = (await api.get(f"{VERSIONS}/{version['id']}")).body
    assert unchanged["deployment_zip"] is None and unchanged["sha256"] is None

    right = {**ZIP, "X-Checksum-SHA256": hashlib.sha256(body).hexdigest()}
    assert (await api.post(path, data=body, headers=right)).status == 201


@pytest.mark.parametrize("digest", ["abc", "g" * 64, "0" * 63, "0" * 65, ""])
async def test_a_malformed_expected_sha256_is_refused_before_the_body_is_read(
    api, version, settings, digest
):
    body_may_end = asyncio.Event()

    async def body_that_waits():
        yield make_zip()[:100]
        await body_may_end.wait()  # the answer must come while the body is still unsent

    try:
        reply = await asyncio.wait_for(
            api.post(
                f"{VERSIONS}/{version['id']}/upload",
                data=body_that_waits(),
                headers={**ZIP, "X-Checksum-SHA256": digest},
            ),
            timeout=30,
        )
    finally:
        body_may_end.set()
    assert reply.status == 422, reply.body
    assert "X-Checksum-SHA256" in reply.body["error"]["details"]
    assert stored_files(settings) == []


async def test_a_full_disk_is_a_507_in_the_error_format_and_leaves_nothing(
    api, version, settings, monkeypatch
):
    def disk_full(descriptor, views):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(uploads_module.os, "writev", disk_full)
    reply = await api.post(f"{VERSIONS}/{version['id']}/upload", data=make_zip(), headers=ZIP)
    assert reply.status == 507, reply.body
    assert reply.body["error"]["code"] == "insufficient_storage"
    assert stored_files(settings) == []
    assert (await api.get(f"{VERSIONS}/{version['id']}")).body["deployment_zip"] is None
