"""Service reads (status, logs) that outlast their wait: 504 with the task to follow."""

import pytest

from service.app import create_app
from service.config import Settings
from service.domain import tokens
from tests.conftest import Api


@pytest.fixture
async def stalled(aiohttp_client, tmp_path):
    """No workers: every task stays queued, so every wait runs out (no host is contacted)."""
    settings = Settings(data_dir=tmp_path / "data", workers=0, service_read_timeout=0.2)
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
