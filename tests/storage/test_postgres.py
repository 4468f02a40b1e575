"""The same model code, migrations and API on PostgreSQL (a server the test starts itself)."""

import pytest

from service.app import create_app
from service.config import Settings
from service.domain import tokens
from service.models import Task, TaskKind
from tests.conftest import Api
from tests.storage.postgres import postgres_server


@pytest.fixture(scope="module")
def postgres_url():
    with postgres_server() as url:
        yield url


async def test_the_api_on_postgresql(aiohttp_client, tmp_path, postgres_url):
    settings = Settings(data_dir=tmp_path, database_url=postgres_url, workers=1)
    api = Api(await aiohttp_client(create_app(settings)), "")
    api.headers = {"Authorization": f"Bearer {(await tokens.issue_token('pg')).secret}"}

    servers = []
    for index in range(25):
        reply = await api.post(
            "/api/v1/servers", json={"name": f"pg-{index:02d}", "host": "10.0.0.1"}
        )
        assert reply.status == 201, reply.body
        servers.append(reply.body)
    page = await api.get("/api/v1/servers", params={"per_page": 10, "page": 3, "sort": "-name"})
    assert page.body["total_items"] == 25 and page.body["total_pages"] == 3
    assert [s["name"] for s in page.body["items"]] == [f"pg-{i:02d}" for i in range(4, -1, -1)]
    assert (await api.get("/api/v1/servers", params={"q": "PG-1"})).body["total_items"] == 10
    assert (
        await api.post("/api/v1/servers", json={"name": "pg-00", "host": "10.0.0.1"})
    ).status == 409

    app = (await api.post("/api/v1/apps", json={"name": "shop", "server_id": servers[0]["id"],
           "remote_path": "/srv/shop", "service_name": "shop"})).body  # fmt: skip
    put = await api.put(
        f"/api/v1/apps/{app['id']}/servers", json={"server_ids": [servers[1]["id"]]}
    )
    assert put.body["server_ids"] == [servers[0]["id"], servers[1]["id"]]
    version = await api.post(
        "/api/v1/versions", json={"app_id": app["id"], "version_number": "1.0.0"}
    )
    assert version.status == 201

    third = servers[2]["id"]
    params = {"nested": {"list": [1, 2]}}
    task = await Task.create(
        kind=TaskKind.AUDIT, server_id=third, server_ids=[third], params=params, status="failed"
    )
    listed = await api.get("/api/v1/tasks", params={"server_id": third})
    assert listed.body["items"][0]["params"] == params
    assert listed.body["items"][0]["id"] == task.id

    assert (await api.delete(f"/api/v1/servers/{servers[0]['id']}")).status == 409
    assert (
        await api.delete(f"/api/v1/servers/{servers[0]['id']}", params={"cascade": "true"})
    ).status == 204
    assert (await api.get(f"/api/v1/apps/{app['id']}")).status == 404
    assert (await api.get(f"/api/v1/versions/{version.body['id']}")).status == 404
    health = await api.get("/api/v1/health")
    assert health.body["components"]["database"]["ok"] is True
