"""Service reads (status, logs) that outlast their wait: 504 with the task to follow."""

import pytest

from service.app import create_app
from service.config import Settings
from service.domain import tokens
from tests.conftest import Api


@pytest.fixture
async def stalled(aiohttp_client, data_dir):
    """No workers: every task stays queued, so every wait runs out (no host is contacted)."""
    settings = Settings(data_dir=data_dir, workers=0, service_read_timeout=0.2)
    client = await aiohttp_client(create_app(settings))
    api = Api(client, (await tokens.issue_token("t")).secret)
    server = (await api.post("/api/v1/servers", json={"name": "s", "host": "10.0.0.1"})).body
    return api, server["id"]


@pytest.mark.parametrize("suffix", ["", "/logs"])
async def test_a_service_read_that_times_out_is_504_with_the_task(stalled, suffix):
    api, server_id = stalled
    reply = await api.get(f"/api/v1/services/{server_id}/nginx.service{suffix}")
    assert reply.status == 504, reply.body
    error = reply.body["error"]
    assert error["code"] == "gateway_timeout"
    task_id = error["details"]["task_id"]
    assert reply.headers["Location"] == f"/api/v1/tasks/{task_id}"
    assert error["details"]["links"]["events"] == f"/api/v1/tasks/{task_id}/events"
    task = (await api.get(f"/api/v1/tasks/{task_id}")).body
    assert task["kind"] == "service" and task["status"] == "queued"
    await api.post(f"/api/v1/tasks/{task_id}/cancel")


def test_the_504_is_documented():
    from service.api.openapi import build_openapi
    from service.api.v1 import create_v1_app

    paths = build_openapi(create_v1_app())["paths"]
    for path in (
        "/services/{server_id}/{service_name}",
        "/services/{server_id}/{service_name}/logs",
    ):
        examples = paths[path]["get"]["responses"]["504"]["content"]["application/json"]
        assert "gateway_timeout" in examples["examples"]


async def _deployed(api, server_id: int, slot: str | None) -> dict:
    """An app `shop` on the server, and a deployment that reports which slot nginx serves."""
    from service.models import App, Deployment, Server, Version

    app = await App.create(
        name="shop", server_id=server_id, remote_path="/srv/apps/shop", service_name="shop"
    )
    if slot is not None:
        server = await Server.get(id=server_id)
        version = await Version.create(app=app, version_number="1.0.0")
        served = {"slot": slot, "release_id": "r1", "version": "1.0.0"}
        await Deployment.create(
            app=app, version=version, host_results={server.name: {"served": served}}
        )
    return {"id": app.id}


async def test_an_app_name_acts_on_its_live_slot_unit(stalled):
    api, server_id = stalled
    await _deployed(api, server_id, "green")

    control = await api.post(f"/api/v1/services/{server_id}/shop", json={"action": "restart"})
    listed = await api.get(f"/api/v1/services/{server_id}")
    read = await api.get(f"/api/v1/services/{server_id}/shop")  # 504: no worker runs it

    assert control.status == 202, control.body
    assert control.body["task"]["params"]["service_name"] == "shop-green.service"
    assert listed.body["items"][0]["unit"] == "shop-green.service"
    task = (await api.get(f"/api/v1/tasks/{read.body['error']['details']['task_id']}")).body
    assert task["params"]["service_name"] == "shop-green.service"
    other = await api.post(f"/api/v1/services/{server_id}/nginx", json={"action": "reload"})
    assert other.body["task"]["params"]["service_name"] == "nginx"


async def test_an_app_never_deployed_has_no_live_slot_to_act_on(stalled):
    api, server_id = stalled
    await _deployed(api, server_id, None)

    reply = await api.post(f"/api/v1/services/{server_id}/shop", json={"action": "restart"})
    listed = await api.get(f"/api/v1/services/{server_id}")

    assert reply.status == 404
    assert "shop-blue and shop-green" in reply.body["error"]["message"]
    assert listed.body["items"][0]["unit"] is None
