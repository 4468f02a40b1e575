"""Setup, lockdown and audit of two real hosts as one task each: one playbook over both."""

from dataclasses import replace

import pytest

from tests.provisioning.helpers import finished, finished_ok, ssh
from tests.tasks.helpers import create_server

pytestmark = pytest.mark.hosts


@pytest.fixture
def service_settings(service_settings):
    return replace(service_settings, unreachable_attempts=1)


@pytest.fixture
def two_hosts(target_hosts, running_hosts):
    """The last two hosts, handed back pristine afterwards (both get locked down)."""
    hosts = running_hosts[-2:]
    yield hosts
    for host in hosts:
        target_hosts.reset_host(host)


def host_runs(events: list[dict]) -> dict[str, set[str]]:
    """Each task name of the run, with the hosts it finished on."""
    ran: dict[str, set[str]] = {}
    for item in events:
        event = item["event"]
        if event["event"].startswith("runner_on_") and event.get("task"):
            ran.setdefault(event["task"], set()).add(event["host"])
    return ran


async def all_events(api, task_id: int) -> list[dict]:
    reply = await api.get(f"/api/v1/tasks/{task_id}/events", params={"limit": 5000})
    assert reply.status == 200, reply.body
    return reply.body["items"]


async def test_two_hosts_are_set_up_locked_down_and_audited_by_one_run_each(
    api, target_hosts, two_hosts
):
    servers = [
        await create_server(api, host, target_hosts.private_key, name=f"many-{n}")
        for n, host in enumerate(two_hosts)
    ]
    ids = [server["id"] for server in servers]
    names = {server["name"] for server in servers}

    setup = await finished_ok(
        api, "/api/v1/servers/setup", json={"server_ids": ids, "upgrade": False}
    )
    assert setup["server_ids"] == ids
    assert {entry["outcome"] for entry in setup["result"]["hosts"].values()} == {"ok"}
    assert set(setup["progress"]["hosts"]) == names
    ran = host_runs(await all_events(api, setup["id"]))
    assert ran["APP_USER | Write authorized_keys (exactly the given keys)"] == names

    locked = await finished_ok(api, "/api/v1/servers/security/lockdown", json={"server_ids": ids})
    assert set(locked["result"]["hosts"]) == names
    for server in servers:
        record = (await api.get(f"/api/v1/servers/{server['id']}")).body
        assert (record["setup_complete"], record["security_locked"]) == (True, True)

    audited = await finished_ok(api, "/api/v1/servers/security/audit", json={"server_ids": ids})
    for server in servers:
        latest = (await api.get(f"/api/v1/servers/{server['id']}/security/audit")).body
        assert latest["task_id"] == audited["id"]
        failing = {f["id"] for f in latest["report"]["findings"] if not f["passed"]}
        assert failing <= {"security_updates"}, failing  # setup ran without `upgrade`
        assert audited["result"]["hosts"][server["name"]]["report"] == latest["report"]

    for host in two_hosts:  # proved from outside: root is refused, the app user's key works
        assert ssh(target_hosts, host, "root", "true").returncode == 255
        assert ssh(target_hosts, host, "deploy", "sudo", "-n", "true").returncode == 0


async def test_one_unreachable_host_fails_only_its_own_part(api, target_hosts, running_hosts):
    host = running_hosts[0]
    reachable = await create_server(api, host, target_hosts.private_key, name="up")
    closed = await create_server(api, host, target_hosts.private_key, name="down", port=2)
    ids = [reachable["id"], closed["id"]]

    task = await finished(api, "/api/v1/servers/test-connection", json={"server_ids": ids})

    assert task["status"] == "failed"
    hosts = task["result"]["hosts"]
    assert hosts["up"] == {"server_id": reachable["id"], "outcome": "ok"}
    assert hosts["down"]["outcome"] == "unreachable"
    assert "Connection refused" in hosts["down"]["error"]
    up = (await api.get(f"/api/v1/servers/{reachable['id']}")).body
    down = (await api.get(f"/api/v1/servers/{closed['id']}")).body
    assert (up["last_connection_ok"], down["last_connection_ok"]) == (True, False)
    assert up["facts"]["distribution"] == "Debian" and down["facts"] is None
    assert "Connection refused" in down["last_connection_error"]
