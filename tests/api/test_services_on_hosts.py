"""Service reads against a real host: the fast read answers a real unit's state and journal,
runs beside a control action that is still going on the server, and every run leaves the
unit's state for the list (which runs nothing) and sends it as `service.status`."""

import asyncio
import shlex

import pytest

from service.models import App, Deployment, Task, Version
from tests.provisioning.helpers import root_run
from tests.tasks.helpers import create_server, wait_for_task

pytestmark = pytest.mark.hosts

UNIT = "slowstop-green.service"
RELEASE = "/run/slowstop-release"
UNIT_FILE = (
    "[Unit]\nDescription=A unit whose stop waits for a file\n[Service]\n"
    "ExecStart=/bin/sh -c 'while true; do echo tick; sleep 1; done'\n"
    f"ExecStop=/bin/sh -c 'while [ ! -e {RELEASE} ]; do sleep 0.1; done'\n"
)


@pytest.fixture
def slow_stop_unit(target_hosts, running_hosts):
    """A running unit on the first host whose stop lasts until RELEASE exists."""
    host = running_hosts[0]
    install = f"printf '%s' {shlex.quote(UNIT_FILE)} > /etc/systemd/system/{UNIT}"
    root_run(target_hosts, host, "sh", "-c", f"{install} && rm -f {RELEASE}")
    root_run(target_hosts, host, "systemctl", "daemon-reload")
    root_run(target_hosts, host, "systemctl", "start", UNIT)
    yield host
    root_run(target_hosts, host, "touch", RELEASE)
    root_run(target_hosts, host, "systemctl", "stop", UNIT)
    root_run(target_hosts, host, "rm", "-f", f"/etc/systemd/system/{UNIT}", RELEASE)
    root_run(target_hosts, host, "systemctl", "daemon-reload")


async def test_fast_reads_run_beside_a_stop_and_every_run_leaves_the_state_for_the_list(
    api, target_hosts, slow_stop_unit
):
    server = await create_server(api, slow_stop_unit, target_hosts.private_key, name="reads")
    sid = server["id"]
    app = await App.create(
        name="slowstop", server_id=sid, remote_path="/srv/slowstop", service_name="slowstop"
    )
    version = await Version.create(app=app, version_number="1.0.0")
    await Deployment.create(
        app=app, version=version, host_results={"reads": {"served": {"slot": "green"}}}
    )
    unit = f"/api/v1/services/{sid}/{UNIT}"
    async with api.client.ws_connect("/api/v1/ws", headers=api.headers) as ws:
        assert (await ws.receive_json())["type"] == "hello"
        subscribe = {"type": "subscribe", "topic": f"server:{sid}", "types": ["service.status"]}
        await ws.send_json(subscribe)
        assert (await ws.receive_json())["type"] == "subscribed"

        status = await api.get(unit)
        assert status.status == 200, status.body
        assert status.body["status"]["active_state"] == "active"
        assert status.body["status"]["sub_state"] == "running"
        task = await Task.get(id=status.body["task_id"])
        assert task.params["action"] == "status"
        pushed = await ws.receive_json()
        assert pushed["service_name"] == UNIT and pushed["status"] == status.body["status"]

        journal = await api.get(f"{unit}/logs", params={"lines": 50, "since": "-1h"})
        assert journal.status == 200, journal.body
        assert "tick" in [entry["message"] for entry in journal.body["logs"]["entries"]]
        assert journal.body["logs"]["lines"] == 50
        assert (await ws.receive_json())["status"]["active_state"] == "active"

        stop = await api.post(unit, json={"action": "stop"})
        assert stop.status == 202, stop.body
        stop_id = stop.body["task"]["id"]
        await wait_for_task(api, stop_id, statuses={"running"})
        async with asyncio.timeout(120):  # the stop is under way on the host
            while (await api.get(unit)).body["status"]["active_state"] != "deactivating":
                pass
        beside = await api.get(unit)  # a read while the stop still runs on the server
        assert beside.body["status"]["active_state"] == "deactivating"
        assert (await api.get(f"/api/v1/tasks/{stop_id}")).body["status"] == "running"

        root_run(target_hosts, slow_stop_unit, "touch", RELEASE)
        assert (await wait_for_task(api, stop_id))["status"] == "successful"
        async with asyncio.timeout(60):
            while (message := await ws.receive_json())["status"]["active_state"] != "inactive":
                pass
        assert message["service_name"] == UNIT and message["checked_at"]

    runs = await Task.filter(server_id=sid).count()
    listed = (await api.get(f"/api/v1/services/{sid}")).body["items"]
    assert listed == [
        {
            "app_id": app.id,
            "service_name": "slowstop",
            "unit": UNIT,
            "status": message["status"],
            "checked_at": message["checked_at"],
        }
    ]
    assert await Task.filter(server_id=sid).count() == runs  # the list ran nothing

    missing = await api.get(f"/api/v1/services/{sid}/no-such-unit.service")
    assert missing.status == 404, missing.body
    missing_logs = await api.get(f"/api/v1/services/{sid}/no-such-unit.service/logs")
    assert missing_logs.status == 404, missing_logs.body
