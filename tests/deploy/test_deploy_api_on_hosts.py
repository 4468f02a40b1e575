"""Shipping an app through the API on a real host: upload, deploy, switch, fail, roll back."""

import asyncio

import pytest

from tests.http_probe import Poller, get
from tests.roles.fixtures import build_zip
from tests.tasks.helpers import create_server, wait_for_task

pytestmark = pytest.mark.hosts
ZIP = {"Content-Type": "application/zip"}


async def upload(api, app_id: int, version: str, tmp_path, *, broken: bool = False) -> dict:
    record = (
        await api.post("/api/v1/versions", json={"app_id": app_id, "version_number": version})
    ).body
    data = build_zip(version, broken=broken, directory=tmp_path).read_bytes()
    reply = await api.post(f"/api/v1/versions/{record['id']}/upload", data=data, headers=ZIP)
    assert reply.status == 201, reply.body
    return record


async def deploy(api, app_id: int, version_id: int, path: str = "deploy") -> dict:
    reply = await api.post(f"/api/v1/apps/{app_id}/{path}", json={"version_id": version_id})
    assert reply.status == 202, reply.body
    await wait_for_task(api, reply.body["task"]["id"], timeout=600)
    return (await api.get(f"/api/v1/deployments/{reply.body['deployment']['id']}/status")).body


async def serves(host) -> str:
    status, body = await asyncio.to_thread(get, host)
    assert status == 200, body
    return body


async def test_upload_deploy_switch_fail_rollback(api, target_hosts, app_host, tmp_path):
    server = await create_server(api, app_host, target_hosts.private_key, name="app-host")
    setup = await api.post(f"/api/v1/servers/{server['id']}/setup")
    assert (await wait_for_task(api, setup.body["task"]["id"], timeout=600))[
        "status"
    ] == "successful"
    app = {"name": "shop", "server_id": server["id"], "remote_path": "/srv/apps/shop",
           "service_name": "shop"}  # fmt: skip
    shop = (await api.post("/api/v1/apps", json=app)).body

    v1 = await upload(api, shop["id"], "1.0.0", tmp_path)
    first = await deploy(api, shop["id"], v1["id"])
    assert first["deployment"]["status"] == "completed", first
    assert first["deployment"]["host_results"]["app-host"]["status"] == "deployed"
    assert await serves(app_host) == "version 1.0.0"
    assert first["logs"], "the deployment's console log is kept"

    # v2 goes live with no failed request while a visitor polls all along.
    v2 = await upload(api, shop["id"], "2.0.0", tmp_path)
    poller = Poller(app_host)
    poller.start()
    try:
        second = await deploy(api, shop["id"], v2["id"])
        await asyncio.sleep(0.5)
    finally:
        await asyncio.to_thread(poller.stop)
    assert second["deployment"]["status"] == "completed", second
    assert poller.failures == []
    assert set(poller.answers) <= {"version 1.0.0", "version 2.0.0"}
    assert await serves(app_host) == "version 2.0.0"

    # The app's service is its live slot: read and listed by the app's name.
    slot = second["deployment"]["host_results"]["app-host"]["slot"]
    status = await api.get(f"/api/v1/services/{server['id']}/shop")
    assert status.status == 200, status.body
    assert status.body["unit"] == f"shop-{slot}.service"
    assert status.body["status"]["active_state"] == "active"
    listed = (await api.get(f"/api/v1/services/{server['id']}")).body["items"]
    assert [(item["service_name"], item["unit"]) for item in listed] == [
        ("shop", f"shop-{slot}.service")
    ]

    # A broken v3 fails its health check: the deployment fails, v2 keeps serving.
    v3 = await upload(api, shop["id"], "3.0.0", tmp_path, broken=True)
    third = await deploy(api, shop["id"], v3["id"])
    assert third["deployment"]["status"] == "failed"
    assert third["deployment"]["error"]
    assert await serves(app_host) == "version 2.0.0"
    app = (await api.get(f"/api/v1/apps/{shop['id']}")).body
    assert (app["status"], app["current_version"]) == ("running", "2.0.0")

    # Manual rollback to v1, then to the previous release (v2) without naming it.
    back = await deploy(api, shop["id"], v1["id"], path="rollback")
    assert back["deployment"]["status"] == "completed", back
    assert await serves(app_host) == "version 1.0.0"
    reply = await api.post(f"/api/v1/apps/{shop['id']}/rollback", json={})
    assert reply.status == 202, reply.body
    await wait_for_task(api, reply.body["task"]["id"], timeout=600)
    assert await serves(app_host) == "version 2.0.0"
    assert (await api.get(f"/api/v1/apps/{shop['id']}")).body["current_version"] == "2.0.0"

    # A deploy cancelled mid-run leaves exactly one complete release live.
    v4 = await upload(api, shop["id"], "4.0.0", tmp_path)
    reply = await api.post(f"/api/v1/apps/{shop['id']}/deploy", json={"version_id": v4["id"]})
    task_id = reply.body["task"]["id"]
    for _ in range(600):
        events = (await api.get(f"/api/v1/tasks/{task_id}/events")).body["items"]
        if sum(e["event"]["event"] == "runner_on_ok" for e in events) >= 3:
            break
        await asyncio.sleep(0.1)
    cancel = await api.post(f"/api/v1/deployments/{reply.body['deployment']['id']}/cancel")
    assert cancel.status == 202
    assert (await wait_for_task(api, task_id))["status"] == "cancelled"
    assert await serves(app_host) in {"version 2.0.0", "version 4.0.0"}
    ssh = [*target_hosts.ssh_args(app_host), "cat /srv/apps/shop/current/REVISION"]
    revision = await asyncio.create_subprocess_exec(*ssh, stdout=asyncio.subprocess.PIPE)
    out, _ = await revision.communicate()
    assert revision.returncode == 0 and b"version=" in out
