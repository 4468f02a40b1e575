"""Server groups: named sets of servers, and an operation given a group instead of ids."""

from dataclasses import replace

import pytest

from service.config import Settings
from service.models import Role
from tests.api.test_roles import token_of
from tests.unit.helpers import (
    FakeAnsible,
    create_server,
    install_fake_ansible,
    start_task,
    wait_for_task,
)
from tests.unit.test_operations_on_many_servers import hosts_outcome, inventory_hosts

GROUPS = "/api/v1/server-groups"


@pytest.fixture
def settings(settings) -> Settings:
    return replace(settings, retry_backoff=0)


@pytest.fixture
async def servers(api) -> list[dict]:
    return [await create_server(api, f"web-{n}", f"10.0.0.{n}") for n in (1, 2, 3)]


async def test_a_group_is_created_listed_changed_and_deleted_and_its_servers_stay(api, servers):
    ids = [server["id"] for server in servers]
    reply = await api.post(GROUPS, json={"name": "web", "server_ids": [ids[2], ids[0]]})
    assert reply.status == 201, reply.body
    group = reply.body
    assert reply.headers["Location"] == f"{GROUPS}/{group['id']}"
    assert (group["name"], group["description"], group["server_ids"]) == (
        "web",
        "",
        [ids[0], ids[2]],
    )
    await api.post(GROUPS, json={"name": "empty"})

    page = (await api.get(GROUPS, params={"sort": "name"})).body
    assert page["total_items"] == 2
    assert [(g["name"], g["server_ids"]) for g in page["items"]] == [
        ("empty", []),
        ("web", [ids[0], ids[2]]),
    ]
    changed = await api.patch(
        f"{GROUPS}/{group['id']}", json={"description": "front", "server_ids": [ids[1]]}
    )
    assert changed.status == 200, changed.body
    assert (changed.body["description"], changed.body["server_ids"]) == ("front", [ids[1]])
    assert (await api.get(f"{GROUPS}/{group['id']}")).body["server_ids"] == [ids[1]]

    assert (await api.delete(f"{GROUPS}/{group['id']}")).status == 204
    assert (await api.get(f"{GROUPS}/{group['id']}")).status == 404
    assert (await api.get("/api/v1/servers")).body["total_items"] == 3


async def test_a_deleted_server_leaves_its_groups(api, servers):
    ids = [server["id"] for server in servers]
    group = (await api.post(GROUPS, json={"name": "web", "server_ids": ids})).body
    assert (await api.delete(f"/api/v1/servers/{ids[1]}")).status == 204
    assert (await api.get(f"{GROUPS}/{group['id']}")).body["server_ids"] == [ids[0], ids[2]]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"name": "web"}, 409, "name"),
        ({"name": "other", "server_ids": [999]}, 422, "server_ids"),
        ({"name": "other", "server_ids": [1, 1]}, 422, "server_ids"),
        ({"name": "no spaces"}, 422, "name"),
        ({"server_ids": []}, 422, "name"),
    ],
)
async def test_a_bad_group_is_refused_naming_the_field(api, servers, body, status, field):
    await api.post(GROUPS, json={"name": "web"})
    reply = await api.post(GROUPS, json=body)
    assert reply.status == status, reply.body
    assert field in reply.body["error"]["details"]


async def test_an_operation_given_a_group_runs_once_over_its_servers_now(api, servers, monkeypatch):
    names = ("web-1", "web-3")
    fake = install_fake_ansible(monkeypatch, FakeAnsible(outcomes=[hosts_outcome(ok=names)]))
    ids = [server["id"] for server in servers]
    group = (await api.post(GROUPS, json={"name": "web", "server_ids": [ids[1]]})).body
    await api.patch(f"{GROUPS}/{group['id']}", json={"server_ids": [ids[2], ids[0]]})

    started = await start_task(
        api, "/api/v1/servers/test-connection", json={"group_id": group["id"]}
    )
    task = await wait_for_task(api, started["id"])

    assert task["status"] == "successful"
    assert (task["server_id"], task["server_ids"]) == (ids[0], [ids[0], ids[2]])
    assert "group_id" not in task["params"]
    assert len(fake.calls) == 1 and list(inventory_hosts(fake.calls[0].spec.inventory)) == list(
        names
    )


@pytest.mark.parametrize(
    "body",
    [{"group_id": 999}, {"group_id": "empty"}, {"group_id": 1, "server_ids": [1]}, {}],
)
async def test_a_bad_group_selection_is_a_422(api, servers, body, monkeypatch):
    fake = install_fake_ansible(monkeypatch, FakeAnsible(outcomes=[]))
    empty = (await api.post(GROUPS, json={"name": "empty"})).body
    if body.get("group_id") == "empty":
        body = {"group_id": empty["id"]}
    reply = await api.post("/api/v1/servers/setup", json=body)
    assert reply.status == 422, reply.body
    assert {"group_id", "server_ids"} & set(reply.body["error"]["details"])
    assert fake.calls == []


async def test_a_scoped_token_sees_and_uses_only_groups_wholly_in_its_scope(api, servers):
    ids = [server["id"] for server in servers]
    inside = (await api.post(GROUPS, json={"name": "in", "server_ids": ids[:2]})).body
    across = (await api.post(GROUPS, json={"name": "across", "server_ids": ids[1:]})).body
    scoped = await token_of(api, Role.DEPLOYER, scope_servers=ids[:2])

    assert [g["name"] for g in (await scoped.get(GROUPS)).body["items"]] == ["in"]
    assert (await scoped.get(f"{GROUPS}/{inside['id']}")).status == 200
    hidden = await scoped.get(f"{GROUPS}/{across['id']}")
    missing = await api.get(f"{GROUPS}/999")
    assert hidden.status == missing.status == 404
    assert hidden.body["error"]["message"] == f"ServerGroup {across['id']} does not exist."
    refused = await scoped.post("/api/v1/servers/test-connection", json={"group_id": across["id"]})
    assert refused.status == 422
    assert refused.body["error"]["details"] == {
        "group_id": [f"ServerGroup {across['id']} does not exist."]
    }
