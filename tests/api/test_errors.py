"""Every failure lands in the one documented error format."""

from aiohttp import web

from service.api.openapi import build_openapi
from service.api.v1 import create_v1_app
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


DB_BEYOND = 2**63


async def test_integers_beyond_the_database_range_are_422(api, app_record):
    """Every integer input is bounded by the database's INTEGER range (no OverflowError)."""
    app_id = app_record["id"]
    for path in (
        f"/api/v1/versions?app_id={DB_BEYOND}",
        f"/api/v1/tasks?server_id={DB_BEYOND}",
        f"/api/v1/deployments/stats?app_id={DB_BEYOND}",
        f"/api/v1/apps?server_id=-{DB_BEYOND}",
        f"/api/v1/servers?page={DB_BEYOND}",
    ):
        assert_error(await api.get(path), 422, "validation_failed")
    for method, path, body in (
        ("PUT", f"/api/v1/apps/{app_id}/servers", {"server_ids": [DB_BEYOND]}),
        ("POST", f"/api/v1/apps/{app_id}/deploy", {"version_id": DB_BEYOND}),
        ("POST", f"/api/v1/apps/{app_id}/rollback", {"version_id": DB_BEYOND}),
        ("POST", "/api/v1/versions", {"app_id": DB_BEYOND, "version_number": "1.0.0"}),
        ("PATCH", f"/api/v1/apps/{app_id}", {"server_id": 2**31}),
    ):
        reply = await api.request(method, path, json=body)
        assert_error(reply, 422, "validation_failed")
    task = (await api.post(f"/api/v1/servers/{app_record['server_id']}/test-connection")).body
    events = f"/api/v1/tasks/{task['task']['id']}/events?after={DB_BEYOND}"
    assert_error(await api.get(events), 422, "validation_failed")
    await api.post(f"/api/v1/tasks/{task['task']['id']}/cancel")


async def test_path_ids_beyond_the_database_range_are_404(api):
    for path in ("/api/v1/servers/99999999999999999999", "/api/v1/tasks/9223372036854775808"):
        assert_error(await api.get(path), 404, "not_found")


def _input_fields(schema, seen):
    from marshmallow import fields

    for field in schema.fields.values():
        while isinstance(field, fields.List):
            field = field.inner
        if isinstance(field, fields.Nested):
            if field.schema not in seen:
                seen.add(field.schema)
                yield from _input_fields(field.schema, seen)
        elif not field.dump_only:
            yield field


def test_every_integer_input_is_the_bounded_integer_field():
    """The one place: a new schema that reads a plain fields.Integer fails here."""
    from marshmallow import fields

    from service.api.schemas import Integer
    from service.api.v1 import create_v1_app

    checked = 0
    for route in create_v1_app().router.routes():
        for spec in getattr(route.handler, "__schemas__", []):
            schema = spec["schema"]
            for field in _input_fields(schema() if isinstance(schema, type) else schema, set()):
                if isinstance(field, fields.Integer):
                    assert isinstance(field, Integer), (route.resource.canonical, field.name)
                    checked += 1
    assert checked > 10


JSON = {"Content-Type": "application/json"}


async def test_bodies_that_cannot_be_decoded_are_400(api, caplog):
    deep = b'{"name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    digits = b'{"port": ' + b"9" * 5000 + b"}"
    assert_error(await api.post(SERVERS, data=deep, headers=JSON), 400, "invalid_json")
    assert_error(await api.post(SERVERS, data=digits, headers=JSON), 400, "invalid_json")
    for coding in ("gzip", "deflate"):
        reply = await api.post(
            SERVERS, data=b'{"name": "x"}', headers={**JSON, "Content-Encoding": coding}
        )
        assert_error(reply, 400, "bad_request")
        assert reply.headers.get("Connection", "").lower() == "close"
    for coding in ("xyz", "gzip, gzip", "compress"):
        reply = await api.post(
            SERVERS, data=b'{"name": "x"}', headers={**JSON, "Content-Encoding": coding}
        )
        assert_error(reply, 415, "unsupported_media_type")
    assert (await api.get(SERVERS)).status == 200
    assert "Traceback" not in caplog.text and "Unhandled exception" not in caplog.text
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


async def test_codings_aiohttp_cannot_decode_are_refused_before_the_service(api):
    """br and zstd need decoders this install lacks: aiohttp's parser answers 400 itself."""
    for coding in ("br", "zstd"):
        reply = await api.post(
            SERVERS, data=b'{"name": "x"}', headers={**JSON, "Content-Encoding": coding}
        )
        assert reply.status == 400


async def test_compressed_bodies_still_work(api):
    import gzip

    body = gzip.compress(b'{"name": "zipped", "host": "10.0.0.9"}')
    reply = await api.post(SERVERS, data=body, headers={**JSON, "Content-Encoding": "gzip"})
    assert reply.status == 201, reply.body


async def test_apps_servers_bodies_match_their_schema(api, app_record):
    document = build_openapi(create_v1_app())
    operation = document["paths"]["/apps/{id}/servers"]["get"]
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    documented = set(document["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"])
    path = f"/api/v1/apps/{app_record['id']}/servers"
    for reply in (await api.get(path), await api.put(path, json={"server_ids": []})):
        assert reply.status == 200, reply.body
        assert set(reply.body) <= documented
        assert reply.body == {"app_id": app_record["id"], "server_ids": [app_record["server_id"]]}
    refused = await api.put(path, json={"app_id": 1, "server_ids": []})
    assert_error(refused, 422, "validation_failed")


async def test_websocket_endpoint_without_an_upgrade_is_a_documented_400(api):
    assert_error(await api.get("/api/v1/ws"), 400, "bad_request")
    document = build_openapi(create_v1_app())
    assert "400" in document["paths"]["/ws"]["get"]["responses"]
