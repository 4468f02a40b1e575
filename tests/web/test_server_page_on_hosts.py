"""The server page's services panel against a real host: the unit an app runs as is listed, and
what its Check and Journal buttons ask for (server.js builds `/api/v1/services/ID/UNIT`)
answers with the unit's real state and journal lines, which the page then shows on load."""

import shlex

import pytest

from service.models import App, Deployment, Version
from tests.provisioning.helpers import root_run
from tests.tasks.helpers import create_server
from tests.web.test_sessions import log_in

pytestmark = pytest.mark.hosts

UNIT = "ticker-green.service"
UNIT_FILE = (
    "[Unit]\nDescription=A unit that says tick\n[Service]\n"
    "ExecStart=/bin/sh -c 'while true; do echo tick; sleep 1; done'\n"
)


async def test_the_services_panel_shows_a_real_units_state_and_journal(
    api, client, target_hosts, running_hosts
):
    host = running_hosts[0]
    install = f"printf '%s' {shlex.quote(UNIT_FILE)} > /etc/systemd/system/{UNIT}"
    root_run(target_hosts, host, "sh", "-c", f"{install} && systemctl daemon-reload")
    root_run(target_hosts, host, "systemctl", "start", UNIT)
    try:
        server = await create_server(api, host, target_hosts.private_key, name="panel")
        app = await App.create(
            name="ticker", server_id=server["id"], remote_path="/srv/ticker", service_name="ticker"
        )
        version = await Version.create(app=app, version_number="1.0.0")
        served = {"panel": {"served": {"slot": "green"}}}
        await Deployment.create(app=app, version=version, host_results=served)
        await log_in(client, api.headers["Authorization"].removeprefix("Bearer "))

        page = await (await client.get(f"/servers/{server['id']}")).text()
        assert f'<tr data-unit="{UNIT}">' in page
        assert 'data-unit-action="status"' in page and 'data-unit-action="logs"' in page

        checked = await api.get(f"/api/v1/services/{server['id']}/{UNIT}")
        assert checked.status == 200, checked.body
        assert checked.body["status"]["active_state"] == "active"
        assert checked.body["status"]["sub_state"] == "running"
        known = (await api.get(f"/api/v1/services/{server['id']}")).body["items"]
        assert known[0]["unit"] == UNIT and known[0]["status"]["active_state"] == "active"

        journal = await api.get(
            f"/api/v1/services/{server['id']}/{UNIT}/logs", params={"lines": 1000, "since": "-30s"}
        )
        assert journal.status == 200, journal.body
        assert "tick" in [entry["message"] for entry in journal.body["logs"]["entries"]]
    finally:
        root_run(target_hosts, host, "systemctl", "stop", UNIT)
        root_run(target_hosts, host, "rm", f"/etc/systemd/system/{UNIT}")
        root_run(target_hosts, host, "systemctl", "daemon-reload")
