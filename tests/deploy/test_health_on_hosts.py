"""App health on a real host: a stopped unit is `down` within the interval, `running` again
once started; the restart endpoint and the restart_on_down policy bring it back."""

import asyncio
import time

import pytest

from tests.deploy.test_deploy_api_on_hosts import deploy, upload
from tests.deploy.test_environment_on_hosts import app_environment, on_host
from tests.tasks.helpers import create_server, wait_for_task

pytestmark = pytest.mark.hosts
INTERVAL = 5
FAILURES = 3
"""The default `health_failures`: a host is down after this many failed checks in a row."""
SLACK = 5
"""Seconds allowed past the checks themselves (timeouts, the loop's round)."""


async def health_becomes(api, app_id: int, status: str, within: float) -> float:
    """Seconds until the app's health_status is `status` (fails after `within`)."""
    started = time.monotonic()
    while True:
        app = (await api.get(f"/api/v1/apps/{app_id}")).body
        if app["health_status"] == status:
            return time.monotonic() - started
        assert time.monotonic() - started < within, f"still {app['health_status']}, not {status}"
        await asyncio.sleep(0.2)


async def test_a_stopped_unit_is_down_and_a_started_one_running(
    api, target_hosts, app_host, tmp_path
):
    server = await create_server(api, app_host, target_hosts.private_key, name="app-host")
    setup = await api.post(f"/api/v1/servers/{server['id']}/setup")
    assert (await wait_for_task(api, setup.body["task"]["id"], timeout=600))["status"] == (
        "successful"
    )
    app = {"name": "shop", "server_id": server["id"], "remote_path": "/srv/apps/shop",
           "service_name": "shop", "health_interval": INTERVAL}  # fmt: skip
    shop = (await api.post("/api/v1/apps", json=app)).body
    v1 = await upload(api, shop["id"], "1.0.0", tmp_path)
    first = await deploy(api, shop["id"], v1["id"])
    assert first["deployment"]["status"] == "completed", first
    unit = f"shop-{first['deployment']['host_results']['app-host']['slot']}.service"
    await health_becomes(api, shop["id"], "running", within=INTERVAL + SLACK)

    on_host(target_hosts, app_host, f"systemctl stop {unit}")
    took = await health_becomes(api, shop["id"], "down", within=FAILURES * INTERVAL + SLACK)
    print(f"\nstopped unit -> down in {took:.1f} s ({FAILURES} checks at {INTERVAL} s)")
    health = (await api.get(f"/api/v1/apps/{shop['id']}/health")).body
    [host] = health["hosts"]
    assert host["state"] == "down" and host["error"] == "HTTP 502", host  # nginx, no upstream
    assert len(host["recent_failures"]) >= FAILURES

    on_host(target_hosts, app_host, f"systemctl start {unit}")
    took = await health_becomes(api, shop["id"], "running", within=INTERVAL + SLACK)
    print(f"started unit -> running in {took:.1f} s")
    health = (await api.get(f"/api/v1/apps/{shop['id']}/health")).body
    assert 0 < health["uptime_24h"] < 100 and health["hosts"][0]["state"] == "up"

    # The restart applies a changed environment to the live slot, health-gated.
    env = {"variables": [{"name": "GREETING", "value": "after-restart"}]}
    assert (await api.put(f"/api/v1/apps/{shop['id']}/env", json=env)).status == 200
    assert "GREETING" not in app_environment(target_hosts, app_host, unit)
    reply = await api.post(f"/api/v1/apps/{shop['id']}/restart")
    assert reply.status == 202, reply.body
    restart = await wait_for_task(api, reply.body["task"]["id"], timeout=300)
    assert restart["status"] == "successful", restart
    report = restart["result"]["hosts"]["app-host"]
    assert (report["status"], report["health"]["ok"]) == ("restarted", True)
    assert app_environment(target_hosts, app_host, unit)["GREETING"] == "after-restart"

    # The policy: a unit that dies is restarted once by the service itself.
    policy = await api.patch(f"/api/v1/apps/{shop['id']}", json={"restart_on_down": True})
    assert policy.status == 200
    on_host(target_hosts, app_host, f"systemctl stop {unit}")
    await health_becomes(api, shop["id"], "down", within=FAILURES * INTERVAL + SLACK)
    took = await health_becomes(api, shop["id"], "running", within=120)
    print(f"down -> restarted by the policy -> running in {took:.1f} s")
    tasks = (await api.get(f"/api/v1/tasks?kind=restart&app_id={shop['id']}")).body["items"]
    by_service = [task for task in tasks if task["actor"] is None]
    assert len(by_service) == 1, tasks
    # The app answers as soon as its unit is back; the task ends after its own health gate.
    finished = await wait_for_task(api, by_service[0]["id"], timeout=300)
    assert finished["status"] == "successful", finished
