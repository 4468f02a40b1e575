"""Roles and scopes through the real HTTP API.

`RULES` in service/api/access.py is the specification: the sweep below sends every
operation with a token of each role and checks that exactly the roles below the operation's
get 403. The scope tests check that a scoped token sees its apps and servers (2xx) and
nothing else (404), in lists, by id and over the WebSocket.
"""

import re
from datetime import UTC, datetime, timedelta

import pytest

from service.api.access import RULES
from service.domain import tokens
from service.models import ApiToken, Role
from tests.conftest import Api
from tests.unit.helpers import (
    FakeAnsible,
    create_server,
    install_fake_ansible,
    start_task,
    wait_for_task,
)

MISSING_ID = "999999"
PUBLIC = {("GET", "/health"), ("GET", "/ws"), ("POST", "/apps/{id}/deploy-hook")}
"""Reached without a bearer token (the WebSocket logs in itself, the deploy hook is signed)."""


def concrete(path: str) -> str:
    """A path of the route with ids of records that do not exist (no side effects)."""
    return "/api/v1" + re.sub(
        r"\{[a-z_]+\}", lambda m: MISSING_ID if "id" in m[0] else "x.service", path
    )


async def token_of(api: Api, role: Role, **scope) -> Api:
    reply = await api.post("/api/v1/tokens", json={"name": f"t-{role}", "role": role, **scope})
    assert reply.status == 201, reply.body
    return Api(api.client, reply.body["token"])


@pytest.fixture
async def by_role(api) -> dict[Role, Api]:
    return {role: await token_of(api, role) for role in Role}


@pytest.mark.parametrize(("method", "path"), sorted(RULES.keys() - PUBLIC))
async def test_every_operation_needs_its_role_and_no_more(by_role, method, path):
    needed = RULES[(method, path)]
    for role, caller in by_role.items():
        kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
        reply = await caller.request(method, concrete(path), **kwargs)
        if role.includes(needed):
            assert reply.status not in (401, 403) and reply.status < 500, (role, reply.body)
        else:
            assert reply.status == 403, (role, reply.status, reply.body)
            assert reply.body["error"]["code"] == "forbidden"
            assert reply.body["error"]["details"]["required_role"] == needed


def test_the_roles_are_the_ones_the_issue_names():
    """Pins the table to the words of the spec: viewer reads, deployer deploys and operates,
    admin manages servers, apps, deletes and tokens."""
    assert {role for (method, _), role in RULES.items() if method == "GET"} == {Role.VIEWER} | {
        RULES[("GET", "/tokens")]
    }
    assert RULES[("GET", "/tokens")] == Role.ADMIN
    for key in [
        ("POST", "/apps/{id}/deploy"),
        ("POST", "/apps/{id}/rollback"),
        ("POST", "/servers/{id}/setup"),
        ("POST", "/services/{server_id}/{service_name}"),
        ("POST", "/versions"),
        ("POST", "/versions/{id}/upload"),
    ]:
        assert RULES[key] == Role.DEPLOYER, key
    for (method, path), role in RULES.items():
        if method == "DELETE" or path.startswith("/tokens"):
            assert role == Role.ADMIN, (method, path)


async def test_the_openapi_document_states_each_operations_role(client):
    async with client.get("/api/docs/openapi.json") as response:
        document = await response.json()
    for (method, path), role in RULES.items():
        operation = document["paths"][path][method.lower()]
        assert operation["x-required-role"] == (role or "none")
        if role not in (Role.VIEWER, None):
            assert "403" in operation["responses"]


async def test_an_expired_token_gets_401(client):
    issued = await tokens.issue_token("old", Role.ADMIN, expires_at=datetime.now(UTC))
    async with client.get(
        "/api/v1/servers", headers={"Authorization": f"Bearer {issued.secret}"}
    ) as response:
        body = await response.json()
    assert response.status == 401
    assert body["error"]["message"] == "The token has expired."


async def test_token_api_shows_the_secret_once_and_never_again(api):
    created = await api.post(
        "/api/v1/tokens", json={"name": "ci", "role": "deployer", "expires_in": "30d"}
    )
    assert created.status == 201
    assert created.headers["Location"] == f"/api/v1/tokens/{created.body['id']}"
    secret = created.body["token"]
    expires = datetime.fromisoformat(created.body["expires_at"])
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)
    listed = await api.get("/api/v1/tokens")
    assert secret not in str(listed.body) and "token_hash" not in str(listed.body)
    assert {t["name"]: t["role"] for t in listed.body["items"]} == {
        "ci": "deployer",
        "test": "admin",
    }

    assert (await api.delete(f"/api/v1/tokens/{created.body['id']}")).status == 204
    assert (await Api(api.client, secret).get("/api/v1/servers")).status == 401
    assert (await ApiToken.get(id=created.body["id"])).revoked_at is not None


async def test_a_bad_token_request_is_a_422(api):
    for body in (
        {"name": "x", "role": "root"},
        {"name": "x", "expires_in": "forever"},
        {"name": "x", "scope_apps": [42]},
    ):
        reply = await api.post("/api/v1/tokens", json=body)
        assert reply.status == 422, body
        assert reply.body["error"]["code"] == "validation_failed"


# Scope ------------------------------------------------------------------------------------


@pytest.fixture
async def two_of_each(api, monkeypatch) -> dict:
    """Servers a and b, app a-app on a and b-app on b, a version and a finished task each."""
    install_fake_ansible(monkeypatch, FakeAnsible())
    made: dict = {}
    for name, host in (("a", "10.0.0.5"), ("b", "10.0.0.6")):
        server = await create_server(api, name=name, host=host)
        app = await api.post(
            "/api/v1/apps",
            json={
                "name": f"{name}-app",
                "server_id": server["id"],
                "remote_path": f"/srv/apps/{name}",
                "service_name": f"{name}-app",
            },
        )
        version = await api.post(
            "/api/v1/versions", json={"app_id": app.body["id"], "version_number": "1.0.0"}
        )
        task = await start_task(api, f"/api/v1/servers/{server['id']}/test-connection")
        await wait_for_task(api, task["id"])
        made[name] = {
            "server": server["id"],
            "app": app.body["id"],
            "version": version.body["id"],
            "task": task["id"],
        }
    return made


def paths_of(ids: dict) -> list[str]:
    return [
        f"/api/v1/servers/{ids['server']}",
        f"/api/v1/apps/{ids['app']}",
        f"/api/v1/apps/{ids['app']}/servers",
        f"/api/v1/versions/{ids['version']}",
        f"/api/v1/tasks/{ids['task']}",
        f"/api/v1/tasks/{ids['task']}/events",
    ]


async def test_a_scoped_token_sees_only_its_apps_and_servers(api, two_of_each):
    a, b = two_of_each["a"], two_of_each["b"]
    scoped = await token_of(api, Role.DEPLOYER, scope_apps=[a["app"]], scope_servers=[a["server"]])

    for path in paths_of(a):
        assert (await scoped.get(path)).status == 200, path
    for path in paths_of(b):
        reply = await scoped.get(path)
        assert reply.status == 404, path
        assert reply.body["error"]["code"] == "not_found"
    # Operations on records outside the scope are 404 too, not 403 and not run.
    assert (await scoped.post(f"/api/v1/servers/{b['server']}/test-connection")).status == 404
    assert (await scoped.post(f"/api/v1/apps/{b['app']}/deploy", json={})).status == 404
    # A body naming an app outside the scope is told it does not exist.
    reply = await scoped.post(
        "/api/v1/versions", json={"app_id": b["app"], "version_number": "2.0.0"}
    )
    assert reply.status == 422 and "app_id" in reply.body["error"]["details"]

    lists = {
        "servers": a["server"],
        "apps": a["app"],
        "versions": a["version"],
        "tasks": a["task"],
    }
    for collection, only in lists.items():
        reply = await scoped.get(f"/api/v1/{collection}")
        assert [item["id"] for item in reply.body["items"]] == [only], collection
    everything = await api.get("/api/v1/servers")
    assert everything.body["total_items"] == 2


async def test_a_scoped_token_hears_only_its_own_over_the_websocket(api, two_of_each):
    a, b = two_of_each["a"], two_of_each["b"]
    scoped = await token_of(api, Role.VIEWER, scope_servers=[a["server"]])
    ws = await api.client.ws_connect("/api/v1/ws", headers=scoped.headers)
    assert (await ws.receive_json(timeout=5))["type"] == "hello"
    await ws.send_json({"type": "subscribe", "topic": "all"})
    assert (await ws.receive_json(timeout=5))["type"] == "subscribed"
    await ws.send_json({"type": "subscribe", "topic": f"task:{b['task']}", "after": 0})
    assert (await ws.receive_json(timeout=5))["type"] == "subscribed"  # and nothing replayed

    for ids in (b, a):  # b's run first: had it been sent, it would arrive first
        task = await start_task(api, f"/api/v1/servers/{ids['server']}/test-connection")
        await wait_for_task(api, task["id"])
    message = await ws.receive_json(timeout=5)
    servers = {message.get("task", {}).get("server_id"), message.get("server", {}).get("id")}
    assert a["server"] in servers and b["server"] not in servers, message
    await ws.close()


async def test_a_task_over_several_servers_is_seen_only_with_all_of_them(api, two_of_each):
    a, b = two_of_each["a"], two_of_each["b"]
    both = [a["server"], b["server"]]
    one = await token_of(api, Role.DEPLOYER, scope_servers=[a["server"]])
    two = await token_of(api, Role.DEPLOYER, scope_servers=both)
    ws = await one.client.ws_connect("/api/v1/ws", headers=one.headers)
    assert (await ws.receive_json(timeout=5))["type"] == "hello"
    await ws.send_json({"type": "subscribe", "topic": f"server:{a['server']}"})
    assert (await ws.receive_json(timeout=5))["type"] == "subscribed"

    refused = await one.post("/api/v1/servers/test-connection", json={"server_ids": both})
    assert refused.status == 422 and "server_ids" in refused.body["error"]["details"]
    task = await start_task(two, "/api/v1/servers/test-connection", json={"server_ids": both})
    await wait_for_task(api, task["id"])
    alone = await start_task(one, f"/api/v1/servers/{a['server']}/test-connection")
    await wait_for_task(api, alone["id"])

    assert (await one.get(f"/api/v1/tasks/{task['id']}")).status == 404
    assert (await one.get(f"/api/v1/tasks/{task['id']}/events")).status == 404
    assert (await two.get(f"/api/v1/tasks/{task['id']}")).status == 200
    listed = await one.get("/api/v1/tasks", params={"server_id": a["server"]})
    assert [item["id"] for item in listed.body["items"]] == [alone["id"], a["task"]]
    listed = await two.get("/api/v1/tasks", params={"server_id": b["server"], "sort": "id"})
    assert [item["id"] for item in listed.body["items"]] == [b["task"], task["id"]]
    while (message := await ws.receive_json(timeout=5)).get("task", {}).get("id") != alone["id"]:
        assert task["id"] not in (message.get("task_id"), message.get("task", {}).get("id"))
    await ws.close()


async def test_a_viewer_may_watch_but_not_act(api, two_of_each):
    viewer = await token_of(api, Role.VIEWER)
    server = two_of_each["a"]["server"]
    assert (await viewer.get(f"/api/v1/servers/{server}")).status == 200
    reply = await viewer.post(f"/api/v1/servers/{server}/setup", json={})
    assert reply.status == 403
    assert (
        reply.body["error"]["message"]
        == "This needs the deployer role; the token's role is viewer."
    )
