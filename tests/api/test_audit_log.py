"""The audit log through the real HTTP API: what is recorded, what never is, who may read it."""

import re
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from service.api.access import RULES
from service.api.audit_log import AUDITED_METHODS, action_name
from service.domain import tokens
from service.models import AuditRecord, Role
from service.retention import Purge
from tests.conftest import Api
from tests.unit.helpers import FakeAnsible, install_fake_ansible, wait_for_task

LOG = "/api/v1/audit-log"
WS = "/api/v1/ws"


@pytest.fixture
def fake(monkeypatch) -> FakeAnsible:
    return install_fake_ansible(monkeypatch, FakeAnsible())


async def token_api(api: Api, name: str, role: Role) -> tuple[Api, int]:
    issued = await tokens.issue_token(name, role)
    return Api(api.client, issued.secret), issued.token.id


async def records(api: Api, **filters) -> list[dict]:
    reply = await api.get(LOG, params={"per_page": 100, **filters})
    assert reply.status == 200, reply.body
    return reply.body["items"]


async def last_record(api: Api) -> dict:
    return (await records(api))[0]


def test_every_state_changing_route_has_an_action_name_of_its_own():
    names = {key: action_name(*key) for key in RULES if key[0] in AUDITED_METHODS}

    assert len(set(names.values())) == len(names), names
    assert all(re.fullmatch(r"[a-z_]+\.[a-z_]+", name) for name in names.values())
    assert names[("POST", "/servers")] == "server.create"
    assert names[("PATCH", "/servers/{id}")] == "server.update"
    assert names[("DELETE", "/versions/{id}")] == "version.delete"
    assert names[("POST", "/apps/{id}/deploy")] == "app.deploy"
    assert names[("PUT", "/apps/{id}/servers")] == "app.set_servers"
    assert names[("POST", "/tasks/{id}/cancel")] == "task.cancel"
    assert names[("POST", "/servers/{id}/security/lockdown")] == "server.security_lockdown"
    assert names[("POST", "/services/{server_id}/{service_name}")] == "service.control"


async def test_a_create_is_recorded_with_its_token_route_target_and_fields(api):
    server = {"name": "web-1", "host": "10.0.0.5"}
    reply = await api.post("/api/v1/servers", json=server, headers={"X-Request-ID": "r-1"})
    assert reply.status == 201

    record = await last_record(api)
    me = (await api.get("/api/v1/tokens")).body["items"][0]
    assert record["token_id"] == me["id"]
    assert record["token_name"] == "test"
    assert record["role"] == "admin"
    assert record["method"] == "POST"
    assert record["route"] == "/servers"
    assert record["action"] == "server.create"
    assert (record["target_kind"], record["target_id"]) == ("server", reply.body["id"])
    assert record["status"] == 201
    assert record["request_id"] == "r-1"
    assert record["source"] == "127.0.0.1"
    assert {"name", "host"} <= set(record["changed_fields"])
    assert datetime.fromisoformat(record["at"]) > datetime.now(UTC) - timedelta(minutes=1)


async def test_updates_deletes_and_operations_are_named_from_their_route(api, fake, server):
    server_id = server["id"]
    await api.patch(f"/api/v1/servers/{server_id}", json={"port": 2222})
    task = (await api.post(f"/api/v1/servers/{server_id}/setup", json={})).body["task"]
    await wait_for_task(api, task["id"])
    await api.post(f"/api/v1/tasks/{task['id']}/retry", json={})  # 409: it succeeded
    await api.delete(f"/api/v1/servers/{server_id}")

    seen = [
        (r["action"], r["target_kind"], r["target_id"], r["status"]) for r in await records(api)
    ]
    assert seen[:4] == [
        ("server.delete", "server", server_id, 204),
        ("task.retry", "task", task["id"], 409),
        ("server.setup", "server", server_id, 202),
        ("server.update", "server", server_id, 200),
    ]
    patch = (await records(api, action="server.update"))[0]
    assert patch["changed_fields"] == ["port"]


async def test_reads_are_not_recorded(api, server):
    before = len(await records(api))
    await api.get("/api/v1/servers")
    await api.get(f"/api/v1/servers/{server['id']}")
    assert len(await records(api)) == before


async def test_refusals_are_recorded_with_their_status(api, server):
    await api.post("/api/v1/servers", json={"name": "web-1", "host": "10.0.0.6"})  # 409
    await api.post("/api/v1/servers", json={"name": "bad name"})  # 422
    await api.patch("/api/v1/servers/999", json={"port": 22})  # 404

    seen = [
        (r["action"], r["status"], r["target_id"], r["changed_fields"]) for r in await records(api)
    ]
    assert seen[:3] == [
        ("server.update", 404, 999, ["port"]),
        ("server.create", 422, None, []),
        ("server.create", 409, None, ["app_username", "host", "manual_key_path", "name", "port",
                                      "root_username", "use_ssh_agent"]),
    ]  # fmt: skip


async def test_401_without_a_token_and_403_below_the_role_are_recorded(api, client, server):
    viewer, viewer_id = await token_api(api, "dashboard", Role.VIEWER)

    assert (await client.post("/api/v1/servers", json={"name": "x", "host": "h"})).status == 401
    unknown = {"Authorization": "Bearer pbd_not-a-token"}
    assert (await client.delete(f"/api/v1/servers/{server['id']}", headers=unknown)).status == 401
    assert (await viewer.post(f"/api/v1/servers/{server['id']}/setup", json={})).status == 403

    forbidden, unknown_token, anonymous = (await records(api))[:3]
    assert forbidden["status"] == 403
    assert (forbidden["token_id"], forbidden["token_name"], forbidden["role"]) == (
        viewer_id, "dashboard", "viewer",
    )  # fmt: skip
    assert (forbidden["action"], forbidden["target_id"]) == ("server.setup", server["id"])
    for record in (unknown_token, anonymous):
        assert record["status"] == 401
        assert (record["token_id"], record["token_name"], record["role"]) == (None, None, None)
    assert (unknown_token["action"], unknown_token["target_id"]) == ("server.delete", server["id"])
    assert anonymous["action"] == "server.create"


async def test_websocket_logins_are_recorded(api, client):
    viewer, viewer_id = await token_api(api, "screen", Role.VIEWER)
    ws = await client.ws_connect(WS, headers=viewer.headers)
    assert (await ws.receive_json(timeout=5))["type"] == "hello"
    await ws.close()
    refused = await client.ws_connect(WS, headers={"Authorization": "Bearer pbd_wrong"})
    await refused.receive(timeout=5)  # closed with 1008

    wrong, login = await records(api, action="ws.login")
    assert (login["status"], login["token_id"], login["method"], login["route"]) == (
        101, viewer_id, "GET", "/ws",
    )  # fmt: skip
    assert (wrong["status"], wrong["token_id"]) == (401, None)


async def test_no_secret_and_no_body_value_is_stored(api, settings):
    reply = await api.post("/api/v1/tokens", json={"name": "ci", "role": "deployer"})
    secret = reply.body["token"]
    refused = await api.post(
        "/api/v1/servers",
        json={"name": "db-1", "host": "10.0.0.7", "password": "hunter2-s3cr3t-value"},
    )
    assert refused.status == 422
    await api.post(
        "/api/v1/servers",
        json={"name": "db-2", "host": "10.0.0.8", "manual_key_path": "/keys/very-private-key"},
    )

    database = settings.sqlite_path
    stored = b"".join(path.read_bytes() for path in database.parent.glob(database.name + "*"))
    assert secret.encode() not in stored
    assert b"hunter2-s3cr3t-value" not in stored
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT * FROM audit_log").fetchall()
    dumped = repr(rows)
    assert "very-private-key" not in dumped and "10.0.0.8" not in dumped
    assert secret not in dumped and secret[:10] not in dumped
    assert "manual_key_path" in dumped  # the field's name is kept


async def test_filters_by_token_target_action_outcome_and_time(api, server):
    deployer, deployer_id = await token_api(api, "ci", Role.DEPLOYER)
    other = (await api.post("/api/v1/servers", json={"name": "web-2", "host": "10.0.0.9"})).body
    await deployer.post(f"/api/v1/servers/{other['id']}/setup", json={"upgrade": "no"})  # 422
    await deployer.delete(f"/api/v1/servers/{server['id']}")  # 403

    assert {r["status"] for r in await records(api, token_id=deployer_id)} == {403, 422}
    on_other = await records(api, target_kind="server", target_id=other["id"])
    assert [r["action"] for r in on_other] == ["server.setup", "server.create"]
    assert [r["target_id"] for r in await records(api, action="server.delete")] == [server["id"]]
    assert [r["action"] for r in await records(api, status=422)] == ["server.setup"]
    now = datetime.now(UTC)
    assert len(await records(api, until=(now - timedelta(hours=1)).isoformat())) == 0
    assert len(await records(api, since=(now - timedelta(hours=1)).isoformat())) == 4
    assert len(await records(api, since=(now + timedelta(hours=1)).isoformat())) == 0
    assert (await api.get(LOG, params={"status": 42})).status == 422
    assert (await api.get(LOG, params={"since": "yesterday"})).status == 422


async def test_pages_newest_first(api):
    for i in range(5):
        await api.post("/api/v1/servers", json={"name": f"web-{i}", "host": f"10.0.1.{i}"})
    first = (await api.get(LOG, params={"per_page": 2})).body
    second = (await api.get(LOG, params={"per_page": 2, "page": 2})).body
    oldest = (await api.get(LOG, params={"per_page": 2, "sort": "id"})).body

    assert (first["total_items"], first["total_pages"]) == (5, 3)
    ids = [r["id"] for r in first["items"] + second["items"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 4
    assert oldest["items"][0]["id"] == min(ids) - 1


async def test_only_admins_read_it_and_nobody_changes_it(api):
    await api.post("/api/v1/servers", json={"name": "web-1", "host": "10.0.0.5"})
    for role in (Role.VIEWER, Role.DEPLOYER):
        other, _ = await token_api(api, f"t-{role}", role)
        reply = await other.get(LOG)
        assert (reply.status, reply.body["error"]["code"]) == (403, "forbidden")
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        reply = await api.request(method, LOG, json={})
        assert (reply.status, reply.body["error"]["code"]) == (405, "method_not_allowed")
        assert reply.headers["Allow"] == "GET,HEAD"
    record_id = (await last_record(api))["id"]
    for method in ("PATCH", "DELETE", "PUT"):
        assert (await api.request(method, f"{LOG}/{record_id}", json={})).status == 404
    assert len(await records(api)) == 1  # none of these touched it (405 and 404 are not kept)


async def test_tasks_and_deployments_name_who_asked_for_them(api, fake, server, settings):
    deployer, deployer_id = await token_api(api, "ci", Role.DEPLOYER)
    ws = await api.client.ws_connect(WS, headers=api.headers)
    assert (await ws.receive_json(timeout=5))["type"] == "hello"
    await ws.send_json({"type": "subscribe", "topic": "all"})
    assert (await ws.receive_json(timeout=5))["type"] == "subscribed"

    task = (await deployer.post(f"/api/v1/servers/{server['id']}/test-connection")).body["task"]
    queued = await ws.receive_json(timeout=5)
    await ws.close()
    await tokens.revoke_token(deployer_id, settings.data_dir)

    assert (task["created_by"], task["actor"]) == (deployer_id, "ci")
    assert queued["type"] == "task.status"
    assert (queued["task"]["created_by"], queued["task"]["actor"]) == (deployer_id, "ci")
    listed = (await api.get("/api/v1/tasks")).body["items"][0]
    assert (listed["created_by"], listed["actor"]) == (deployer_id, "ci")  # revoked: still named


async def test_a_scoped_admin_sees_only_what_was_done_to_its_servers_and_apps(api, server):
    other = (await api.post("/api/v1/servers", json={"name": "web-2", "host": "10.0.0.9"})).body
    await api.patch(f"/api/v1/servers/{server['id']}", json={"port": 2222})
    await api.patch(f"/api/v1/servers/{other['id']}", json={"port": 2222})
    issued = await tokens.issue_token("ops-web-1", Role.ADMIN, servers=[server["id"]], apps=[])
    scoped = Api(api.client, issued.secret)

    seen = {(r["target_kind"], r["target_id"]) for r in await records(scoped)}

    assert seen == {("server", server["id"])}
    assert len(await records(api)) == 4


async def test_records_older_than_the_retention_setting_are_purged(api, settings):
    for i in range(3):
        await api.post("/api/v1/servers", json={"name": f"web-{i}", "host": f"10.0.2.{i}"})
    oldest, middle, newest = [r["id"] for r in await records(api, sort="id")]
    now = datetime.now(UTC)
    await AuditRecord.filter(id=oldest).update(at=now - timedelta(days=400))
    await AuditRecord.filter(id=middle).update(at=now - timedelta(days=300))

    assert await Purge(settings, now).run() == {"audit_log": 1}
    assert [r["id"] for r in await records(api, sort="id")] == [middle, newest]
    assert await Purge(replace(settings, audit_log_retention_days=0), now).run() == {}
