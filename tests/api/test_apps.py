import pytest

APPS = "/api/v1/apps"


def new_app(server_id: int, **changes):
    return {
        "name": "blog",
        "server_id": server_id,
        "remote_path": "/srv/apps/blog",
        "service_name": "blog",
        **changes,
    }


async def test_create_get_patch_delete(api, server):
    reply = await api.post(APPS, json=new_app(server["id"], domain="blog.example.com"))
    assert reply.status == 201, reply.body
    record = reply.body
    assert record["status"] == "idle"
    assert record["current_version"] is None
    assert record["domain"] == "blog.example.com"
    path = f"{APPS}/{record['id']}"
    assert (await api.get(path)).body == record
    patched = await api.patch(path, json={"service_name": "blog.service", "domain": None})
    assert patched.status == 200
    assert patched.body["service_name"] == "blog.service" and patched.body["domain"] is None
    assert (await api.delete(path)).status == 204
    assert (await api.get(path)).status == 404


async def test_server_must_exist(api):
    reply = await api.post(APPS, json=new_app(4242))
    assert reply.status == 422
    assert "server_id" in reply.body["error"]["details"]


async def test_moving_to_a_missing_server_is_refused(api, app_record):
    reply = await api.patch(f"{APPS}/{app_record['id']}", json={"server_id": 4242})
    assert reply.status == 422


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("remote_path", "srv/app"),
        ("remote_path", "/srv/../etc"),
        ("remote_path", "/srv/app;id"),
        ("remote_path", "/srv/$HOME"),
        ("service_name", "my app"),
        ("service_name", "app;reboot"),
        ("service_name", "../x.service"),
        ("domain", "localhost"),
        ("domain", "exa mple.com"),
        ("domain", "-bad.example.com"),
        ("status", "running"),
        ("server_id", "1"),
    ],
)
async def test_bad_fields(api, server, field, value):
    reply = await api.post(APPS, json={**new_app(server["id"]), field: value})
    assert reply.status == 422, reply.body
    assert field in reply.body["error"]["details"]


async def test_duplicate_name_conflicts(api, server, app_record):
    reply = await api.post(APPS, json=new_app(server["id"], name=app_record["name"]))
    assert reply.status == 409


async def test_filters_by_server_status_and_name(api, server):
    other = (await api.post("/api/v1/servers", json={"name": "web-2", "host": "10.0.0.6"})).body
    for name in ("alpha", "beta", "gamma"):
        assert (await api.post(APPS, json=new_app(server["id"], name=name))).status == 201
    assert (await api.post(APPS, json=new_app(other["id"], name="delta"))).status == 201
    on_first = await api.get(APPS, params={"server_id": server["id"]})
    assert [a["name"] for a in on_first.body["items"]] == ["alpha", "beta", "gamma"]
    by_name = await api.get(APPS, params={"q": "ta"})
    assert sorted(a["name"] for a in by_name.body["items"]) == ["beta", "delta"]
    idle = await api.get(APPS, params={"status": "idle", "sort": "-name"})
    assert [a["name"] for a in idle.body["items"]] == ["gamma", "delta", "beta", "alpha"]
    assert (await api.get(APPS, params={"status": "running"})).body["total_items"] == 0
    assert (await api.get(APPS, params={"status": "bogus"})).status == 422


async def test_an_app_being_deployed_cannot_be_deleted(api, app_record):
    from service.models import App, AppStatus

    await App.filter(id=app_record["id"]).update(status=AppStatus.DEPLOYING)
    reply = await api.delete(f"{APPS}/{app_record['id']}")
    assert reply.status == 409
    server_delete = await api.delete(
        f"/api/v1/servers/{app_record['server_id']}", params={"cascade": "true"}
    )
    assert server_delete.status == 409


async def test_list_items_are_serialised_like_single_records(api, app_record):
    listed = await api.get(APPS)
    assert listed.body["items"] == [(await api.get(f"{APPS}/{app_record['id']}")).body]
    servers = await api.get("/api/v1/servers")
    assert servers.body["items"] == [
        (await api.get(f"/api/v1/servers/{app_record['server_id']}")).body
    ]
