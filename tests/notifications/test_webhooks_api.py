"""The /webhooks API: records, validation, and secrets that are shown at most once."""

from tests.notifications.conftest import SECRET, add_webhook
from tests.unit.helpers import create_server

URL = "https://hooks.example.com/pbd"


async def test_a_generated_secret_is_shown_once_and_a_given_one_never(api):
    made = await api.post("/api/v1/webhooks", json={"url": URL, "events": ["task.finished"]})
    assert made.status == 201, made.body
    assert made.headers["Location"] == f"/api/v1/webhooks/{made.body['id']}"
    assert made.body["secret"].startswith("whsec_") and len(made.body["secret"]) > 40
    assert made.body | {"secret": None, "id": 0, "created": 0, "updated": 0} == {
        "id": 0, "created": 0, "updated": 0, "url": URL, "events": ["task.finished"],
        "server_id": None, "app_id": None, "format": "json", "enabled": True, "secret": None,
    }  # fmt: skip
    given = await add_webhook(api, URL, ["task.finished"])
    assert "secret" not in given

    fetched = await api.get(f"/api/v1/webhooks/{made.body['id']}")
    listed = await api.get("/api/v1/webhooks")
    assert fetched.status == 200 and "secret" not in fetched.body
    assert listed.body["total_items"] == 2
    assert all("secret" not in item for item in listed.body["items"])
    assert made.body["secret"] not in str(listed.body) + str(fetched.body)
    assert SECRET not in str(listed.body)


async def test_patch_changes_fields_and_rotates_the_secret_silently(api):
    server = await create_server(api)
    hook = await add_webhook(api, URL, ["task.finished"])
    reply = await api.patch(
        f"/api/v1/webhooks/{hook['id']}",
        json={
            "events": ["server.locked", "task.finished", "server.locked"],
            "server_id": server["id"],
            "format": "slack",
            "enabled": False,
            "secret": "another-secret-0123456789",
        },
    )
    assert reply.status == 200, reply.body
    assert reply.body["events"] == ["task.finished", "server.locked"]
    assert (reply.body["server_id"], reply.body["format"], reply.body["enabled"]) == (
        server["id"], "slack", False,
    )  # fmt: skip
    assert "secret" not in reply.body
    cleared = await api.patch(f"/api/v1/webhooks/{hook['id']}", json={"server_id": None})
    assert cleared.body["server_id"] is None
    assert (await api.patch(f"/api/v1/webhooks/{hook['id']}", json={})).status == 422


async def test_bad_input_is_refused_with_422(api):
    cases = [
        ({"url": "ftp://example.com/x", "events": ["task.finished"]}, "url"),
        ({"url": "file:///etc/passwd", "events": ["task.finished"]}, "url"),
        ({"url": "not a url", "events": ["task.finished"]}, "url"),
        ({"url": URL, "events": ["task.exploded"]}, "events"),
        ({"url": URL, "events": []}, "events"),
        ({"url": URL}, "events"),
        ({"url": URL, "events": ["task.finished"], "format": "teams"}, "format"),
        ({"url": URL, "events": ["task.finished"], "secret": "short"}, "secret"),
        ({"url": URL, "events": ["task.finished"], "server_id": 99}, "server_id"),
        ({"url": URL, "events": ["task.finished"], "app_id": 99}, "app_id"),
        ({"url": URL, "events": ["task.finished"], "server_id": "1"}, "server_id"),
    ]
    for payload, field in cases:
        reply = await api.post("/api/v1/webhooks", json=payload)
        assert reply.status == 422, (payload, reply.body)
        assert reply.body["error"]["code"] == "validation_failed"
        assert field in reply.body["error"]["details"], (payload, reply.body)
    assert (await api.get("/api/v1/webhooks")).body["total_items"] == 0


async def test_delete_and_missing_webhooks(api):
    hook = await add_webhook(api, URL, ["task.finished"])
    assert (await api.delete(f"/api/v1/webhooks/{hook['id']}")).status == 204
    for method, path in [
        ("GET", f"/api/v1/webhooks/{hook['id']}"),
        ("PATCH", f"/api/v1/webhooks/{hook['id']}"),
        ("DELETE", f"/api/v1/webhooks/{hook['id']}"),
        ("GET", f"/api/v1/webhooks/{hook['id']}/deliveries"),
    ]:
        reply = await api.request(method, path, json={"enabled": True})
        assert reply.status == 404, (method, path, reply.body)
        assert reply.body["error"]["code"] == "not_found"
