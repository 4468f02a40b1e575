"""Every failure lands in the one documented error format."""

from aiohttp import web

from service.app import create_app
from service.config import Settings

SERVERS = "/api/v1/servers"


def assert_error(reply, status, code):
    assert reply.status == status, reply.body
    assert reply.headers["Content-Type"].startswith("application/json")
    error = reply.body["error"]
    assert error["code"] == code
    assert error["message"]
    assert isinstance(error["details"], dict)
    assert error["request_id"] == reply.headers["X-Request-ID"]


async def test_malformed_json(api):
    reply = await api.post(
        SERVERS, data=b'{"name": "x",', headers={"Content-Type": "application/json"}
    )
    assert_error(reply, 400, "invalid_json")


async def test_invalid_utf8(api):
    reply = await api.post(
        SERVERS, data=b'{"name": "\xff"}', headers={"Content-Type": "application/json"}
    )
    assert_error(reply, 400, "invalid_json")


async def test_json_that_is_not_an_object(api):
    reply = await api.post(SERVERS, json=[1, 2, 3])
    assert_error(reply, 422, "validation_failed")


async def test_wrong_content_type(api):
    reply = await api.post(
        SERVERS, data="name=x&host=y", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert_error(reply, 415, "unsupported_media_type")


async def test_empty_body_reports_missing_fields(api):
    reply = await api.post(SERVERS, headers={"Content-Type": "application/json"})
    assert_error(reply, 422, "validation_failed")
    assert set(reply.body["error"]["details"]) == {"name", "host"}


async def test_oversized_body(api):
    big = b'{"name": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    reply = await api.post(SERVERS, data=big, headers={"Content-Type": "application/json"})
    assert_error(reply, 413, "payload_too_large")


async def test_unknown_route_and_method(api):
    assert_error(await api.get("/api/v1/nothing-here"), 404, "not_found")
    assert_error(await api.get("/nothing"), 404, "not_found")
    reply = await api.request("PUT", SERVERS, json={})
    assert_error(reply, 405, "method_not_allowed")
    assert "GET" in reply.headers["Allow"]


async def test_client_request_id_is_echoed_when_well_formed(api):
    reply = await api.get("/api/v1/servers/999", headers={"X-Request-ID": "trace-123"})
    assert reply.headers["X-Request-ID"] == "trace-123"
    assert reply.body["error"]["request_id"] == "trace-123"
    hostile = await api.get("/api/v1/servers/999", headers={"X-Request-ID": "bad id;{{x}}"})
    assert hostile.headers["X-Request-ID"] != "bad id;{{x}}"
    assert len(hostile.headers["X-Request-ID"]) == 32


async def test_successful_responses_carry_a_request_id(api):
    reply = await api.get(SERVERS)
    assert len(reply.headers["X-Request-ID"]) == 32


async def test_unexpected_errors_reveal_nothing(aiohttp_client, tmp_path, caplog):
    app = create_app(Settings(data_dir=tmp_path))

    async def explode(request):
        raise RuntimeError("secret internals: /etc/shadow")

    app.router.add_get("/explode", explode)
    client = await aiohttp_client(app)
    async with client.get("/explode") as response:
        body = await response.json()
    assert response.status == 500
    assert body["error"]["code"] == "internal_error"
    assert "shadow" not in str(body)
    assert body["error"]["request_id"] in caplog.text
    assert "secret internals" in caplog.text  # logged for the operator, not returned


async def test_http_exceptions_from_handlers_are_wrapped(aiohttp_client, tmp_path):
    app = create_app(Settings(data_dir=tmp_path))

    async def forbidden(request):
        raise web.HTTPForbidden()

    app.router.add_get("/forbidden", forbidden)
    client = await aiohttp_client(app)
    async with client.get("/forbidden") as response:
        body = await response.json()
    assert response.status == 403
    assert body["error"]["code"] == "forbidden"
