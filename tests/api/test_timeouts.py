"""Slow or silent clients are dropped (header and body timeouts); slow but steady uploads pass.

Raw sockets on loopback, a handful of clients, timeouts made short for the test.
"""

import asyncio

import pytest

from service.app import create_app
from service.config import Settings
from service.domain import tokens
from tests.api.test_uploads import make_zip
from tests.conftest import Api

HEADER_TIMEOUT = 0.5
BODY_TIMEOUT = 1.5
CLIENTS = 5
BOUND = 20  # seconds any single wait in these tests may take before the test fails


@pytest.fixture
async def quick(aiohttp_client, tmp_path):
    settings = Settings(
        data_dir=tmp_path / "data", header_timeout=HEADER_TIMEOUT, body_timeout=BODY_TIMEOUT
    )
    client = await aiohttp_client(create_app(settings))
    api = Api(client, (await tokens.issue_token("t")).secret)
    server = (await api.post("/api/v1/servers", json={"name": "s", "host": "10.0.0.1"})).body
    app = {"name": "a", "server_id": server["id"], "remote_path": "/srv/a", "service_name": "a"}
    app_id = (await api.post("/api/v1/apps", json=app)).body["id"]
    version = {"app_id": app_id, "version_number": "1.0.0"}
    version_id = (await api.post("/api/v1/versions", json=version)).body["id"]
    return api, settings, version_id


async def _connect(api):
    return await asyncio.open_connection(api.client.host, api.client.port)


async def _until_closed(reader) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    async with asyncio.timeout(BOUND):
        while chunk := await reader.read(65536):
            received += chunk
    return received


async def _trickle(writer, data: bytes, pause: float) -> None:
    """Send `data` a byte at a time until done or the server has closed the connection."""
    for byte in data:
        if writer.is_closing():
            return
        try:
            writer.write(bytes([byte]))
            await writer.drain()
        except ConnectionError:
            return
        await asyncio.sleep(pause)


async def test_headers_sent_byte_by_byte_or_not_at_all_are_dropped(quick):
    api, _settings, _version = quick
    request = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000 + b"\r\n\r\n"
    connections = [await _connect(api) for _ in range(CLIENTS)]
    trickles = [
        asyncio.create_task(_trickle(writer, request, 0.05)) for _reader, writer in connections[1:]
    ]
    started = asyncio.get_running_loop().time()
    for reader, _writer in connections:  # the first one sends nothing at all
        assert await _until_closed(reader) == b""
    assert asyncio.get_running_loop().time() - started < BOUND
    for trickle in trickles:
        trickle.cancel()
    for _reader, writer in connections:
        writer.close()
    assert (await api.get("/api/v1/health")).status in (200, 503)


def _post_head(api, path: str, length: int, content_type: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {api.headers['Authorization']}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


async def test_json_body_sent_too_slowly_is_408_and_dropped(quick):
    api, _settings, _version = quick
    body = b'{"name": "slow", "host": "10.0.0.2"}' + b" " * 200
    reader, writer = await _connect(api)
    writer.write(_post_head(api, "/api/v1/servers", len(body), "application/json"))
    trickle = asyncio.create_task(_trickle(writer, body, 0.05))
    answer = await _until_closed(reader)
    trickle.cancel()
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b'"code":"request_timeout"' in answer
    assert (await api.get("/api/v1/servers?q=slow")).body["total_items"] == 0


async def test_an_idle_upload_is_dropped_with_408_and_leaves_nothing(quick):
    api, settings, version_id = quick
    body = make_zip({"bin/start": bytes(range(256)) * 400})
    reader, writer = await _connect(api)
    path = f"/api/v1/versions/{version_id}/upload"
    writer.write(_post_head(api, path, len(body), "application/zip") + body[: len(body) // 2])
    await writer.drain()
    answer = await _until_closed(reader)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b'"code":"request_timeout"' in answer
    assert list(settings.uploads_dir.glob("*")) == []


async def test_a_slow_but_steady_upload_outlasting_the_timeout_succeeds(quick):
    api, settings, version_id = quick
    body = make_zip({"bin/start": bytes(range(256)) * 400})
    pieces = 30
    size = len(body) // pieces + 1

    async def steady():
        for offset in range(0, len(body), size):
            yield body[offset : offset + size]
            await asyncio.sleep(BODY_TIMEOUT / 10)

    reply = await api.post(
        f"/api/v1/versions/{version_id}/upload",
        data=steady(),
        headers={"Content-Type": "application/zip"},
    )
    assert reply.status == 201, reply.body
    assert [p.name for p in settings.uploads_dir.iterdir()] == [f"version-{version_id}.zip"]
